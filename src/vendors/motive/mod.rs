//! Motive (formerly KeepTruckin), `shared/vendors/motive.md`; issue 5.
//!
//! - Auth: `X-Api-Key: <key>`, or `Authorization: Bearer <key>` with `auth = "bearer"`.
//!   Probe `GET /companies` (the target URL ends in `/v1`): 401 → bad key, 403 → not allowed.
//! - Existing users: `GET /users` (every page, `per_page=100`, items wrapped in `user`), read
//!   once per target and matched by muster's external id, then email, then username.
//!   Groups: `GET /groups` (every page), read once when a row names groups.
//! - Create: `POST /users`, flat body with only what the row sets (`rules::create_body`), and
//!   always `external_ids_attributes [{external_id, integration_name}]`: the roster's own
//!   external id, else one derived from the target and the row's identity key, so a re-run
//!   finds what an earlier run made. A create whose outcome is unknown — and a refusal that
//!   says the user is taken — is reconciled with `GET /users/lookup_by_external_id` and
//!   `GET /users/lookup?email=` before anything is re-sent.
//! - A 200 (not 201) to a create is a test-mode key: nothing was saved. The row fails with
//!   that explanation and the target halts; the first create of a target goes alone so one
//!   row, not a whole wave, learns it.
//! - Update (`action = update|upsert`, `--mode upsert|sync`): `PUT /users/{id}` with the
//!   fields that differ from the listed user (never the password), and `status: active`
//!   for a deactivated user the roster lists (not marked `disabled`); nothing differs →
//!   `exists`.
//! - Motive documents no delete; `action = delete` (and `--mode sync --prune`) deactivates:
//!   `PUT /users/{id}` `{"status": "deactivated"}`.
//! - `list_users` (audit, upsert, sync): every page of `GET /users` in roster terms.

pub mod rules;
mod wire;

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde_json::Value;

use crate::config::Credentials;
use crate::http::retry::Kind;
use crate::http::{Reply, Request};
use crate::model::Mode;
use crate::model::StepState;
use crate::model::{Action, Field, Outcome, Problem, Row, Status};
use crate::secret::Secret;
use crate::vendors::protocol::Engine;

use super::common::send;
use super::listing::Pages;
use super::protocol::{self, KeepIntent, RowError, RowPlan, Rows, Then, UserStep, Verdict};
use super::{Job, STEP_COMPLETE, STEP_USER, Vendor, VendorError};
use crate::model::{PlatformUser, list_items};

use wire::{Group, Page, User, readable, says_taken};

/// Items asked for per page of `GET /users` and `GET /groups` (the contract's assumed max).
const PER_PAGE: u64 = 100;

/// The Motive connector of one target.
#[derive(Debug)]
pub struct Motive {
    credentials: Credentials,
    /// The company the key belongs to (`GET /companies`, learned at probe): an API key
    /// names no user, so this is the account the journal's scope names.
    company: std::sync::OnceLock<String>,
}

/// The users of the target, read once.
#[derive(Debug, Default)]
struct Existing {
    users: Vec<User>,
    /// External ids under the target's integration name.
    by_external: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    by_username: HashMap<String, usize>,
}

impl Existing {
    fn new(users: Vec<User>, integration: &str) -> Existing {
        let mut e = Existing::default();
        for (i, u) in users.iter().enumerate() {
            for (id, name) in &u.external_ids {
                if name == integration {
                    e.by_external.entry(id.clone()).or_insert(i);
                }
            }
            if let Some(m) = &u.email {
                e.by_email.entry(m.clone()).or_insert(i);
            }
            if let Some(n) = &u.username {
                e.by_username.entry(n.clone()).or_insert(i);
            }
        }
        e.users = users;
        e
    }

    /// Who the row is on the platform.
    fn find(&self, row: &Row, external_id: &str, target: &str) -> Found<'_> {
        if let Some(&i) = self.by_external.get(external_id) {
            return Found::Ours(&self.users[i]);
        }
        let email = row.get(Field::Email).map(|s| s.trim().to_lowercase());
        let username = row.get(Field::Username).map(|s| s.trim().to_lowercase());
        let by_email = email.as_ref().and_then(|e| self.by_email.get(e)).copied();
        let by_username = username
            .as_ref()
            .and_then(|n| self.by_username.get(n))
            .copied();
        match (by_email, by_username) {
            (Some(a), Some(b)) if a != b => Found::Conflict(format!(
                "the email belongs to user {} and the username \"{}\" to another user, {}, on target {target}",
                self.users[a].id,
                username.unwrap_or_default(),
                self.users[b].id
            )),
            (Some(a), _) => Found::Theirs(&self.users[a]),
            (None, Some(b)) => {
                let u = &self.users[b];
                match (&email, &u.email) {
                    (Some(mine), Some(theirs)) if mine != theirs => Found::Conflict(format!(
                        "the username \"{}\" is taken on target {target} by user {}, who has another email",
                        username.unwrap_or_default(),
                        u.id
                    )),
                    _ => Found::Theirs(u),
                }
            }
            (None, None) => Found::Nobody,
        }
    }
}

