//! Account settings an administrator changes for another user (`roster do reset-mfa`,
//! `set-preferences`), after /work/shared/docs/rocketchat-members-and-ops.md §6 and §8
//! (`apps/meteor/app/api/server/v1/users.ts` `users.resetTOTP`, `users.setPreferences`;
//! `apps/meteor/server/methods/saveUserPreferences.ts`; `@rocket.chat/rest-typings`
//! `UsersSetPreferenceParamsPOST`, whose schema is copied below).
//!
//! - `users.resetTOTP {userId?|username?|user?}`: two-factor with `disableRememberMe` (the
//!   caller's code on every call); then `edit-other-user-totp`, else `Not allowed
//!   [error-not-allowed]`; then `Accounts_TwoFactorAuthentication_Enabled` (the sandbox's
//!   two-factor switch), else `Two factor authentication is not enabled
//!   [error-two-factor-not-enabled]`; then the user (`getUserFromParams`). A user with TOTP
//!   loses it and every login token; one without gets `{success: true}` all the same.
//! - `users.setPreferences {userId?, data}`: the schema (`additionalProperties: false` on
//!   `data`: an unknown key is 400 `invalid-params`); another user needs
//!   `edit-other-user-info`, else `Editing user is not allowed [error-action-not-allowed]`;
//!   an unknown id is `The optional "userId" param provided does not match any users
//!   [error-invalid-user]`. Merged key by key; `clockMode: 0` unsets; `idleTimeLimit`
//!   under 60 is `Invalid idleTimeLimit [invalid-idle-time-limit-value]`;
//!   `emailNotificationMode` `all` is stored as `mentions` and `disabled` as `nothing`.
//!   Answers `{user: {_id, settings: {preferences}}, success: true}`.
//!
//! users.resetTOTP mails the user's verified addresses first (kept in the sandbox's mails;
//! without SMTP, `Error trying to send email: … [error-email-send-failed]`, nothing reset).
//!
//! Simplified: federated users do not exist; the `alsoSendThreadToChannel` enum is checked after the rest of the
//! schema (a body with two faults may name the other first); `language` and
//! `utcOffset` stay among the preferences instead of moving to the user's root.

use serde_json::{Value, json};

use super::ajv::{self, Obj, Type, nullable, prop};
use super::{Ctx, RocketChat, avatar};
use crate::http::Response;

pub(super) fn reset_totp(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Err(r) = rc.check_two_factor_with(ctx, false) {
        return r;
    }
    if !ctx.caller.can("edit-other-user-totp") {
        return RocketChat::meteor_error("error-not-allowed", "Not allowed", None);
    }
    if !rc.settings.two_factor {
        return RocketChat::meteor_error(
            "error-two-factor-not-enabled",
            "Two factor authentication is not enabled",
            None,
        );
    }
    let user = match avatar::user_from_params(rc, ctx) {
        Ok(u) => u,
        Err(r) => return r,
    };
    // resetTOTP(uid, true) mails every verified address first; a failure aborts.
    let verified: Vec<&str> = user
        .emails
        .iter()
        .filter(|e| e.verified)
        .map(|e| e.address.as_str())
        .collect();
    if !verified.is_empty() && !rc.settings.smtp {
        return RocketChat::meteor_error(
            "error-email-send-failed",
            "Error trying to send email: SMTP is not configured",
            None,
        );
    }
    for to in verified {
        rc.send_mail(to, "totp-reset");
    }
    if user.totp {
        rc.write().update(&user.id, |u| {
            u.totp = false;
            u.tokens.clear();
        });
    }
    RocketChat::success(json!({}))
}

