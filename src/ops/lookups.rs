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
    // Rows read until their lookups cost more than `budget` requests; false: the source
    // ended (or failed) first.
    let mut read_past = |budget: u64, ahead: &mut Vec<Item>| -> bool {
        while lookup_cost(target, by, looked_up) <= budget {
            if ahead.len() >= LOOK_AHEAD {
                return false;
            }
            let Some(item) = rows.next() else {
                return false;
            };
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
        match target.user_total(&mut stats) {
            Ok(Some(total)) => {
                let pages = total.div_ceil(target.page_size().max(1));
                if read_past(pages, &mut ahead) {
                    // A listing the server refuses (permissions) leaves the lookups.
                    Snapshot::take(target, by, |_| {}).ok()
                } else {
                    None
                }
            }
            // The rows' own lookups will meet the same failure and report it.
            Ok(None) | Err(_) => None,
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

/// The row's user as the listing showed it (`Some(None)`: not on the server); `None`
/// (look it up) for a row with no key to match.
fn known(engine: &Engine, s: &Snapshot, w: &Work) -> Option<Option<User>> {
    let Outcome::Valid { user, .. } = &w.checked.outcome else {
        return None;
    };
    let key = engine
        .options()
        .match_key
        .of(&engine.target().normalize(user))?;
    Some(s.get(&key).map(|(_, u)| u.clone()))
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
}