/// A row's user on the platform.
#[derive(Debug)]
enum Found<'a> {
    /// Carries the row's external id: made by muster from this roster.
    Ours(&'a User),
    /// Same email or username, made by someone else.
    Theirs(&'a User),
    /// The email and the username point at different users.
    Conflict(String),
    Nobody,
}

/// The platform's groups, read once.
#[derive(Debug, Default)]
struct Groups {
    by_name: HashMap<String, i64>,
    ids: HashSet<i64>,
}

/// What a lookup found.
enum Lookup {
    Ours(User),
    Theirs(User),
    Nobody,
    /// The lookup itself failed: whether the user exists is not known.
    Failed(String),
}

impl Motive {
    /// A connector sending `credentials.token` as the API key.
    pub fn new(credentials: Credentials) -> Motive {
        Motive {
            credentials,
            company: std::sync::OnceLock::new(),
        }
    }

    /// A user the platform already has: `exists`, or its update when the run asks for it.
    fn existing_user(
        &self,
        ctx: &impl Engine,
        job: &Job,
        user: &User,
        group_ids: &[i64],
        out: &mut Outcome,
    ) -> UserStep {
        out.user_id = Some(user.id.clone());
        out.status = Status::Exists;
        let update = matches!(job.action, Action::Update | Action::Upsert)
            || matches!(ctx.mode(), Mode::Upsert | Mode::Sync);
        if !update {
            return UserStep::Nothing;
        }
        // Issue 28: only `--mode sync --prune` removes a membership; otherwise the groups
        // the user has stay in the list Motive's update replaces.
        let mut groups = group_ids.to_vec();
        let prune = ctx.mode() == Mode::Sync && ctx.prune();
        if !groups.is_empty() && !prune {
            for id in group_ids_of(&user.fields) {
                if !groups.contains(&id) {
                    groups.push(id);
                }
            }
        }
        let wanted = rules::fields_body(&job.row, &groups);
        let mut diff = rules::changes(&wanted, &user.fields);
        // Listed on the roster: a deactivated user is given its access back (see
        // `audit::differences`).
        if !is_active(&user.fields) && !crate::audit::roster_disabled(&job.row) {
            diff.insert("status".into(), Value::from("active"));
        }
        if diff.is_empty() {
            return UserStep::Nothing;
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return UserStep::Nothing;
        }
        // Journaled like a create; a repeated PUT of the same fields is harmless.
        UserStep::Write {
            name: "update".into(),
            request: Request::new(Method::PUT, format!("/users/{}", user.id), Kind::Idempotent)
                .json(Value::Object(diff)),
            keep: KeepIntent::Always,
            id: user.id.clone(),
            done: Status::Updated,
        }
    }

    /// Motive documents no delete: `action = delete` (and `--mode sync --prune`) deactivates
    /// the user with `PUT /users/{id}` `{"status": "deactivated"}`; an inactive user is left
    /// as it is (`deleted`, no request).
    fn deactivate(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        external_id: &str,
        mut out: Outcome,
    ) -> RowPlan<()> {
        let user = match existing.find(&job.row, external_id, &ctx.target().name) {
            Found::Ours(u) | Found::Theirs(u) => u,
            Found::Conflict(message) => {
                out.status = Status::Failed;
                out.error = Some(message);
                return RowPlan::done(out);
            }
            Found::Nobody => {
                out.status = Status::Failed;
                out.error = Some(format!(
                    "no user {} on target {} to deactivate",
                    job.key,
                    ctx.target().name
                ));
                return RowPlan::done(out);
            }
        };
        out.user_id = Some(user.id.clone());
        if !is_active(&user.fields) {
            out.status = Status::Deleted;
            return RowPlan::done(out);
        }
        if ctx.dry_run() {
            return RowPlan::done(out);
        }
        let body = serde_json::json!({ "status": "deactivated" });
        // Without an answer the intent stays; deactivating twice is harmless.
        RowPlan {
            user: UserStep::Write {
                name: format!("deactivate:{}", user.id),
                request: Request::new(Method::PUT, format!("/users/{}", user.id), Kind::Idempotent)
                    .json(body),
                keep: KeepIntent::Always,
                id: user.id.clone(),
                done: Status::Deleted,
            },
            ..RowPlan::done(out)
        }
    }
}

/// What exists on the target, read once: its users, and its groups when a row names some.
pub struct Listing {
    users: Existing,
    groups: Groups,
}

impl Rows for Motive {
    type Existing = Listing;
    /// A row's groups go in its user's body: nothing follows the user.
    type Wanted = ();
    /// A user the ledger says muster made, which the listing lacks, as a look-up found it.
    type Extra = Option<User>;
    const FIRST_CREATE_ALONE: bool = true;

    /// The journal says muster made the row's user, yet the list lacks it: ask directly.
    async fn recheck(
        &self,
        ctx: &impl Engine,
        existing: &Listing,
        job: &Job,
    ) -> Result<(Option<User>, u32), RowError> {
        let key = job.key.as_str();
        let made = ctx
            .ledger(key, STEP_USER)
            .is_some_and(|s| s.state == StepState::Done)
            || ctx.ledger(key, STEP_COMPLETE).is_some();
        if !made || job.action == Action::Delete {
            return Ok((None, 0));
        }
        let external_id = rules::external_id(&job.row, &ctx.target().name, key);
        if !matches!(
            existing
                .users
                .find(&job.row, &external_id, &ctx.target().name),
            Found::Nobody
        ) {
            return Ok((None, 0));
        }
        let (found, attempts) = look_up(ctx, job).await?;
        let user = match found {
            Lookup::Ours(user) | Lookup::Theirs(user) => Some(user),
            Lookup::Nobody | Lookup::Failed(_) => None,
        };
        Ok((user, attempts))
    }

    fn plan(
        &self,
        ctx: &impl Engine,
        listing: &Listing,
        job: &Job,
        found: Option<User>,
    ) -> RowPlan<()> {
        let row = &job.row;
        let mut out = Outcome::new(Status::Planned, job.action);
        let key = job.key.as_str();
        let external_id = rules::external_id(row, &ctx.target().name, key);
        // A deactivation needs only the user's identity, not a valid create.
        if job.action == Action::Delete {
            return self.deactivate(ctx, &listing.users, job, &external_id, out);
        }
        let mut problems = super::problems(crate::model::VendorKind::Motive, row, job.action);
        let group_ids = resolve_groups(row, &listing.groups, &ctx.target().name, &mut problems);
        if !problems.is_empty() {
            return RowPlan::done(Outcome::invalid(job.action, &problems));
        }
        let integration = ctx.target().integration_name.as_str();
        let ledger = ctx.ledger(key, STEP_USER);
        let complete = ctx.ledger(key, STEP_COMPLETE).is_some();

        let user = match listing.users.find(row, &external_id, &ctx.target().name) {
            Found::Conflict(message) => {
                out.status = Status::Failed;
                out.error = Some(message);
                UserStep::Nothing
            }
            Found::Ours(user) if ledger.is_some() && !complete => {
                // An earlier run made it (or sent the create and never heard back): the
                // platform's list, read after that intent, says it happened.
                out.user_id = Some(user.id.clone());
                out.status = Status::Exists;
                if ctx.dry_run() {
                    return RowPlan::done(out);
                }
                return RowPlan {
                    settle: vec![(STEP_USER.to_string(), Some(user.id.clone()))],
                    then: Then::Finish,
                    ..RowPlan::done(out)
                };
            }
            Found::Ours(user) | Found::Theirs(user) => {
                self.existing_user(ctx, job, user, &group_ids, &mut out)
            }
            Found::Nobody => match &found {
                Some(user) => self.existing_user(ctx, job, user, &group_ids, &mut out),
                None if job.action == Action::Update => {
                    out.status = Status::Failed;
                    out.error = Some(format!(
                        "no user {key} on target {} to update",
                        ctx.target().name
                    ));
                    UserStep::Nothing
                }
                None if ctx.dry_run() => UserStep::Nothing,
                None => UserStep::Create {
                    request: Request::new(Method::POST, "/users", Kind::Create).json(
                        rules::create_body(row, &group_ids, &external_id, integration),
                    ),
                    generated: None,
                    complete: true,
                    maybe_ours: false,
                },
            },
        };
        RowPlan {
            user,
            ..RowPlan::done(out)
        }
    }

    fn classify(&self, ctx: &impl Engine, job: &Job, reply: &Reply) -> Verdict {
        classify_create(reply, job.row.get(Field::Password), &ctx.target().name)
    }

    async fn lookup(
        &self,
        ctx: &impl Engine,
        job: &Job,
    ) -> Result<(protocol::Lookup, u32), RowError> {
        let (found, attempts) = look_up(ctx, job).await?;
        Ok((found.into_protocol(), attempts))
    }

    fn reason(&self, job: &Job, reply: &Reply) -> String {
        readable(reply.status, &reply.body, job.row.get(Field::Password))
    }

    /// A lost create's look-up found the user made by someone else: it exists. Refused as
    /// taken by a user muster did not make: the row fails.
    fn theirs(&self, out: &mut Outcome, id: String, status: Option<u16>, reason: String) {
        out.user_id = Some(id);
        match status {
            None => {
                out.status = Status::Exists;
                out.error = None;
            }
            Some(_) => {
                out.status = Status::Failed;
                out.http_status = status;
                out.error = Some(reason);
            }
        }
    }
}

/// The company a `GET /companies` answer names (`{"companies": [{"company": {"id": 1}}]}`)
/// as `company ID`, when it names exactly one.
fn company_of(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let companies = v.get("companies")?.as_array()?;
    let [only] = companies.as_slice() else {
        return None;
    };
    let c = only.get("company").unwrap_or(only);
    match c.get("id")? {
        Value::Number(n) => Some(format!("company {n}")),
        Value::String(s) if !s.trim().is_empty() => Some(format!("company {}", s.trim())),
        _ => None,
    }
}

impl Vendor for Motive {
    fn account(&self) -> Option<String> {
        self.company.get().cloned()
    }

    /// Every page of `GET /users`, in roster terms. With a groups column (issue 28), each
    /// user's groups too (`group_ids`, or its custom role's for a fleet user), by name from
    /// every page of `GET /groups`; an id the roster gives is another name of its group.
    async fn list_users(
        &self,
        ctx: &impl Engine,
        want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        let integration = ctx.target().integration_name.as_str();
        let groups = want.has(Field::Groups);
        let mut listed = Vec::new();
        read_users(ctx, |u| {
            let ids = if groups {
                group_ids_of(&u.fields)
            } else {
                Vec::new()
            };
            listed.extend(platform_user(&u, integration).map(|p| (p, ids)));
        })
        .await?;
        if !groups {
            return Ok(listed.into_iter().map(|(p, _)| p).collect());
        }
        let mut names: HashMap<i64, String> = HashMap::new();
        read_all(
            ctx,
            "/groups",
            "groups",
            Group::from_value,
            |g| g.id,
            |g| {
                names.insert(g.id, g.name.trim().to_string());
            },
        )
        .await?;
        Ok(listed
            .into_iter()
            .map(|(mut user, ids)| {
                let name = |id: &i64| names.get(id).cloned().unwrap_or_else(|| id.to_string());
                let mut held: Vec<String> = ids.iter().map(name).collect();
                held.sort();
                user.fields.push((Field::Groups, held.join("|")));
                user.aliases = ids.iter().map(|id| (id.to_string(), name(id))).collect();
                user
            })
            .collect())
    }

    async fn probe(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        let key = self
            .credentials
            .token
            .as_ref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| VendorError::Auth("no API key configured (api_key_env)".into()))?;
        let header = if ctx.target().bearer {
            (
                AUTHORIZATION,
                Secret::new(format!("Bearer {}", key.expose())),
            )
        } else {
            (HeaderName::from_static("x-api-key"), key.clone())
        };
        ctx.http().set_auth(vec![header]);
        let reply = ctx
            .http()
            .send(Request::get("/companies"))
            .await
            .map_err(|e| VendorError::from_send("GET /companies", e))?;
        match reply.status {
            200..=299 => {
                if let Some(company) = company_of(&reply.body) {
                    let _ = self.company.set(company);
                }
                Ok(())
            }
            401 => Err(VendorError::Auth(format!(
                "GET /companies answered HTTP 401: the API key was not accepted ({})",
                readable(401, &reply.body, None)
            ))),
            403 => Err(VendorError::Auth(format!(
                "GET /companies answered HTTP 403: key valid but not allowed ({})",
                readable(403, &reply.body, None)
            ))),
            s => Err(VendorError::Unavailable(format!(
                "GET /companies answered {}",
                readable(s, &reply.body, None)
            ))),
        }
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        let integration = ctx.target().integration_name.clone();
        let mut users = Vec::new();
        read_users(ctx, |u| users.push(u)).await?;
        let existing = Existing::new(users, &integration);
        let needs_groups = jobs.iter().any(|j| {
            j.row
                .get(Field::Groups)
                .is_some_and(|g| !list_items(g).is_empty())
        });
        let mut groups = Groups::default();
        if needs_groups {
            read_all(
                ctx,
                "/groups",
                "groups",
                Group::from_value,
                |g| g.id,
                |g| {
                    groups.by_name.insert(g.name.trim().to_lowercase(), g.id);
                    groups.ids.insert(g.id);
                },
            )
            .await?;
        }
        // The same user twice for one target: only the first row is sent.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut todo = Vec::with_capacity(jobs.len());
        for job in jobs {
            match seen.get(&job.key) {
                Some(first) => {
                    let p = Problem::row(format!(
                        "the same user ({}) as {first}: sent once, from that row",
                        job.key
                    ));
                    ctx.finish(job.index, Outcome::invalid(job.action, &[p]));
                }
                None => {
                    let at = format!("{} row {}", job.row.layout.file, job.row.line);
                    seen.insert(job.key.clone(), at);
                    todo.push(job);
                }
            }
        }
        let listing = Listing {
            users: existing,
            groups,
        };
        ctx.rows(self, &listing, todo).await;
        Ok(())
    }
}

