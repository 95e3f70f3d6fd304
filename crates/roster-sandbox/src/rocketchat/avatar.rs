//! Avatars (issue 13): users.setAvatar, users.resetAvatar, users.getAvatar and the
//! `/avatar/<username>` route they point to, after
//! /work/shared/docs/rocketchat-members-and-ops.md §3 (`apps/meteor/server/api/v1/users.ts`
//! `users.setAvatar` / `users.resetAvatar` / `users.getAvatar`;
//! `server/lib/users/setUserAvatar.ts`; `server/api/lib/getUploadFormData.ts`;
//! `meteor-methods/users/resetAvatar.ts`).
//!
//! Simplifications:
//! - `avatarUrl`: the sandbox never reaches the network. It fetches only `http://127.0.0.1`
//!   and `http://localhost` URLs (so a test can serve an image); any other URL is answered
//!   as a failed fetch: `Invalid avatar URL: <url> [error-avatar-invalid-url]`.
//! - Uploads are stored as sent (the server's file store does not check the type either);
//!   `avatarETag` is a new random id, set at once (the server sets it ~500 ms after the
//!   200).
//! - `Accounts_AllowUserAvatarChange` is on (the default); `FileUpload_MaxFileSize` is
//!   104857600 (the default), but the HTTP layer refuses bodies over
//!   [`crate::http::MAX_BODY`] first.
//! - users.getAvatar needs a login, as in 8.x (6.x did not); its `Location` is built from
//!   the request's `Host` (the sandbox has no `Site_Url`).
//! - `GET /avatar/<username>` (`apps/meteor/server/routes/avatar/user.ts`) serves the
//!   stored image with its sniffed type, else a generated SVG of the initial; it never
//!   asks for a login (`Accounts_AvatarBlockUnauthenticatedAccess` off, the default), nor
//!   honours `size`, `format` or an external avatar provider.
//! - The texts of the multipart failures are unconfirmed (§13 of the sheet): a file part
//!   not named `image` → `[invalid-field]`, no file → `[No file uploaded]`, too large →
//!   `[error-file-too-large]`, all as Meteor errors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use super::ajv::{self, Obj, Type, nullable};
use super::store::RcUser;
use super::{Ctx, RocketChat};
use crate::http::Response;
use crate::{multipart, util};

/// `FileUpload_MaxFileSize` default.
const MAX_FILE_SIZE: usize = 104_857_600;

fn param(ctx: &Ctx, k: &str) -> Option<String> {
    ctx.params
        .get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn invalid_user() -> Response {
    RocketChat::meteor_error(
        "error-invalid-user",
        "The required \"userId\" or \"username\" param provided does not match any users",
        None,
    )
}

/// `getUserFromParams` (case-insensitive username).
pub(super) fn user_from_params(rc: &RocketChat, ctx: &Ctx) -> Result<RcUser, Response> {
    let st = rc.read();
    let user = if let Some(id) = param(ctx, "userId") {
        st.get(&id)
    } else if let Some(name) = param(ctx, "username").or_else(|| param(ctx, "user")) {
        st.by_username(&name)
    } else {
        return Err(RocketChat::meteor_error(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        ));
    };
    user.cloned().ok_or_else(invalid_user)
}

/// A fetched URL: status, content type, body. Err = the fetch threw.
fn fetch_local(url: &str) -> Result<(u16, String, Vec<u8>), ()> {
    let rest = url.strip_prefix("http://").ok_or(())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host != "127.0.0.1" && host != "localhost" {
        return Err(());
    }
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = addr.replacen("localhost", "127.0.0.1", 1);
    let sock: std::net::SocketAddr = addr.parse().map_err(|_| ())?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).map_err(|_| ())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|_| ())?;
    let mut raw = Vec::new();
    s.take(crate::http::MAX_BODY as u64 + 65536)
        .read_to_end(&mut raw)
        .map_err(|_| ())?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or(())?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or(())?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    Ok((status, content_type, body))
}

