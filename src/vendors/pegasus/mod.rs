//! Pegasus Gateway (`shared/vendors/pegasus.md`, issue 6): group → user → app access, three
//! non-atomic calls per row, each journaled with its id so a re-run does only what is missing.
//!
//! - Auth: `POST /login` → token in the `Authenticate` header; one re-login when a token
//!   that worked answers 401 (`client::Session`). Before any write, `GET /user` must show
//!   `groups`, `users` and `users.application_data` writable (or `is_staff`).
//! - Read once per target: every user (`select=id,username,email`, matched on lower-cased
//!   username) and every group (matched on exact name).
//! - Group: one per company, found by exact name or made once with `POST /groups`, shared
//!   by all its rows even when many workers reach it together (`SingleFlight`). Ledger key
//!   `group:<company>`, step `group`.
//! - User: `POST /users` with `groups: [id]`; an unknown outcome is looked up before any
//!   repeat; a 409 is adopted when the user is ours, else reported.
//! - App access: `PUT /apps/pegasus2.0?user=ID` (idempotent) in a second queue, paced by the
//!   `/apps` limits (5/s and 20/min per user), so groups and users run ahead while grants
//!   wait their turn.
//! - Audit, upsert, sync (issue 9): `list_users` pages through every user (names, e-mail,
//!   phone, groups as `company`, `is_active`). An existing user is updated when the row
//!   or the mode asks (`update`/`upsert`, `--mode upsert|sync`): `PUT /users/{id}` with only
//!   the fields that differ (and `is_active: true` for an inactive user the roster lists,
//!   not marked `disabled`), nothing at all when none does. Removal is deactivation,
//!   `PUT /users/{id}` `{"is_active": false}`: the contract documents neither a user
//!   update nor a delete, so both are assumptions (see `update`, `deactivate`).

mod client;
pub mod rules;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use crate::config::Credentials;
use crate::http::limiter::Limiter;
use crate::http::retry::Kind;
use crate::http::{Body, Paced, Reply, Request, SendError};
use crate::model::StepState;
use crate::model::{Action, Field, Outcome, Problem, Row, SideId, Status};
use crate::vendors::protocol::Engine;

use super::common::Fresh;
use super::protocol::{
    Aligned, Dependent, KeepIntent, Lookup, RowPlan, Rows, Shared, Then, UserStep, Verdict,
};
use super::standing::{Next as Needs, next};
use super::{Job, STEP_USER, Vendor, VendorError};
use crate::model::PlatformUser;
use client::{Groups, RowError, Session, Users, Window};
use wire::{readable, reply_id};

/// The journal step names of a row; the group's is `group` under key `group:<company>`.
const STEP_APP: &str = "app";
const STEP_GROUP: &str = "group";
/// The journal step of an update (`PUT /users/{id}` of what differs).
const STEP_UPDATE: &str = "update";
/// The journal step of a deactivation (`PUT /users/{id}` `is_active: false`).
const STEP_DEACTIVATE: &str = "deactivate";

/// The Pegasus connector.
pub struct Pegasus {
    session: Session,
    /// The checks after lost answers: users by lower-cased username from a whole-list read
    /// (users have no documented search) shared by every row that asked before it began.
    checks: Fresh<Result<Arc<HashMap<String, String>>, String>>,
    /// Who muster is logged in as (lower-cased username), once probed.
    me: std::sync::OnceLock<String>,
}

/// What exists on the platform, read once per target, and the `/apps` limits of the run.
pub struct Existing {
    users: Users,
    /// Group ids by exact name, names by id.
    groups: Groups,
    /// The first row of each company in input order: the group's contact.
    contacts: HashMap<String, Arc<Row>>,
    gate: AppsGate,
}