/// How a `POST /users` reply reads. 201 with the user is made; a 200 is a test-mode key,
/// which saves nothing (confirmed by a look-up before the target stops); a refusal that
/// says the user is taken may be muster's own, from a create whose answer was lost.
/// `password` is kept out of the reason.
fn classify_create(reply: &Reply, password: Option<&str>, target: &str) -> Verdict {
    if reply.status == 200 {
        return Verdict::Unconfirmed {
            reason: format!(
                "HTTP 200 to the create, but no user was saved: the API key of target {target} is in test mode (Motive answers writes with 200 and keeps nothing); the target stops, since every further write would be lost too"
            ),
            halt: "the API key is in test mode: Motive answered a create with HTTP 200 and saved nothing"
                .into(),
        };
    }
    if reply.ok() {
        return Verdict::Made(
            reply
                .json()
                .as_ref()
                .and_then(User::from_value)
                .map(|u| u.id),
        );
    }
    let reason = readable(reply.status, &reply.body, password);
    if says_taken(&reply.body) {
        return Verdict::Taken {
            if_absent: reason.clone(),
            reason,
        };
    }
    Verdict::Refused { reason }
}

impl Lookup {
    /// In the engine's terms: ours when it carries the row's external id.
    fn into_protocol(self) -> protocol::Lookup {
        match self {
            Lookup::Ours(u) => protocol::Lookup::Found {
                id: u.id,
                ours: Some(true),
            },
            Lookup::Theirs(u) => protocol::Lookup::Found {
                id: u.id,
                ours: Some(false),
            },
            Lookup::Nobody => protocol::Lookup::Absent,
            Lookup::Failed(why) => protocol::Lookup::CannotTell(why),
        }
    }
}

