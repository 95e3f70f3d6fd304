//! Teams and channels as a client sees them: what a name resolved to, and the image a
//! user's avatar is set from. The requests are each server's (`UserApi::find_team`,
//! `add_members`, `set_avatar`, ...); this module holds what they share.

use std::sync::Arc;

/// A team or a channel.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    Team,
    Channel,
}

impl GroupKind {
    /// As reports and messages name it (and as the report's `changed` lists it).
    pub fn field(self) -> &'static str {
        match self {
            GroupKind::Team => "teams",
            GroupKind::Channel => "channels",
        }
    }
    pub fn noun(self) -> &'static str {
        match self {
            GroupKind::Team => "team",
            GroupKind::Channel => "channel",
        }
    }
}

/// A team or channel on the server, as a run resolved its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Group {
    pub kind: GroupKind,
    pub id: String,
    /// The name as the server spells it.
    pub name: String,
    /// The name that finds it again from nothing: `team/channel` for a Mattermost
    /// channel (its name alone is only unique within its team), else the name. What
    /// plans show and the ledger records.
    #[serde(default)]
    pub path: String,
    /// A channel every new member joins (Mattermost `town-square` and `off-topic`,
    /// Rocket.Chat rooms marked default): never removed.
    #[serde(default)]
    pub default: bool,
    /// Mattermost: a channel's team. Rocket.Chat: a team's main room (its membership is the
    /// team's).
    pub parent: Option<String>,
    /// A private channel (Mattermost `P`, Rocket.Chat group `p`): other requests than a
    /// public one's on Rocket.Chat.
    pub private: bool,
}

/// The image an avatar is set from.
#[derive(Clone, Debug)]
pub enum Image {
    /// Fetched by the server itself (Rocket.Chat `avatarUrl`).
    Url(String),
    /// Uploaded: the bytes and their media type.
    Bytes { data: Arc<[u8]>, mime: &'static str },
}

/// A user a membership request could not add, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAdded {
    pub user_id: String,
    pub reason: String,
}

/// Fetches an avatar image for a server that takes only bytes (Mattermost): no
/// credentials are sent, at most 3 redirects are followed (none to another scheme than
/// http/https), at most `max` bytes are read, 30 s at most.
pub fn fetch_image(url: &str, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    // One client for the run: its connections are reused from one avatar to the next.
    static CLIENT: std::sync::OnceLock<Result<reqwest::blocking::Client, String>> =
        std::sync::OnceLock::new();
    let client = CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .user_agent(crate::USER_AGENT)
                .timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::custom(|a| {
                    // Never from https down to http, never to another scheme, at most 3.
                    let downgrade = a.url().scheme() == "http"
                        && a.previous().iter().any(|u| u.scheme() == "https");
                    if a.previous().len() >= 3
                        || downgrade
                        || !matches!(a.url().scheme(), "http" | "https")
                    {
                        a.stop()
                    } else {
                        a.follow()
                    }
                }))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    let resp = client
        .get(url)
        .send()
        .map_err(|e| format!("cannot fetch {url}: {}", super::http::root_cause(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("fetching {url}: HTTP {}", resp.status().as_u16()));
    }
    let mut data = Vec::new();
    resp.take(max as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("fetching {url}: {e}"))?;
    if data.len() > max {
        return Err(format!("{url}: the image is larger than {max} bytes"));
    }
    Ok(data)
}