impl Existing {
    /// The company's group: the one the ledger says muster made (if the platform still has
    /// it), else the platform's group of that exact name.
    fn group(&self, ctx: &impl Engine, company: &str) -> Option<String> {
        done_id(ctx, &group_key(company), STEP_GROUP)
            .filter(|id| self.groups.has(id))
            .or_else(|| self.groups.by_name.get(company).cloned())
    }

    /// The company's group, as a thing its rows share ([`Shared`]): known (the ledger's or
    /// the platform's), else made once for every row of the company. `side`: the kind of
    /// side id a row records once it has it.
    fn shared_group(&self, ctx: &impl Engine, company: &str, side: Option<&'static str>) -> Shared {
        let create = match self.contacts.get(company) {
            Some(contact) => Ok(Request::new(Method::POST, "/groups", Kind::Create)
                .json(wire::group_body(company, contact))),
            None => Err("no row names this company".to_string()),
        };
        Shared {
            key: group_key(company),
            step: STEP_GROUP,
            noun: "group",
            what: format!("group \"{company}\""),
            find: company.to_string(),
            known: self.group(ctx, company),
            create,
            side,
        }
    }
}

/// The `/apps` limits: the per-second limiter every attempt passes, and the per-minute window.
struct AppsGate {
    per_second: Arc<Limiter>,
    per_minute: Option<Window>,
}

impl AppsGate {
    /// Waits for the per-minute window, saying so on the progress line.
    async fn wait(&self, ctx: &impl Engine) {
        if let Some(w) = &self.per_minute {
            w.acquire(|wait| {
                ctx.http().tell(Paced::Waiting {
                    wait,
                    why: format!("/apps limit of {} per minute", ctx.target().apps_per_minute),
                })
            })
            .await;
        }
    }

    /// The target's `/apps` limits.
    fn of(ctx: &impl Engine) -> AppsGate {
        AppsGate {
            per_second: Arc::new(Limiter::new(
                ctx.target().apps_rate,
                std::num::NonZeroU32::MIN,
            )),
            per_minute: Window::new(ctx.target().apps_per_minute, Duration::from_secs(60)),
        }
    }
}

impl Pegasus {
    pub fn new(credentials: Credentials) -> Pegasus {
        Pegasus {
            session: Session::new(credentials),
            checks: Fresh::default(),
            me: std::sync::OnceLock::new(),
        }
    }

    async fn existing(&self, ctx: &impl Engine, jobs: &[Job]) -> Result<Existing, VendorError> {
        let users = client::read_users(ctx, &self.session).await?;
        let groups = client::read_groups(ctx, &self.session, &[]).await?;
        let mut contacts = HashMap::new();
        for job in jobs {
            if let Some(c) = wire::company(&job.row) {
                contacts
                    .entry(c.to_string())
                    .or_insert_with(|| job.row.clone());
            }
        }
        Ok(Existing {
            users,
            groups,
            contacts,
            gate: AppsGate::of(ctx),
        })
    }

    /// A user by lower-cased username, paging through every user (`search.` is not
    /// documented for users) in a read that began after this call, shared with the other
    /// rows checking at the same time. `Err`: the list could not be read.
    async fn find_user(
        &self,
        ctx: &impl Engine,
        key: &str,
    ) -> Result<Result<Option<String>, String>, RowError> {
        let read = self
            .checks
            .read(|| async {
                client::read_users(ctx, &self.session)
                    .await
                    .map(|users| Arc::new(users.by_username))
                    .map_err(|e| e.to_string())
            })
            .await;
        match read {
            Ok(users) => Ok(Ok(users.get(key).cloned())),
            Err(_) if ctx.halted() => Err(RowError::Halted),
            Err(e) => Ok(Err(e)),
        }
    }