/// The groups a listed user belongs to: `group_ids` (drivers) and its custom role's
/// `group_ids` (fleet users restricted to groups), each once.
fn group_ids_of(fields: &serde_json::Map<String, Value>) -> Vec<i64> {
    let ids = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut all = ids(fields.get("group_ids"));
    all.extend(ids(fields
        .get("custom_user_role")
        .and_then(|r| r.get("group_ids"))));
    all.sort_unstable();
    all.dedup();
    all
}

/// Whether a listed user is active (Motive's `status` is `active` or `deactivated`).
fn is_active(fields: &serde_json::Map<String, Value>) -> bool {
    fields.get("status").and_then(Value::as_str) != Some("deactivated")
}

/// A listed user in roster terms, keyed like `identity_key`: email, else username, else
/// its external id under `integration`. `None` when it has none of them.
fn platform_user(user: &User, integration: &str) -> Option<PlatformUser> {
    let external = user
        .external_ids
        .iter()
        .find(|(_, name)| name == integration)
        .map(|(id, _)| id.clone());
    let key = user
        .email
        .clone()
        .or_else(|| user.username.clone())
        .or_else(|| external.as_ref().map(|e| e.trim().to_lowercase()))?;
    let mut fields = Vec::new();
    for (field, name) in [
        (Field::FirstName, "first_name"),
        (Field::LastName, "last_name"),
        (Field::Email, "email"),
        (Field::Username, "username"),
        (Field::Phone, "phone"),
        (Field::PhoneExt, "phone_ext"),
        (Field::TimeZone, "time_zone"),
        (Field::Role, "role"),
        (Field::EldMode, "eld_mode"),
        (Field::TimeTrackingMode, "time_tracking_mode"),
        (Field::DutyStatus, "duty_status"),
        (Field::Cycle, "cycle"),
        (Field::DotId, "dot_id"),
        (Field::DriverCompanyId, "driver_company_id"),
        (Field::DriversLicenseNumber, "drivers_license_number"),
        (Field::DriversLicenseState, "drivers_license_state"),
    ] {
        let text = match user.fields.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        fields.push((field, text));
    }
    if let Some(e) = external {
        fields.push((Field::ExternalId, e));
    }
    Some(PlatformUser {
        key,
        id: user.id.clone(),
        fields,
        active: is_active(&user.fields),
        aliases: Vec::new(),
    })
}

