//! Profile images (issue 13): `POST`, `DELETE` and `GET /users/{user_id}/image`, after
//! /work/shared/docs/mattermost-members-and-ops.md §3 (MM `api4/user.go` `setProfileImage`,
//! `setDefaultProfileImage`, `getProfileImage`; `app/user.go` `SetProfileImageFromFile`;
//! the formats of `app/imaging/decode.go`).
//!
//! Simplifications:
//! - The server centre-crops the upload to 128×128 and stores it as PNG; the sandbox checks
//!   the format (gif, jpeg, png, bmp, tiff, webp, from the magic bytes) and the dimensions
//!   its header states ([`crate::image::sniff`]), then stores the bytes as uploaded. A
//!   header the sandbox cannot read is the 400 `…decode.app_error`; pixels are never
//!   decoded. "Identical processed bytes are a no-op" is therefore "identical uploaded
//!   bytes"; `GET` answers the stored bytes with their own content type.
//! - The default picture (never set or reset) is one fixed 1×1 PNG, not the initials.
//! - A file store is always configured (no 501); `FileSettings.MaxFileSize` is 100 MiB
//!   as on the server, but the sandbox's HTTP layer refuses any body over
//!   [`crate::http::MAX_BODY`] (32 MiB) with a plain-text 413 before the handler runs.
//! - No LDAP picture attribute is mapped, so the 409 never happens.

use super::{AppErr, Ctx, HandlerResult, Mattermost, Out};
use crate::image::{self, SniffError};
use crate::{multipart, util};

/// `FileSettings.MaxFileSize` default.
const MAX_FILE_SIZE: u64 = 104_857_600;
/// `FileSettings.MaxImageResolution` default (7680×4320).
const MAX_IMAGE_RESOLUTION: u64 = 33_177_600;

fn upload_err(what: &str, status: u16) -> AppErr {
    AppErr::new(
        &format!("api.user.upload_profile_user.{what}.app_error"),
        status,
    )
}

/// `POST /users/{user_id}/image`, multipart field `image` (the check order of §3).
pub(crate) fn set(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&user_id) {
        return Err(AppErr::permission());
    }
    let length = ctx
        .req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(ctx.req.body.len() as u64);
    if length > MAX_FILE_SIZE {
        return Err(upload_err("too_large", 413));
    }
    let ct = ctx.req.header("content-type").unwrap_or("");
    let parts = multipart::boundary(ct)
        .ok_or(())
        .and_then(|b| multipart::parse(&ctx.req.body, &b).map_err(|_| ()))
        .map_err(|_| upload_err("parse", 500))?;
    // The first file of the `image` field.
    let Some(file) = parts
        .into_iter()
        .find(|p| p.name == "image" && p.filename.is_some())
    else {
        return Err(upload_err("no_file", 400));
    };
    if file.data.is_empty() {
        return Err(upload_err("array", 400));
    }
    let Some(user) = mm.read().get(&user_id).cloned() else {
        return Err(AppErr::invalid_url("user_id"));
    };
    match image::sniff(&file.data) {
        Ok(h) if h.width.saturating_mul(h.height) > MAX_IMAGE_RESOLUTION => {
            return Err(upload_err("check_image_limits", 400));
        }
        Ok(_) => {}
        Err(SniffError::UnknownFormat | SniffError::BadHeader(_)) => {
            return Err(upload_err("decode", 400));
        }
    }
    let mut st = mm.write();
    if st.images.get(&user.id) == Some(&file.data) {
        // Same bytes as stored: nothing written, last_picture_update unchanged.
        return Ok(Out::status_ok());
    }
    let now = util::now_ms();
    st.images.insert(user.id.clone(), file.data);
    if let Some(mut u) = st.get(&user.id).cloned() {
        u.last_picture_update = now;
        u.update_at = now;
        st.replace(u);
    }
    Ok(Out::status_ok())
}

/// `DELETE /users/{user_id}/image`: back to the default, `last_picture_update = -now`.
pub(crate) fn reset(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&user_id) {
        return Err(AppErr::permission());
    }
    let mut st = mm.write();
    let Some(mut u) = st.get(&user_id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    st.images.remove(&user_id);
    u.last_picture_update = -util::now_ms();
    st.replace(u);
    Ok(Out::status_ok())
}

/// `GET /users/{user_id}/image`: ETag = `last_picture_update`, 304 on a matching
/// `If-None-Match`.
pub(crate) fn get(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    let st = mm.read();
    let Some(u) = st.get(&user_id) else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    let (body, content_type) = match st.images.get(&user_id) {
        Some(b) => (
            b.clone(),
            image::sniff(b)
                .map(|h| h.format.mime())
                .unwrap_or("image/png"),
        ),
        None => (image::DEFAULT_PNG.to_vec(), "image/png"),
    };
    if u.last_picture_update == 0 {
        // Never set: the default, briefly cached, without an ETag.
        return Ok(Out {
            status: 200,
            body,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Cache-Control".into(), "max-age=300, private".into()),
            ],
        });
    }
    let etag = u.last_picture_update.to_string();
    if ctx.req.header("if-none-match") == Some(etag.as_str()) {
        return Ok(Out {
            status: 304,
            body: Vec::new(),
            headers: vec![("ETag".into(), etag)],
        });
    }
    Ok(Out {
        status: 200,
        body,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("Cache-Control".into(), "max-age=86400, private".into()),
            ("ETag".into(), etag),
        ],
    })
}