fn store_avatar(rc: &RocketChat, uid: &str, bytes: Vec<u8>, origin: &str) {
    let etag = rc.ids.meteor_id();
    let mut st = rc.write();
    st.avatars.insert(uid.to_string(), bytes);
    st.update(uid, |u| {
        u.avatar_origin = Some(origin.to_string());
        u.avatar_etag = Some(etag);
    });
}

/// `setUserAvatar(user, url, '', 'url')`.
fn set_from_url(rc: &RocketChat, user: &RcUser, url: &str) -> Response {
    let invalid = || {
        RocketChat::meteor_error(
            "error-avatar-invalid-url",
            &format!("Invalid avatar URL: {}", util::html_escape(url)),
            Some(json!({"function": "setUserAvatar", "url": url})),
        )
    };
    let Ok((status, content_type, body)) = fetch_local(url) else {
        return invalid();
    };
    if status == 404 {
        return invalid();
    }
    if status != 200 {
        return RocketChat::meteor_error(
            "error-avatar-url-handling",
            &format!(
                "Error while handling avatar setting from a URL ({}) for {}",
                util::html_escape(url),
                user.username
            ),
            Some(
                json!({"function": "RocketChat.setUserAvatar", "url": url, "username": user.username}),
            ),
        );
    }
    let ct = content_type.to_ascii_lowercase();
    let image = ct.starts_with("image/")
        || ct.contains("tiff")
        || ct.contains("x-motion-jpeg")
        || ct.contains("avs-video")
        || ct.contains("pic");
    if !image {
        return invalid();
    }
    store_avatar(rc, &user.id, body, "url");
    RocketChat::success(json!({}))
}

/// `isUserSetAvatarParamsPOST` (rest-typings 8.8.1 `v1/users/UsersSetAvatarParamsPOST`).
fn set_avatar_schema() -> Obj {
    Obj {
        props: vec![
            nullable("avatarUrl", Type::String),
            nullable("userId", Type::String),
            nullable("username", Type::String),
        ],
        required: vec![],
        additional: false,
    }
}

/// POST users.setAvatar: JSON `{avatarUrl, userId?, username?}` or multipart `image`.
pub(super) fn set_avatar(rc: &RocketChat, ctx: &Ctx) -> Response {
    let can_edit_others = ctx.caller.can("edit-other-user-avatar");
    let ct = ctx.req.header("content-type").unwrap_or("").to_string();
    let boundary = multipart::boundary(&ct);
    // A multipart body is not parsed into bodyParams: the JSON keys only exist for JSON.
    let json_params = boundary.is_none();
    // `validateParams` on bodyParams ({} for an upload, which always passes).
    if json_params {
        let mut checked = ctx.params.clone();
        if let Err(m) = ajv::validate(&set_avatar_schema(), &mut checked) {
            return RocketChat::invalid_params(&m);
        }
    }
    let names_other = json_params
        && ["userId", "username", "user"].iter().any(|k| {
            param(ctx, k).is_some_and(|v| {
                v != ctx.caller.user.id && !v.eq_ignore_ascii_case(&ctx.caller.user.username)
            })
        });
    let mut user = if !names_other {
        ctx.caller.user.clone()
    } else if can_edit_others {
        match user_from_params(rc, ctx) {
            Ok(u) => u,
            Err(r) => return r,
        }
    } else {
        return Response::json(403, &json!({"success": false, "error": "unauthorized"}));
    };
    if json_params && let Some(url) = param(ctx, "avatarUrl") {
        return set_from_url(rc, &user, &url);
    }
    let Some(boundary) = boundary else {
        return RocketChat::failure("The 'image' param is required");
    };
    if ctx.req.body.len() > MAX_FILE_SIZE {
        return RocketChat::meteor_error("error-file-too-large", "", None);
    }
    let Ok(parts) = multipart::parse(&ctx.req.body, &boundary) else {
        return RocketChat::meteor_error("No file uploaded", "", None);
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.filename.is_none() && p.name == name)
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if parts
        .iter()
        .any(|p| p.filename.is_some() && p.name != "image")
    {
        return RocketChat::meteor_error("invalid-field", "", None);
    }
    let Some(file) = parts.iter().find(|p| p.filename.is_some()) else {
        return RocketChat::meteor_error("No file uploaded", "", None);
    };
    let (form_id, form_name) = (field("userId"), field("username"));
    if form_id.is_some() || form_name.is_some() {
        let found = {
            let st = rc.read();
            match (&form_id, &form_name) {
                (Some(id), _) => st.get(id).cloned(),
                (None, Some(n)) => st.by_username(n).cloned(),
                _ => None,
            }
        };
        let Some(found) = found else {
            return RocketChat::meteor_error(
                "error-invalid-user",
                "The optional \"userId\" or \"username\" param provided does not match any users",
                None,
            );
        };
        if found.id != ctx.caller.user.id && !can_edit_others {
            return RocketChat::meteor_error("error-not-allowed", "Not allowed", None);
        }
        user = found;
    }
    if file.content_type.as_deref().is_none_or(str::is_empty) {
        return RocketChat::meteor_error(
            "error-avatar-invalid-content-type",
            "Invalid avatar content type",
            None,
        );
    }
    store_avatar(rc, &user.id, file.data.clone(), "rest");
    RocketChat::success(json!({}))
}