/// The ids of the row's groups (names or ids, `|`-separated); unknown ones become problems.
fn resolve_groups(
    row: &Row,
    groups: &Groups,
    target: &str,
    problems: &mut Vec<Problem>,
) -> Vec<i64> {
    let Some(col) = row.layout.column_of(Field::Groups) else {
        return Vec::new();
    };
    let Some(text) = row.cell(col) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for item in list_items(text) {
        let by_name = groups.by_name.get(&item.to_lowercase()).copied();
        let by_id = item
            .parse::<i64>()
            .ok()
            .filter(|id| groups.ids.contains(id));
        match by_name.or(by_id) {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => problems.push(Problem::cell(
                row,
                col,
                format!(
                    "names group \"{item}\", which target {target} does not have (by name or id)"
                ),
            )),
        }
    }
    ids
}

/// Looks the user of `job` up ([`lookup`]): what it found and the attempts it took.
async fn look_up(ctx: &impl Engine, job: &Job) -> Result<(Lookup, u32), RowError> {
    let external_id = rules::external_id(&job.row, &ctx.target().name, &job.key);
    let integration = ctx.target().integration_name.as_str();
    let mut counted = Outcome::new(Status::Planned, job.action);
    let found = lookup(ctx, &job.row, &external_id, integration, &mut counted).await?;
    Ok((found, counted.attempts))
}

/// Looks the row's user up: by external id first, then by email (else username).
async fn lookup(
    ctx: &impl Engine,
    row: &Row,
    external_id: &str,
    integration: &str,
    out: &mut Outcome,
) -> Result<Lookup, RowError> {
    let req = Request::get("/users/lookup_by_external_id")
        .query("external_id", external_id)
        .query("integration_name", integration);
    match send(ctx, req, out).await? {
        Ok(r) if r.ok() => {
            if let Some(u) = r.json().as_ref().and_then(User::from_value) {
                return Ok(Lookup::Ours(u));
            }
            return Ok(Lookup::Failed(format!(
                "GET /users/lookup_by_external_id answered HTTP {} without a user",
                r.status
            )));
        }
        Ok(r) if r.status == 404 => {}
        Ok(r) => {
            return Ok(Lookup::Failed(format!(
                "GET /users/lookup_by_external_id: {}",
                readable(r.status, &r.body, None)
            )));
        }
        Err(e) => {
            return Ok(Lookup::Failed(format!(
                "GET /users/lookup_by_external_id: {e}"
            )));
        }
    }
    let by = [(Field::Email, "email"), (Field::Username, "username")]
        .into_iter()
        .find_map(|(f, name)| row.get(f).map(|v| (name, v.trim().to_string())));
    let Some((name, value)) = by else {
        return Ok(Lookup::Nobody);
    };
    match send(ctx, Request::get("/users/lookup").query(name, value), out).await? {
        Ok(r) if r.ok() => match r.json().as_ref().and_then(User::from_value) {
            Some(u) if u.has_external_id(external_id, integration) => Ok(Lookup::Ours(u)),
            Some(u) => Ok(Lookup::Theirs(u)),
            None => Ok(Lookup::Failed(format!(
                "GET /users/lookup answered HTTP {} without a user",
                r.status
            ))),
        },
        Ok(r) if r.status == 404 => Ok(Lookup::Nobody),
        Ok(r) => Ok(Lookup::Failed(format!(
            "GET /users/lookup: {}",
            readable(r.status, &r.body, None)
        ))),
        Err(e) => Ok(Lookup::Failed(format!("GET /users/lookup: {e}"))),
    }
}

