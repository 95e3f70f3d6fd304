//! The bulk user import API (6.3+): import.new, import.addUsers, import.run, import.status.
//!
//! As on the real server: `run` returns at once and works in the background; users whose
//! first e-mail or username already exists are not created (their import ids are bound to
//! the existing account instead); counts are published every 50 users; users that failed
//! stay staged. Errors are plain `Error`s: 400 `{success:false, error:"<message>"}`.

use std::sync::{Arc, Mutex, RwLock};
use std::thread;

use serde_json::{Value, json};

use super::ajv::{self, Obj, Type, nullable, prop, strings};
use super::store::{Email, RcUser, Store};
use super::{Ctx, RocketChat, is_known_role, lock};
use crate::http::Response;
use crate::util::{self, IdGen};

#[derive(Clone, Debug)]
struct Operation {
    id: String,
    ts: i64,
    status: &'static str,
    valid: bool,
    user: String,
    updated_at: i64,
    total: u64,
    users: u64,
    completed: u64,
    error: u64,
    has_count: bool,
}

impl Operation {
    fn state(&self) -> &'static str {
        if !self.valid && self.status != "importer_done" {
            return "error";
        }
        match self.status {
            "importer_new" => "new",
            "importer_user_selection" => "ready",
            "importer_importing_started" | "importer_importing_users" | "importer_finishing" => {
                "importing"
            }
            "importer_done" => "done",
            "importer_import_cancelled" => "canceled",
            _ => "error",
        }
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "_id": self.id,
            "type": "api",
            "importerKey": "api",
            "ts": util::iso_ms(self.ts),
            "status": self.status,
            "valid": self.valid,
            "user": self.user,
            "_updatedAt": util::iso_ms(self.updated_at),
        });
        if self.has_count {
            let mut count = json!({"total": self.total, "users": self.users});
            if self.status == "importer_done" || self.state() == "importing" {
                count["completed"] = json!(self.completed);
                count["error"] = json!(self.error);
            }
            v["count"] = count;
        }
        v
    }
}

#[derive(Default)]
pub struct ImportState {
    operation: Option<Operation>,
    staged: Vec<Value>,
    /// Bumped by import.new so a running import stops.
    generation: u64,
}

fn require_run_import(ctx: &Ctx) -> Option<Response> {
    (!ctx.caller.can("run-import")).then(RocketChat::forbidden_permission)
}

/// POST import.new: aborts any operation and clears staged data.
pub(super) fn new_operation(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Some(r) = require_run_import(ctx) {
        return r;
    }
    let now = util::now_ms();
    let op = Operation {
        id: rc.ids.object_id(),
        ts: now,
        status: "importer_new",
        valid: true,
        user: ctx.caller.user.id.clone(),
        updated_at: now,
        total: 0,
        users: 0,
        completed: 0,
        error: 0,
        has_count: false,
    };
    let body = op.json();
    let mut st = lock(&rc.import);
    st.generation += 1;
    st.staged.clear();
    st.operation = Some(op);
    RocketChat::success(json!({ "operation": body }))
}

/// GET import.status
pub(super) fn status(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Some(r) = require_run_import(ctx) {
        return r;
    }
    let st = lock(&rc.import);
    match &st.operation {
        None => RocketChat::success(json!({"state": "none"})),
        Some(op) => RocketChat::success(json!({"state": op.state(), "operation": op.json()})),
    }
}

fn add_users_schema() -> Obj {
    let user = Obj {
        props: vec![
            nullable("username", Type::String),
            prop("emails", strings()),
            prop("importIds", strings()),
            nullable("name", Type::String),
            nullable("utcOffset", Type::Number),
            nullable("avatarUrl", Type::String),
            nullable("deleted", Type::Boolean),
            nullable("statusText", Type::String),
            nullable("roles", strings()),
            nullable("type", Type::String),
            nullable("bio", Type::String),
            nullable("password", Type::String),
        ],
        required: vec!["emails", "importIds"],
        additional: true,
    };
    Obj {
        props: vec![prop(
            "users",
            Type::Array(Box::new(Type::Object(Some(Box::new(user))))),
        )],
        required: vec!["users"],
        additional: false,
    }
}

fn non_empty_strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// POST import.addUsers {users:[{username?, emails[], importIds[], name?, ...}]}
pub(super) fn add_users(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Some(r) = require_run_import(ctx) {
        return r;
    }
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&add_users_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    let users = params
        .get("users")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if users.is_empty() {
        return RocketChat::success(json!({}));
    }
    let mut st = lock(&rc.import);
    let Some(op) = st.operation.as_ref().filter(|o| o.valid) else {
        return RocketChat::failure("Import operation not initialized.");
    };
    match op.state() {
        "loading" | "importing" => {
            return RocketChat::failure("The current import operation can not receive new data.");
        }
        "done" | "error" | "canceled" => {
            return RocketChat::failure("The current import operation is already finished.");
        }
        _ => {}
    }
    for u in &users {
        if non_empty_strings(u.get("emails")).is_empty()
            || non_empty_strings(u.get("importIds")).is_empty()
        {
            return RocketChat::failure("Users are missing required data.");
        }
    }
    let all_roles_known = users
        .iter()
        .flat_map(|u| non_empty_strings(u.get("roles")))
        .all(|r| is_known_role(&r));
    if !all_roles_known {
        return RocketChat::failure("One or more of the users have been assigned invalid roles.");
    }
    let n = users.len() as u64;
    let now = util::now_ms();
    for mut u in users {
        // The default role is added to every staged user.
        let mut roles = non_empty_strings(u.get("roles"));
        if !roles.iter().any(|r| r == "user") {
            roles.push("user".into());
        }
        u["roles"] = json!(roles);
        st.staged.push(u);
    }
    if let Some(op) = st.operation.as_mut() {
        op.total += n;
        op.users += n;
        op.has_count = true;
        op.status = "importer_user_selection";
        op.updated_at = now;
    }
    RocketChat::success(json!({}))
}