    /// The plan of a user that is on the platform: `PUT /users/{id}` with only the fields
    /// that differ (`wire::changes`); nothing differs → `exists`, no request. A company
    /// that differs needs its group, shared with the other rows ([`Shared`]).
    ///
    /// Assumption (the contract documents no user update): `PUT /users/{id}` changes the
    /// keys it is sent and leaves the others, as `PUT /sims/{id}` does in the older docs;
    /// 409 for a username/e-mail another user holds, as on create. A PUT is idempotent, so
    /// the decision is made from the platform's values, not the ledger: a re-run after it
    /// finds nothing to change.
    fn update(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        id: &str,
        out: &mut Outcome,
    ) -> (Option<Shared>, UserStep) {
        out.user_id = Some(id.to_string());
        let Some(have) = existing.users.by_id.get(id) else {
            // Listed by username but not by id cannot happen; treat it as nothing to compare.
            out.status = Status::Exists;
            return (None, UserStep::Nothing);
        };
        let names = &existing.groups.names;
        let (shared, placeholder) = match wire::company(&job.row) {
            Some(c) if wire::company_differs(&job.row, have, names) => {
                if ctx.dry_run() {
                    out.status = Status::Planned;
                    return (None, UserStep::Nothing);
                }
                // The body names the group; its id is put in once the group is had.
                (Some(existing.shared_group(ctx, c, None)), Some(""))
            }
            _ => (None, None),
        };
        let body = wire::changes(&job.row, have, names, placeholder);
        if body.is_empty() {
            out.status = Status::Exists;
            return (None, UserStep::Nothing);
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return (None, UserStep::Nothing);
        }
        // Unknown or not: the next run compares again and sends only what still differs.
        let write = UserStep::Write {
            name: STEP_UPDATE.into(),
            request: Request::new(Method::PUT, format!("/users/{id}"), Kind::Idempotent)
                .json(serde_json::Value::Object(body)),
            keep: KeepIntent::Never,
            id: id.to_string(),
            done: Status::Updated,
        };
        (shared, write)
    }

    /// Removal the Pegasus way: the contract documents no user delete, so a user is
    /// deactivated, `PUT /users/{id}` `{"is_active": false}` (assumed; the user stays listed,
    /// inactive, and can be re-activated). A user already inactive is `deleted` with no
    /// request, so a re-run sends nothing.
    fn deactivate(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        mut out: Outcome,
    ) -> RowPlan<()> {
        let key = job.key.as_str();
        let Some(id) = existing
            .users
            .by_username
            .get(key)
            .or_else(|| existing.users.by_email.get(key))
            .cloned()
        else {
            out.status = Status::Failed;
            out.error = Some(format!(
                "no user with username {key} on target {}",
                ctx.target().name
            ));
            return RowPlan::done(out);
        };
        out.user_id = Some(id.clone());
        let active = existing.users.by_id.get(&id).is_none_or(|u| u.active());
        if !active {
            out.status = Status::Deleted;
            out.error = Some("deleted; already inactive on Pegasus, nothing sent".into());
            // An intent without outcome, and the list shows it took effect.
            let settle = if ctx.dry_run() {
                Vec::new()
            } else {
                vec![(STEP_DEACTIVATE.to_string(), Some(id))]
            };
            return RowPlan {
                settle,
                ..RowPlan::done(out)
            };
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return RowPlan::done(out);
        }
        // No answer: the intent stays; the next run's list says whether it happened.
        RowPlan {
            user: UserStep::Write {
                name: STEP_DEACTIVATE.into(),
                request: Request::new(Method::PUT, format!("/users/{id}"), Kind::Idempotent)
                    .json(serde_json::json!({"is_active": false})),
                keep: KeepIntent::OnUnknown,
                id,
                done: Status::Deleted,
            },
            ..RowPlan::done(out)
        }
    }
}

/// The app access step of user `user_id` (`PUT /apps/pegasus2.0?user=`, idempotent: whatever
/// happened without an answer, repeating it later is safe), paced by the `/apps` limits.
fn app_step(gate: &AppsGate, job: &Job, user_id: &str) -> Dependent {
    Dependent {
        name: STEP_APP.into(),
        request: Request::new(Method::PUT, "/apps/pegasus2.0", Kind::Idempotent)
            .query("user", user_id)
            .json(wire::apps_body(&job.row))
            .limited_by(gate.per_second.clone()),
        keep: KeepIntent::Never,
        id: user_id.to_string(),
        side: Some("app"),
        what: String::new(),
    }
}