/// Every user of `GET /users`, page by page, each given to `keep` as its page is read.
async fn read_users(ctx: &impl Engine, keep: impl FnMut(User)) -> Result<(), VendorError> {
    read_all(
        ctx,
        "/users",
        "users",
        User::from_value,
        |u| u.id.clone(),
        keep,
    )
    .await
}

/// Every item of a paginated list (`GET /users`, `GET /groups`), page by page within the
/// target's listing budget (`listing::Pages`): `read` makes an item of each entry (`None`:
/// skipped), `id` says which it is (a page of only ids seen before ends the listing with
/// an error: a platform ignoring `page_no`), `keep` takes it. A page's text and `Value`s
/// are dropped once its items are made.
async fn read_all<T, I: std::hash::Hash>(
    ctx: &impl Engine,
    path: &str,
    key: &str,
    read: impl Fn(&Value) -> Option<T>,
    id: impl Fn(&T) -> I,
    mut keep: impl FnMut(T),
) -> Result<(), VendorError> {
    let what = format!("GET {path}");
    let mut pages = Pages::new(ctx.target(), &what);
    let mut seen = 0u64;
    loop {
        let page_no = pages.next_page()?;
        let req = Request::get(path)
            .query("per_page", PER_PAGE.to_string())
            .query("page_no", page_no.to_string())
            .capped(pages.cap());
        let reply = ctx
            .http()
            .send(req)
            .await
            .map_err(|e| VendorError::from_send(&what, e))?;
        match reply.status {
            200..=299 => {}
            401 | 403 => {
                return Err(VendorError::Auth(format!(
                    "{what} answered {}",
                    readable(reply.status, &reply.body, None)
                )));
            }
            s => {
                return Err(VendorError::Unavailable(format!(
                    "{what} answered {}",
                    readable(s, &reply.body, None)
                )));
            }
        }
        let page = Page::parse(&reply.body, key)
            .map_err(|e| VendorError::Protocol(format!("{what} page {page_no}: {e}")))?;
        let bytes = reply.body.len();
        drop(reply);
        let items: Vec<T> = page.items.iter().filter_map(&read).collect();
        pages.read(bytes, items.iter().map(&id))?;
        seen += page.items.len() as u64;
        let more = !page.items.is_empty() && page.has_more(PER_PAGE, seen);
        items.into_iter().for_each(&mut keep);
        if !more {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::tests::row;
    use serde_json::json;

    #[test]
    fn the_account_is_the_one_company_the_key_belongs_to() {
        let cases = [
            (
                r#"{"companies":[{"company":{"id":1,"name":"Sandbox Freight"}}]}"#,
                Some("company 1"),
            ),
            (r#"{"companies":[{"id":"c-9"}]}"#, Some("company c-9")),
            (r#"{"companies":[]}"#, None),
            (
                r#"{"companies":[{"company":{"id":1}},{"company":{"id":2}}]}"#,
                None,
            ),
            (r#"{"companies":[{"company":{"name":"x"}}]}"#, None),
            ("not json", None),
        ];
        for (body, want) in cases {
            assert_eq!(company_of(body).as_deref(), want, "{body}");
        }
    }

    #[test]
    fn listed_users_read_in_roster_terms_keyed_like_rows() {
        let cases = [
            (
                json!({"user": {"id": 5, "first_name": "Ana", "email": "Ana@X.test",
                    "status": "deactivated", "phone": "+43 1",
                    "external_ids": [{"external_id": "E1", "integration_name": "muster"}]}}),
                Some(("ana@x.test", false, 4)),
            ),
            (
                json!({"id": 6, "username": "Bo", "status": "active"}),
                Some(("bo", true, 1)),
            ),
            (
                json!({"id": 7, "external_ids": [{"external_id": "E7", "integration_name": "muster"}]}),
                Some(("e7", true, 1)),
            ),
            (json!({"id": 8, "first_name": "Nobody"}), None),
        ];
        for (value, want) in cases {
            let u = User::from_value(&value).unwrap();
            let got = platform_user(&u, "muster");
            assert_eq!(
                got.as_ref()
                    .map(|p| (p.key.as_str(), p.active, p.fields.len())),
                want,
                "{value}"
            );
        }
    }

    use crate::http::test_reply as reply;

    #[test]
    fn create_replies_read_as_made_taken_refused_or_test_mode() {
        let taken = r#"{"error_message":"Email has already been taken"}"#;
        type Check = fn(&Verdict) -> bool;
        let cases: [(u16, &str, Check); 6] = [
            (201, r#"{"user":{"id":77,"first_name":"A"}}"#, |v| {
                *v == Verdict::Made(Some("77".into()))
            }),
            (201, "{}", |v| *v == Verdict::Made(None)),
            (200, r#"{"user":{"id":77}}"#, |v| {
                matches!(v, Verdict::Unconfirmed { reason, halt }
                    if reason.contains("test mode") && halt.contains("test mode"))
            }),
            (
                400,
                taken,
                |v| matches!(v, Verdict::Taken { reason, .. } if reason.contains("already been taken")),
            ),
            (
                400,
                r#"{"error_message":"First name can't be blank"}"#,
                |v| matches!(v, Verdict::Refused { reason } if reason.contains("First name")),
            ),
            // The row's password never reaches a reason, even when the platform echoes it.
            (
                422,
                r#"{"error_message":"password s3cret-Pw is weak"}"#,
                |v| matches!(v, Verdict::Refused { reason } if !reason.contains("s3cret-Pw")),
            ),
        ];
        for (status, body, ok) in cases {
            let got = classify_create(&reply(status, body), Some("s3cret-Pw"), "motive");
            assert!(ok(&got), "{status} {body}: {got:?}");
        }
    }

    fn users() -> Existing {
        let users = [
            json!({"id": 1, "email": "ana@x.test", "username": "ana",
                "external_ids": [{"external_id": "muster-1", "integration_name": "muster"}]}),
            json!({"id": 2, "email": "bo@x.test", "username": "bo"}),
            json!({"id": 3, "username": "cy",
                "external_ids": [{"external_id": "muster-3", "integration_name": "hr"}]}),
        ];
        Existing::new(
            users.iter().filter_map(User::from_value).collect(),
            "muster",
        )
    }

    fn found(cells: &[(&str, &str)], external_id: &str) -> String {
        match users().find(&row(cells), external_id, "motive") {
            Found::Ours(u) => format!("ours {}", u.id),
            Found::Theirs(u) => format!("theirs {}", u.id),
            Found::Conflict(m) => m,
            Found::Nobody => "nobody".into(),
        }
    }

    #[test]
    fn users_are_matched_by_external_id_then_email_then_username() {
        let cases = [
            (vec![("email", "new@x.test")], "muster-1", "ours 1"),
            (vec![("email", "BO@x.test")], "muster-9", "theirs 2"),
            (vec![("username", "Cy")], "muster-3", "theirs 3"),
            (
                vec![("email", "new@x.test"), ("username", "cy")],
                "muster-9",
                "theirs 3",
            ),
            (vec![("email", "new@x.test")], "muster-9", "nobody"),
            (
                vec![("email", "ana@x.test"), ("username", "bo")],
                "muster-9",
                "the email belongs to user 1 and the username \"bo\" to another user, 2, on target motive",
            ),
            (
                vec![("email", "new@x.test"), ("username", "bo")],
                "muster-9",
                "the username \"bo\" is taken on target motive by user 2, who has another email",
            ),
        ];
        for (cells, ext, want) in cases {
            assert_eq!(found(&cells, ext), want, "{cells:?}");
        }
    }

    #[test]
    fn groups_resolve_by_name_or_id_and_unknown_ones_are_problems() {
        let mut groups = Groups::default();
        for (id, name) in [(101, "North"), (102, "South")] {
            groups.by_name.insert(name.to_lowercase(), id);
            groups.ids.insert(id);
        }
        let mut problems = Vec::new();
        let r = row(&[("first_name", "A"), ("groups", "north| 102 |North")]);
        assert_eq!(
            resolve_groups(&r, &groups, "motive", &mut problems),
            vec![101, 102]
        );
        assert!(problems.is_empty());
        let r = row(&[("first_name", "A"), ("groups", "North|999|Yard")]);
        assert_eq!(
            resolve_groups(&r, &groups, "motive", &mut problems),
            vec![101]
        );
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "groups (B2): \"North|999|Yard\" names group \"999\", which target motive does not have (by name or id)",
                "groups (B2): \"North|999|Yard\" names group \"Yard\", which target motive does not have (by name or id)",
            ]
        );
    }

    /// Row planning on a dry run, without a server: what the listing and the ledger decide.
    mod planning {
        use super::*;
        use crate::model::VendorKind;
        use crate::vendors::testing::Planner;
        use std::sync::Arc;

        fn job(action: Action, cells: &[(&str, &str)]) -> Job {
            let row = row(cells);
            let key = crate::model::identity_key(VendorKind::Motive, &row).unwrap_or_default();
            Job {
                index: 0,
                row: Arc::new(row),
                action,
                key,
            }
        }

        /// Motive holding `ana` (made by muster for this job's row: its external id) and
        /// `bo` (someone else's), with group North (101).
        fn holding(ours: &Job) -> (Existing, Groups) {
            let external = rules::external_id(&ours.row, "t", &ours.key);
            let users = [
                json!({"id": 1, "email": "ana@x.test", "first_name": "Ana", "last_name": "Lee", "role": "driver",
                    "external_ids": [{"external_id": external, "integration_name": "muster"}]}),
                json!({"id": 2, "email": "bo@x.test", "first_name": "Bo", "last_name": "Lee", "role": "driver"}),
            ];
            let existing = Existing::new(
                users.iter().filter_map(User::from_value).collect(),
                "muster",
            );
            let mut groups = Groups::default();
            groups.by_name.insert("north".into(), 101);
            groups.ids.insert(101);
            (existing, groups)
        }

        async fn planned(engine: &Planner, job: Job) -> (String, Option<String>) {
            let ana = job_of("ana@x.test", "Ana");
            let (users, groups) = holding(&ana);
            let listing = Listing { users, groups };
            let out = Motive::new(Credentials::default())
                .plan(engine, &listing, &job, None)
                .out;
            let said = match out.error {
                Some(e) => format!("{}: {e}", out.status),
                None => out.status.to_string(),
            };
            (said, out.user_id)
        }

        fn job_of(email: &str, first: &str) -> Job {
            job(
                Action::Create,
                &[
                    ("email", email),
                    ("first_name", first),
                    ("last_name", "Lee"),
                    ("role", "driver"),
                ],
            )
        }

        /// What the engine is asked to do for a row (not a dry run): settle, the user's
        /// create or write, what follows.
        fn steps(engine: &Planner, job: Job) -> String {
            let ana = job_of("ana@x.test", "Ana");
            let (users, groups) = holding(&ana);
            let listing = Listing { users, groups };
            let plan = Motive::new(Credentials::default()).plan(engine, &listing, &job, None);
            let settle: Vec<String> = plan
                .settle
                .iter()
                .map(|(step, took)| format!("{step}={}", took.as_deref().unwrap_or("-")))
                .collect();
            let user = crate::vendors::testing::user_step(&plan.user);
            let then = match plan.then {
                Then::Finish => "finish",
                Then::Nothing => "nothing",
                Then::Make(()) | Then::Align { .. } => "relationships",
            };
            format!("settle [{}]; {user}; then {then}", settle.join(", "))
        }

        #[test]
        fn rows_are_planned_as_steps_for_the_engine() {
            let sending = |mode: Mode| {
                let mut p = Planner::new(VendorKind::Motive, mode);
                p.dry_run = false;
                p
            };
            let ana = job_of("ana@x.test", "Ana");
            let with_action = |mut j: Job, action| {
                j.action = action;
                j
            };
            let cases: Vec<(&str, Planner, Job, &str)> = vec![
                (
                    "a new user: made, and complete with it",
                    sending(Mode::Create),
                    job_of("cy@x.test", "Cy"),
                    "settle []; create POST /users (complete); then nothing",
                ),
                (
                    "an earlier run's create the list shows: settled, then finished",
                    sending(Mode::Create).with_step(
                        &ana.key,
                        STEP_USER,
                        StepState::Intent,
                        "earlier",
                    ),
                    ana.clone(),
                    "settle [user=1]; nothing; then finish",
                ),
                (
                    "someone else's, upsert, another name: updated",
                    sending(Mode::Upsert),
                    job_of("bo@x.test", "Bob"),
                    "settle []; update: PUT /users/2 -> updated; then nothing",
                ),
                (
                    "a delete deactivates",
                    sending(Mode::Create),
                    with_action(job_of("bo@x.test", "Bo"), Action::Delete),
                    "settle []; deactivate:2: PUT /users/2 -> deleted; then nothing",
                ),
            ];
            for (name, engine, job, expected) in cases {
                assert_eq!(steps(&engine, job), expected, "{name}");
            }
        }

        #[tokio::test]
        async fn rows_are_planned_from_the_listing_and_the_ledger() {
            let create = || Planner::new(VendorKind::Motive, Mode::Create);
            let upsert = || Planner::new(VendorKind::Motive, Mode::Upsert);
            let ana = job_of("ana@x.test", "Ana");
            let id = |s: &str| Some(s.to_string());
            let with_action = |mut j: Job, action| {
                j.action = action;
                j
            };
            type Case = (&'static str, Planner, Job, &'static str, Option<String>);
            let cases: Vec<Case> = vec![
                (
                    "a new user",
                    create(),
                    job_of("cy@x.test", "Cy"),
                    "planned",
                    None,
                ),
                (
                    "someone else's",
                    create(),
                    job_of("bo@x.test", "Bo"),
                    "exists",
                    id("2"),
                ),
                (
                    "someone else's, upsert, the same",
                    upsert(),
                    job_of("bo@x.test", "Bo"),
                    "exists",
                    id("2"),
                ),
                (
                    "someone else's, upsert, another name",
                    upsert(),
                    job_of("bo@x.test", "Bob"),
                    "planned",
                    id("2"),
                ),
                (
                    "ours, made by an earlier run",
                    create().with_step(&ana.key, STEP_USER, StepState::Intent, "earlier"),
                    ana.clone(),
                    "exists",
                    id("1"),
                ),
                (
                    "an update of nobody",
                    create(),
                    with_action(job_of("cy@x.test", "Cy"), Action::Update),
                    "failed: no user cy@x.test on target t to update",
                    None,
                ),
                (
                    "an unknown group",
                    create(),
                    job(
                        Action::Create,
                        &[
                            ("email", "cy@x.test"),
                            ("first_name", "Cy"),
                            ("last_name", "Lee"),
                            ("role", "driver"),
                            ("groups", "North|Yard"),
                        ],
                    ),
                    "invalid: groups (E2): \"North|Yard\" names group \"Yard\", which target t does not have (by name or id)",
                    None,
                ),
            ];
            for (name, engine, job, said, user_id) in cases {
                assert_eq!(
                    planned(&engine, job).await,
                    (said.to_string(), user_id),
                    "{name}"
                );
            }
        }
    }
}