/// POST users.resetAvatar `{userId|username|user}`.
pub(super) fn reset_avatar(rc: &RocketChat, ctx: &Ctx) -> Response {
    let user = match user_from_params(rc, ctx) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let own = user.id == ctx.caller.user.id;
    if !own
        && !ctx.caller.can("edit-other-user-avatar")
        && !ctx.caller.can("manage-moderation-actions")
    {
        return Response::json(403, &json!({"success": false, "error": "unauthorized"}));
    }
    if !own && !ctx.caller.can("edit-other-user-avatar") {
        // The inner resetAvatar rechecks edit-other-user-avatar only.
        return Response::json(
            403,
            &json!({"success": false, "error": "Unauthorized [error-unauthorized]", "errorType": "error-unauthorized"}),
        );
    }
    let mut st = rc.write();
    st.avatars.remove(&user.id);
    st.update(&user.id, |u| {
        u.avatar_origin = None;
        u.avatar_etag = None;
    });
    RocketChat::success(json!({}))
}

/// GET users.getAvatar: 307 to `<Site_Url>/avatar/<username>`.
pub(super) fn get_avatar(rc: &RocketChat, ctx: &Ctx) -> Response {
    let user = match user_from_params(rc, ctx) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let host = ctx.req.header("host").unwrap_or("127.0.0.1");
    let url = format!("http://{host}/avatar/{}", user.username);
    let body = serde_json::to_vec(&Value::String(url.clone())).unwrap_or_default();
    Response {
        status: 307,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Location".into(), url),
        ],
        body,
    }
}

/// GET /avatar/<username>: the stored image, or an SVG with the initial (also for an
/// unknown name, as the server's route answers). `name` is percent-decoded.
pub(super) fn serve(rc: &RocketChat, name: &str) -> Response {
    let st = rc.read();
    let stored = st
        .by_username(name)
        .and_then(|u| st.avatars.get(&u.id).cloned());
    let (body, content_type) = match stored {
        Some(b) => {
            let t = crate::image::sniff(&b).map_or("application/octet-stream", |h| h.format.mime());
            (b, t)
        }
        None => {
            let initial = name
                .chars()
                .next()
                .unwrap_or('?')
                .to_uppercase()
                .to_string();
            let svg = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\"><rect width=\"100%\" height=\"100%\" fill=\"#607d8b\"/><text x=\"50%\" y=\"50%\" dy=\"0.36em\" text-anchor=\"middle\" fill=\"#fff\" font-size=\"120\">{initial}</text></svg>"
            );
            (svg.into_bytes(), "image/svg+xml")
        }
    };
    Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("Cache-Control".into(), "public, max-age=0".into()),
        ],
        body,
    }
}
