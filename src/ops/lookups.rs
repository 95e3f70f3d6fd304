//! How an import learns which rows' users are on the server: one lookup per row, or one
//! read of the server's whole user list (the [`Snapshot`] a sync takes), whichever costs
//! fewer requests.
//!
//! The rule (`roster help import` says it too): a lookup costs a request per row (on
//! Mattermost, matched by username, one per 100 rows: they are looked up in batches);
//! the listing costs ⌈server users ÷ page⌉ requests (Rocket.Chat `users.list`, 100 a page;
//! Mattermost `GET /users`, 200 a page), the server's total coming from one more request
//! (users.list's `total`; Mattermost `GET /users/stats`). The rows are read ahead until
//! their lookups would cost more than the listing (the listing is taken) or the source
//! ends (the cheaper wins, lookups on a tie). The look-ahead holds at most [`LOOK_AHEAD`]
//! rows, so memory stays bounded on a stream: a source still going after that many rows
//! keeps the lookups. A source whose rows cost at most one lookup never asks for the total.
//!
//! Either way the report and the server end the same: a row the listing did not show
//! (created meanwhile by someone else) is created, the server answers "already in use",
//! and the engine looks it up and updates it instead (see `Engine::create`). Rows tied to
//! an account by the `--state` ledger are looked up by id either way; `--mode create`
//! looks nothing up at all.

use crate::client::{MatchKey, UserApi, mattermost};
use crate::exec::{Engine, Mode, Work};
use crate::model::User;
use crate::pipeline::{Outcome, PipelineError};
use crate::plan::planner::Snapshot;

/// The most rows read ahead to weigh lookups against the listing.
pub(crate) const LOOK_AHEAD: usize = 10_000;

/// The most bytes of rows (their attributes: cells, LDIF values, photos) read ahead: past
/// this the lookups stay, so memory stays bounded by bytes, as the source's is.
pub(crate) const LOOK_AHEAD_BYTES: usize = 16 << 20;

/// The largest server listed whole: past this the lookups stay, so the listing's memory
/// (a few hundred bytes a user) stays bounded too.
pub(crate) const MAX_LISTED: u64 = 200_000;

type Item = Result<Work, PipelineError>;

/// What looking `rows` rows up costs, in requests.
fn lookup_cost(target: &dyn UserApi, by: MatchKey, rows: u64) -> u64 {
    match (target.flavor(), by) {
        (crate::client::Flavor::Mattermost, MatchKey::Username) => {
            rows.div_ceil(mattermost::LOOKUP_BATCH as u64)
        }
        _ => rows,
    }
}