/// POST import.run: starts the background import and returns at once.
pub(super) fn run(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Some(r) = require_run_import(ctx) {
        return r;
    }
    let generation;
    {
        let mut st = lock(&rc.import);
        let Some(op) = st.operation.as_mut().filter(|o| o.valid) else {
            return RocketChat::failure("error-operation-not-found");
        };
        if op.status != "importer_user_selection" {
            return RocketChat::failure("error-invalid-operation-status");
        }
        op.status = "importer_importing_started";
        op.completed = 0;
        op.error = 0;
        op.updated_at = util::now_ms();
        generation = st.generation;
    }
    let job = Job {
        store: Arc::clone(&rc.store),
        import: Arc::clone(&rc.import),
        ids: Arc::clone(&rc.ids),
        cost: rc.settings.bcrypt_cost,
        generation,
    };
    if thread::Builder::new()
        .name("sandbox-import".into())
        .spawn(move || job.run())
        .is_err()
    {
        return rc.internal();
    }
    RocketChat::success(json!({}))
}

struct Job {
    store: Arc<RwLock<Store>>,
    import: Arc<Mutex<ImportState>>,
    ids: Arc<IdGen>,
    cost: u32,
    generation: u64,
}

enum Outcome {
    Done,
    Failed,
}

impl Job {
    fn run(self) {
        let staged = {
            let mut st = lock(&self.import);
            if st.generation != self.generation {
                return;
            }
            if let Some(op) = st.operation.as_mut() {
                op.status = "importer_importing_users";
            }
            std::mem::take(&mut st.staged)
        };
        let mut failed = Vec::new();
        let (mut completed, mut errors) = (0u64, 0u64);
        for (i, data) in staged.into_iter().enumerate() {
            match self.import_one(&data) {
                Outcome::Done => completed += 1,
                Outcome::Failed => {
                    errors += 1;
                    failed.push(data);
                }
            }
            if (i + 1) % 50 == 0 && !self.publish(completed, errors, None) {
                return;
            }
        }
        self.publish(completed, errors, Some(failed));
    }

    /// Publishes progress; with `failed`, finishes. False = the operation was replaced.
    fn publish(&self, completed: u64, errors: u64, failed: Option<Vec<Value>>) -> bool {
        let mut st = lock(&self.import);
        if st.generation != self.generation {
            return false;
        }
        let done = failed.is_some();
        if let Some(f) = failed {
            st.staged = f;
        }
        if let Some(op) = st.operation.as_mut() {
            op.completed = completed;
            op.error = errors;
            op.updated_at = util::now_ms();
            if done {
                op.status = "importer_done";
            }
        }
        true
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        match self.store.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn import_one(&self, data: &Value) -> Outcome {
        let emails = non_empty_strings(data.get("emails"));
        let import_ids = non_empty_strings(data.get("importIds"));
        let username = data
            .get("username")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        // Existing user: by the first e-mail, then by username. Not created; the import
        // ids are bound to it (skipExistingUsers + bindSkippedUsers).
        {
            let mut st = self.write();
            let existing = emails
                .first()
                .and_then(|e| st.by_email(e))
                .or_else(|| username.as_deref().and_then(|u| st.by_username(u)))
                .map(|u| u.id.clone());
            if let Some(id) = existing {
                st.update(&id, |u| {
                    for i in &import_ids {
                        if !u.import_ids.contains(i) {
                            u.import_ids.push(i.clone());
                        }
                    }
                });
                return Outcome::Done;
            }
        }
        let password = data
            .get("password")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| util::random_password(17));
        let Ok(hash) = util::meteor_password_hash(&password, self.cost) else {
            return Outcome::Failed;
        };
        let mut st = self.write();
        let username = match username {
            Some(u) => u,
            None => {
                let base: String = emails[0]
                    .split('@')
                    .next()
                    .unwrap_or("user")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    .collect();
                let base = if base.is_empty() { "user".into() } else { base };
                let mut candidate = base.clone();
                let mut n = 1;
                while st.by_username(&candidate).is_some() {
                    candidate = format!("{base}-{n}");
                    n += 1;
                }
                candidate
            }
        };
        if st.by_username(&username).is_some() || emails.iter().any(|e| st.by_email(e).is_some()) {
            return Outcome::Failed;
        }
        let now = util::now_ms();
        let mut u = RcUser::new(self.ids.meteor_id(), username.clone(), now);
        u.name = Some(
            data.get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(&username)
                .to_string(),
        );
        u.emails = emails
            .iter()
            .map(|e| Email {
                address: e.clone(),
                verified: false,
            })
            .collect();
        u.import_ids = import_ids;
        let roles = non_empty_strings(data.get("roles"));
        if !roles.is_empty() {
            u.roles = roles;
        }
        u.active = data.get("deleted").and_then(Value::as_bool) != Some(true);
        if let Some(t) = data.get("type").and_then(Value::as_str) {
            u.user_type = t.to_string();
        }
        u.bio = data
            .get("bio")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        u.status_text = data
            .get("statusText")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        u.bcrypt = Some(hash);
        st.insert(u);
        Outcome::Done
    }
}