impl Rows for Pegasus {
    type Existing = Existing;
    /// The app access a row wants is in its `apps` cell.
    type Wanted = ();
    type Extra = ();
    const WHAT: &'static str = "app access";
    const RERUN: &'static str = "a re-run grants only the app access";
    /// App access waits for the `/apps` limits in a queue of its own, so groups and users
    /// run ahead.
    const DEFER_DEPENDENTS: bool = true;

    fn send(
        &self,
        ctx: &impl Engine,
        request: Request,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send {
        self.session.send(ctx, request)
    }

    fn plan(&self, ctx: &impl Engine, existing: &Existing, job: &Job, (): ()) -> RowPlan<()> {
        let row = &job.row;
        let key = job.key.as_str();
        let mut out = Outcome::new(Status::Planned, job.action);
        if job.action == Action::Delete {
            return self.deactivate(ctx, existing, job, out);
        }
        // The body first: a row muster cannot express makes nothing, not even its group.
        let body = match wire::user_body(job) {
            Ok(b) => b,
            Err(problems) => return RowPlan::done(Outcome::invalid(job.action, &problems)),
        };
        let company = wire::company(row);
        let known_group = company.and_then(|c| existing.group(ctx, c));

        let on_platform = existing.users.by_username.get(key).cloned();
        // Who the user is: made by muster before (ledger), or already on the platform.
        let standing = ctx.standing(key, on_platform.as_deref());
        let app_done = done_id(ctx, key, STEP_APP).filter(|_| !standing.forgotten);
        let settle = if standing.unsettled {
            vec![(STEP_USER.to_string(), standing.user_id.clone())]
        } else {
            Vec::new()
        };
        if standing.ours {
            if let Some(g) = &known_group {
                out.other_ids.push(SideId::new("group", g));
            }
        }
        // The app access muster granted its own user, said on a row left as it is.
        let granted = app_done
            .as_ref()
            .filter(|_| standing.ours)
            .map(|a| SideId::new("app", a));
        let plan = |out, shared, user, then| RowPlan {
            out,
            settle,
            shared,
            user,
            then,
        };
        let create = match next(job.action, ctx.mode(), &standing) {
            Needs::NoUser => {
                out.status = Status::Failed;
                out.error = Some(format!(
                    "no user with username {key} on target {} to update",
                    ctx.target().name
                ));
                return plan(out, None, UserStep::Nothing, Then::Nothing);
            }
            // Already there (ours and finished, or someone else's): left alone.
            Needs::Exists(id) => {
                out.user_id = Some(id);
                out.other_ids.extend(granted);
                out.status = Status::Exists;
                return plan(out, None, UserStep::Nothing, Then::Nothing);
            }
            // Updated where it differs.
            Needs::Update(id) => {
                out.user_id = Some(id.clone());
                out.other_ids.extend(granted);
                let id = on_platform.clone().unwrap_or(id);
                let (shared, user) = self.update(ctx, existing, job, &id, &mut out);
                // Issue 28: a row naming its apps also brings the user's app access in
                // line, in the second queue (paced by the `/apps` limits).
                let apps = row.get(Field::Apps).is_some_and(|a| !a.trim().is_empty());
                let then = if !apps || ctx.dry_run() || out.status == Status::Failed {
                    Then::Nothing
                } else {
                    Then::Align {
                        wanted: (),
                        finish: false,
                    }
                };
                return plan(out, shared, user, then);
            }
            Needs::Finish(id) => {
                out.user_id = Some(id);
                false
            }
            Needs::Create => true,
        };
        if ctx.dry_run() {
            out.status = Status::Planned;
            return plan(out, None, UserStep::Nothing, Then::Nothing);
        }
        let (shared, user) = if create {
            let Some(company) = company else {
                let p = Problem::field(
                    row,
                    Field::Company,
                    "is required: a Pegasus user belongs to its company's group",
                );
                return RowPlan::done(Outcome::invalid(job.action, &[p]));
            };
            let user = UserStep::Create {
                request: Request::new(Method::POST, "/users", Kind::Create).json(body.body),
                generated: body.generated,
                complete: false,
                // An intent left by an earlier run: a user that now holds the username may
                // be ours.
                maybe_ours: ctx.ledger(key, STEP_USER).is_some(),
            };
            (
                Some(existing.shared_group(ctx, company, Some("group"))),
                user,
            )
        } else {
            (None, UserStep::Nothing)
        };
        let then = match app_done {
            // Every step done; only the final mark was missing.
            Some(app) => {
                out.other_ids.push(SideId::new("app", &app));
                Then::Finish
            }
            None => Then::Make(()),
        };
        plan(out, shared, user, then)
    }

    fn classify(&self, _: &impl Engine, _: &Job, reply: &Reply) -> Verdict {
        wire::classify_user(reply)
    }

    /// A user by lower-cased username, in a read of every user that began after the
    /// create, shared with the other rows checking at the same time.
    async fn lookup(&self, ctx: &impl Engine, job: &Job) -> Result<(Lookup, u32), RowError> {
        let found = match self.find_user(ctx, &job.key).await? {
            Ok(Some(id)) => Lookup::Found { id, ours: None },
            Ok(None) => Lookup::Absent,
            Err(e) => Lookup::CannotTell(format!("the users could not be read: {e}")),
        };
        Ok((found, 0))
    }

    fn reason(&self, _: &Job, reply: &Reply) -> String {
        readable(reply)
    }

    /// Someone else's user holds the username: left alone, `exists`.
    fn theirs(&self, out: &mut Outcome, id: String, _: Option<u16>, _: String) {
        out.user_id = Some(id);
        out.other_ids.clear();
        out.status = Status::Exists;
        out.http_status = Some(409);
    }

    fn classify_shared(&self, reply: &Reply) -> Verdict {
        wire::classify_group(reply)
    }

    /// A group by exact name (`search.name=` is case-sensitive; matched exactly again).
    /// A read that fails halts nothing but cannot tell, so the intent stays and a re-run
    /// reconciles it.
    async fn lookup_shared(&self, ctx: &impl Engine, shared: &Shared) -> Result<Lookup, RowError> {
        let company = shared.find.as_str();
        match client::read_groups(ctx, &self.session, &[("search.name", company)]).await {
            Ok(groups) => Ok(match groups.by_name.get(company) {
                Some(id) => Lookup::Found {
                    id: id.clone(),
                    ours: None,
                },
                None => Lookup::Absent,
            }),
            Err(_) if ctx.halted() => Err(RowError::Halted),
            Err(e) => Ok(Lookup::CannotTell(format!(
                "the groups could not be read: {e}"
            ))),
        }
    }

    fn use_shared(&self, request: &mut Request, group_id: &str) {
        if let Body::Json(body) = &mut request.body {
            wire::set_group(body, group_id);
        }
    }

    async fn before_dependent(&self, ctx: &impl Engine, existing: &Existing) {
        existing.gate.wait(ctx).await;
    }

    async fn after_dependent(&self, existing: &Existing, retries: u32) {
        if let Some(w) = &existing.gate.per_minute {
            w.count(retries).await;
        }
    }

    fn done_id(&self, planned: &str, reply: &Reply) -> String {
        reply_id(reply).unwrap_or_else(|| planned.to_string())
    }

    fn make(&self, existing: &Existing, job: &Job, user_id: &str, (): &()) -> Vec<Dependent> {
        vec![app_step(&existing.gate, job, user_id)]
    }

    /// The apps user `user_id` is granted (`GET /apps/pegasus2.0?user=`, paced by the
    /// `/apps` limits; issue 28), as [`wire::granted_apps`] writes them; granted again only
    /// when they differ from the row's. A failed read reads as no access, so the grant that
    /// follows is the repeatable `PUT`.
    async fn align(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        user_id: &str,
        (): &(),
        out: &mut Outcome,
    ) -> Result<Result<Aligned, String>, RowError> {
        let gate = &existing.gate;
        gate.wait(ctx).await;
        let req = Request::get("/apps/pegasus2.0")
            .query("user", user_id)
            .limited_by(gate.per_second.clone());
        let reply = self.session.send(ctx, req).await;
        if ctx.halted() {
            return Err(RowError::Halted);
        }
        let have = match reply {
            Ok(r) => {
                out.attempts += r.attempts;
                wire::granted_apps(&r).unwrap_or_default()
            }
            Err(e) => {
                out.attempts += e.attempts();
                String::new()
            }
        };
        let want = job.row.get(Field::Apps).unwrap_or("");
        let mut aligned = Aligned::default();
        if !crate::audit::same(Field::Apps, want, &have) {
            aligned.steps.push(app_step(gate, job, user_id));
        }
        Ok(Ok(aligned))
    }
}

impl Vendor for Pegasus {
    /// Every user of the account (paged through `GET /users`), inactive ones included
    /// (`active: false`), `company` from the names of their groups.
    async fn list_users(
        &self,
        ctx: &impl Engine,
        want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        let users = client::read_users(ctx, &self.session).await?;
        let groups = client::read_groups(ctx, &self.session, &[]).await?;
        let mut listed: Vec<PlatformUser> = users
            .order
            .iter()
            .filter_map(|id| users.by_id.get(id))
            .filter_map(|u| wire::platform_user(u, &groups.names))
            .collect();
        if want.has(Field::Apps) {
            // Issue 28: one `GET /apps/pegasus2.0?user=` per user, paced by the `/apps`
            // limits, only when the roster has an apps column.
            let gate = AppsGate::of(ctx);
            for user in &mut listed {
                let req = Request::get("/apps/pegasus2.0")
                    .query("user", &user.id)
                    .limited_by(gate.per_second.clone());
                gate.wait(ctx).await;
                let reply = self
                    .session
                    .send(ctx, req)
                    .await
                    .map_err(|e| VendorError::from_send("GET /apps/pegasus2.0", e))?;
                let apps = wire::granted_apps(&reply).map_err(|e| {
                    VendorError::Unavailable(format!("GET /apps/pegasus2.0?user={}: {e}", user.id))
                })?;
                user.fields.push((Field::Apps, apps));
            }
        }
        Ok(listed)
    }

    async fn probe(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        self.session.login(ctx).await?;
        if let Some(me) = self.session.check_scopes(ctx).await? {
            let _ = self.me.set(me);
        }
        Ok(())
    }

    fn logged_in_as(&self) -> Option<String> {
        self.me.get().cloned()
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        let existing = self.existing(ctx, &jobs).await?;
        // The `/apps` limits pace every row that is granted app access.
        let gate = &existing.gate;
        let paces = [
            gate.per_second.pace(),
            gate.per_minute.as_ref().map(Window::pace),
        ];
        for pace in paces.into_iter().flatten() {
            ctx.http().tell(Paced::Allowed(pace));
        }
        ctx.rows(self, &existing, jobs).await;
        Ok(())
    }
}

fn group_key(company: &str) -> String {
    format!("group:{company}")
}

/// The id of a step the ledger knows as done.
fn done_id(ctx: &impl Engine, key: &str, step: &str) -> Option<String> {
    ctx.ledger(key, step)
        .filter(|s| s.state == StepState::Done)
        .and_then(|s| s.id.clone())
}