fn preferences_schema() -> Obj {
    use Type::{Array, Boolean, Number, Object, String};
    let n = nullable;
    let data = Obj {
        props: vec![
            n("newRoomNotification", String),
            n("newMessageNotification", String),
            n("clockMode", Number),
            n("useEmojis", Boolean),
            n("convertAsciiEmoji", Boolean),
            n("alsoSendThreadToChannel", String),
            n("saveMobileBandwidth", Boolean),
            n("collapseMediaByDefault", Boolean),
            n("autoImageLoad", Boolean),
            n("emailNotificationMode", String),
            n("unreadAlert", Boolean),
            n("masterVolume", Number),
            n("notificationsSoundVolume", Number),
            n("voipRingerVolume", Number),
            n("desktopNotifications", String),
            n("pushNotifications", String),
            n("enableAutoAway", Boolean),
            n("highlights", Array(Box::new(String))),
            n("showThreadsInMainChannel", Boolean),
            n("desktopNotificationRequireInteraction", Boolean),
            n("hideUsernames", Boolean),
            n("hideRoles", Boolean),
            n("displayAvatars", Boolean),
            n("hideFlexTab", Boolean),
            n("sendOnEnter", String),
            n("language", String),
            n("sidebarShowFavorites", Boolean),
            n("sidebarShowUnread", Boolean),
            prop("statusVisibilityDenied", Array(Box::new(String))),
            n("sidebarSortby", String),
            n("sidebarViewMode", String),
            n("sidebarDisplayAvatar", Boolean),
            n("sidebarGroupByType", Boolean),
            n("muteFocusedConversations", Boolean),
            n(
                "dontAskAgainList",
                Array(Box::new(Object(Some(Box::new(Obj {
                    props: vec![prop("action", String), prop("label", String)],
                    required: vec![],
                    additional: true,
                }))))),
            ),
            n(
                "featuresPreview",
                Array(Box::new(Object(Some(Box::new(Obj {
                    props: vec![prop("name", String), prop("value", Boolean)],
                    required: vec![],
                    additional: true,
                }))))),
            ),
            n("themeAppearence", String),
            n("fontSize", String),
            n("receiveLoginDetectionEmail", Boolean),
            n("notifyCalendarEvents", Boolean),
            n("idleTimeLimit", Number),
            n("omnichannelTranscriptEmail", Boolean),
            n("omnichannelTranscriptPDF", Boolean),
            n("omnichannelHideConversationAfterClosing", Boolean),
            n("enableMobileRinging", Boolean),
            n("mentionsWithSymbol", Boolean),
            n("desktopNotificationVoiceCalls", Boolean),
            n("utcOffset", Number),
        ],
        required: vec![],
        additional: false,
    };
    Obj {
        props: vec![
            n("userId", String),
            prop("data", Object(Some(Box::new(data)))),
        ],
        required: vec!["data"],
        additional: false,
    }
}

pub(super) fn set_preferences(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&preferences_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    // The one `enum` of the schema (the ajv subset has none); null is not in it either.
    if let Some(v) = params["data"].get("alsoSendThreadToChannel")
        && !matches!(v.as_str(), Some("default" | "always" | "never"))
    {
        return RocketChat::invalid_params("must be equal to one of the allowed values");
    }
    let target = params
        .get("userId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let id = match target {
        Some(id) if id != ctx.caller.user.id => {
            if !ctx.caller.can("edit-other-user-info") {
                return RocketChat::meteor_error(
                    "error-action-not-allowed",
                    "Editing user is not allowed",
                    None,
                );
            }
            if rc.read().get(&id).is_none() {
                return RocketChat::meteor_error(
                    "error-invalid-user",
                    "The optional \"userId\" param provided does not match any users",
                    None,
                );
            }
            id
        }
        _ => ctx.caller.user.id.clone(),
    };
    let data = params
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(limit) = data.get("idleTimeLimit").and_then(Value::as_f64)
        && limit < 60.0
    {
        return RocketChat::meteor_error(
            "invalid-idle-time-limit-value",
            "Invalid idleTimeLimit",
            None,
        );
    }
    let stored = rc.write().update(&id, |u| {
        for (k, v) in data {
            let v = match (k.as_str(), v.as_str()) {
                ("emailNotificationMode", Some("all")) => json!("mentions"),
                ("emailNotificationMode", Some("disabled")) => json!("nothing"),
                _ => v,
            };
            if k == "clockMode" && v.as_f64() == Some(0.0) {
                u.preferences.remove(&k);
            } else {
                u.preferences.insert(k, v);
            }
        }
        u.preferences.clone()
    });
    let preferences = Value::Object(stored.unwrap_or_default());
    RocketChat::success(json!({"user": {"_id": id, "settings": {"preferences": preferences}}}))
}