/// The rows, each with the server's user when the listing was cheaper and taken, and
/// whether it was (the rows then need no lookups, so no batching for them either).
pub(crate) fn with_known<'a, I>(
    engine: &'a Engine,
    rows: I,
) -> (Box<dyn Iterator<Item = Item> + 'a>, bool)
where
    I: Iterator<Item = Item> + 'a,
{
    let opts = engine.options();
    if opts.mode == Mode::Create {
        return (Box::new(rows), false);
    }
    let target = engine.target().as_ref();
    let by = opts.match_key;
    let mut rows = rows.peekable();
    let mut ahead: Vec<Item> = Vec::new();
    let mut looked_up = 0u64;
    let mut bytes = 0usize;
    // Rows read until their lookups cost more than `budget` requests; false: the source
    // ended (or failed) first.
    let mut read_past = |budget: u64, ahead: &mut Vec<Item>| -> bool {
        while lookup_cost(target, by, looked_up) <= budget {
            if ahead.len() >= LOOK_AHEAD || bytes >= LOOK_AHEAD_BYTES {
                return false;
            }
            let Some(item) = rows.next() else {
                return false;
            };
            if let Ok(w) = &item {
                bytes += w
                    .checked
                    .attrs
                    .0
                    .iter()
                    .flat_map(|(_, vs)| vs.iter())
                    .map(|v| v.bytes().len() + 16)
                    .sum::<usize>();
            }
            if let Ok(w) = &item
                && needs_lookup(engine, w)
            {
                looked_up += 1;
            }
            let failed = item.is_err();
            ahead.push(item);
            if failed {
                return false;
            }
        }
        true
    };
    let snapshot = if !read_past(1, &mut ahead) {
        None
    } else {
        let mut stats = crate::client::CallStats::default();
        // Rocket.Chat's first page of the listing tells the total: read it instead of a
        // count, and it is not read twice when the listing is taken.
        let first = match target.flavor() {
            crate::client::Flavor::Rocketchat => target.list(0, &mut stats).ok(),
            _ => None,
        };
        let total = match first.as_ref().and_then(|p| p.total) {
            Some(t) => Ok(Some(t)),
            None => target.user_total(&mut stats),
        };
        match total {
            Ok(Some(total)) if total <= MAX_LISTED => {
                let pages = total.div_ceil(target.page_size().max(1));
                if read_past(pages, &mut ahead) {
                    // A listing the server refuses (permissions) leaves the lookups.
                    Snapshot::take_from(target, by, first, |_| {}).ok()
                } else {
                    None
                }
            }
            // Too large to hold, or unknown: the rows' own lookups (which will meet the
            // same failure, if any, and report it).
            Ok(_) | Err(_) => None,
        }
    };
    let all = ahead.into_iter().chain(rows);
    match snapshot {
        None => (Box::new(all), false),
        Some(s) => (
            Box::new(all.map(move |item| {
                item.map(|mut w| {
                    if needs_lookup(engine, &w) {
                        w.known = known(engine, &s, &w);
                    }
                    w
                })
            })),
            true,
        ),
    }
}

/// Whether the engine would look this row's user up by username or email.
fn needs_lookup(engine: &Engine, w: &Work) -> bool {
    match &w.checked.outcome {
        // Tied to an id by the ledger: looked up by it.
        Outcome::Valid { user, .. } => w.known.is_none() && !engine.tied(user),
        Outcome::Rejected { .. } => false,
    }
}

/// The row's user as the listing showed it (`Some(None)`: not on the server, when a
/// create would follow); `None` (look it up) for a row with no key to match, and for a
/// row the listing did not show that would not be created (`--mode update`, an LDIF modify
/// or delete): it may have been made since the listing, and a lookup says for sure.
fn known(engine: &Engine, s: &Snapshot, w: &Work) -> Option<Option<User>> {
    let Outcome::Valid { user, intent } = &w.checked.outcome else {
        return None;
    };
    let key = engine
        .options()
        .match_key
        .of(&engine.target().normalize(user))?;
    match s.get(&key) {
        Some((_, u)) => Some(Some(u.clone())),
        None if *intent == crate::model::Intent::Upsert
            && engine.options().mode != Mode::Update =>
        {
            Some(None)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::client::CreateOptions;
    use crate::exec::EngineOptions;
    use crate::exec::fake::{FakeServer, user};
    use crate::model::{Intent, Origin, RawText};
    use crate::pipeline::Checked;

    fn engine(s: &Arc<FakeServer>) -> Engine {
        Engine::new(
            s.clone(),
            EngineOptions {
                max_attempts: 1,
                create: CreateOptions {
                    random_password: true,
                    ..CreateOptions::default()
                },
                ..EngineOptions::default()
            },
        )
    }

    fn rows(names: &[&str]) -> Vec<Item> {
        names
            .iter()
            .map(|n| {
                let mut u = user(n, &format!("{n}@example.org"), &["user"]);
                u.id = None;
                u.name = Some(format!("{n} at the source"));
                Ok(Work::from(Checked {
                    origin: Origin(format!("in.csv:{n}")),
                    dn: None,
                    attrs: Default::default(),
                    raw: RawText::None,
                    outcome: Outcome::Valid {
                        user: Box::new(u),
                        intent: Intent::Upsert,
                    },
                }))
            })
            .collect()
    }

    #[test]
    fn the_cheaper_way_is_taken() {
        // 2 users on the server: one page. Three rows cost three lookups: listed.
        let s = Arc::new(FakeServer::new(&[]));
        let e = engine(&s);
        let (out, listed) = with_known(&e, rows(&["anna", "bert", "cleo"]).into_iter());
        assert!(listed);
        assert!(out.into_iter().all(|w| w.is_ok_and(|w| w.known.is_some())));
        // One row costs one lookup, never more than a listing: no total is even asked.
        let (out, listed) = with_known(&e, rows(&["anna"]).into_iter());
        assert!(!listed);
        assert!(out.into_iter().all(|w| w.is_ok_and(|w| w.known.is_none())));
    }

    #[test]
    fn a_user_created_after_the_listing_is_updated_not_duplicated() {
        let s = Arc::new(FakeServer::new(&[("bert", "bert@example.org")]));
        let e = engine(&s);
        let (out, listed) = with_known(&e, rows(&["anna", "bert", "cleo"]).into_iter());
        assert!(listed);
        let work: Vec<Work> = out.map(|w| w.expect("row")).collect();
        // Someone else creates anna after the listing, before her row runs.
        s.put(user("anna", "anna@example.org", &["user"]));
        for w in &work {
            let Outcome::Valid { user, intent } = &w.checked.outcome else {
                unreachable!()
            };
            let done = e.run(user, intent, w.known.clone());
            assert!(
                done.fatal.is_none() && done.entry.error.is_empty(),
                "{:?}",
                done.entry
            );
        }
        let writes = s.writes();
        assert!(writes.contains(&"create cleo".to_string()), "{writes:?}");
        assert!(!writes.contains(&"create anna".to_string()), "{writes:?}");
        assert!(
            writes.iter().any(|w| w.starts_with("update anna")),
            "{writes:?}"
        );
        assert_eq!(
            s.get("anna").and_then(|u| u.name),
            Some("anna at the source".into())
        );
    }

    /// README: "A single row never asks for the total."
    #[test]
    fn a_single_row_never_asks_for_the_total() {
        let s = Arc::new(FakeServer::new(&[]));
        let e = engine(&s);
        let (_out, listed) = with_known(&e, rows(&["anna"]).into_iter());
        assert!(!listed, "one row asked for the total and took the listing");
    }

    /// `--mode update`: a user created by someone else after the listing is skipped as
    /// "not on the server", where a lookup per row would have found and updated it.
    #[test]
    fn mode_update_user_created_after_the_listing_is_updated() {
        let s = Arc::new(FakeServer::new(&[("bert", "bert@example.org")]));
        let e = Engine::new(
            s.clone(),
            EngineOptions {
                mode: Mode::Update,
                max_attempts: 1,
                reactivate: true,
                ..EngineOptions::default()
            },
        );
        let (out, listed) = with_known(&e, rows(&["anna", "bert", "cleo"]).into_iter());
        assert!(listed);
        let work: Vec<Work> = out.map(|w| w.expect("row")).collect();
        s.put(user("anna", "anna@example.org", &["user"]));
        let Outcome::Valid { user: u, intent } = &work[0].checked.outcome else {
            unreachable!()
        };
        let done = e.run(u, intent, work[0].known.clone());
        assert!(
            s.writes().iter().any(|w| w.starts_with("update anna")),
            "{:?} {:?}",
            done.entry,
            s.writes()
        );
    }
}
