//! Traccar / PowUnity (`shared/vendors/traccar.md`, `shared/contracts/traccar-openapi.yaml`).
//!
//! - Auth: `Authorization: Basic <token>` (the token is already the base64 part).
//! - Probe with `GET /devices`: a bad credential on `POST /users` does not answer 401, it
//!   takes the anonymous registration path.
//! - Who muster is logged in as (protected from every change, see `plan::Planned::refusal`):
//!   `GET /session?token=` for a Bearer token; the email inside a Basic token, or
//!   `POST /session` when it holds a login name.
//! - Existing users: `GET /users` once, matched on trimmed lower-case email; read item by
//!   item as it arrives (`listing::Streamed`), keeping only what muster uses of each user
//!   (and, when the run may update, the user's JSON text to send back).
//! - Create: `POST /users` with only what the roster sets; then one `POST /permissions`
//!   `{"userId", "deviceId"}` (owner first) per device.
//! - Errors are 400 with a plain-text Java stack trace: the row gets its first meaningful
//!   line, without the exception class.

pub mod rules;

use std::collections::HashMap;

use futures_util::StreamExt;

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::audit;
use crate::config::Credentials;
use crate::http::retry::Kind;
use crate::http::{Reply, Request};
use crate::model::{
    Action, Field, Outcome, PlatformUser, Problem, SideId, Status, VendorKind, list_items,
    parse_bool,
};
use crate::model::{Mode, StepState};
use crate::secret::Secret;
use crate::vendors::protocol::Engine;

use super::common::send;
use super::listing::{self, Streamed, lenient};
use super::protocol::{
    Aligned, Dependent, KeepIntent, Lookup, RowError, RowPlan, Rows, Then, UserStep, Verdict,
};
use super::standing::{Next, next};
use super::{Job, STEP_USER, Vendor, VendorError, generate_password};

/// A user as Traccar lists it (only what muster reads).
#[derive(Debug, Clone, Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    email: Option<String>,
}

/// A user as `GET /users` lists it: only the fields muster compares, read straight from
/// the item's text (never a `Value` of the user). A field of another type than Traccar's
/// is left out, as reading a `Value` did.
#[derive(Debug, Default, Deserialize)]
struct Listed {
    #[serde(default, deserialize_with = "lenient")]
    id: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    readonly: Option<bool>,
    #[serde(rename = "deviceReadonly", default, deserialize_with = "lenient")]
    device_readonly: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    disabled: Option<bool>,
    #[serde(rename = "deviceLimit", default, deserialize_with = "lenient")]
    device_limit: Option<i64>,
    #[serde(rename = "expirationTime", default, deserialize_with = "lenient")]
    expiration_time: Option<String>,
}

/// A user of the platform as a run keeps it: its id and, when the run may update it, the
/// user's JSON text as listed (Traccar's PUT replaces the user, so the listed object goes
/// back changed). A `Box<str>` of the text costs its length; a `Map` of it many times that.
#[derive(Debug)]
struct Known {
    id: i64,
    raw: Option<Box<str>>,
}

/// A device as Traccar lists it.
#[derive(Debug, Clone, Deserialize)]
struct Device {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "uniqueId", default)]
    unique_id: Option<String>,
}

/// Whether a permission step makes a link or removes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Make,
    Remove,
}

/// The Traccar connector.
#[derive(Debug)]
pub struct Traccar {
    credentials: Credentials,
    /// The email of the account the token logs in as, learned at probe.
    me: std::sync::OnceLock<String>,
}

/// What exists on the platform, read once per target.
pub struct Existing {
    /// By trimmed lower-case email.
    users: HashMap<String, Known>,
    devices_by_unique_id: HashMap<String, i64>,
    devices_by_name: HashMap<String, i64>,
}

impl Existing {
    /// The id of every device the target holds.
    fn device_ids(&self) -> impl Iterator<Item = i64> + '_ {
        let mut ids: Vec<i64> = self.devices_by_unique_id.values().copied().collect();
        ids.extend(self.devices_by_name.values().copied());
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
    }
}

impl Traccar {
    pub fn new(credentials: Credentials) -> Traccar {
        Traccar {
            credentials,
            me: std::sync::OnceLock::new(),
        }
    }

    /// What the platform holds: every user (with its JSON text when `keep_raw`: the run
    /// may update) and every device, each listing read item by item as it arrives.
    async fn existing(&self, ctx: &impl Engine, keep_raw: bool) -> Result<Existing, VendorError> {
        let users = read_list(
            ctx,
            Request::get("/users"),
            "GET /users",
            Box::new(move |text| {
                let Some(u) = listing::item::<Listed>(text)? else {
                    return Ok(None);
                };
                let (Some(id), Some(email)) = (u.id, u.email) else {
                    return Ok(None);
                };
                let raw = keep_raw.then(|| String::from_utf8_lossy(text).into());
                Ok(Some((normalise(&email), Known { id, raw })))
            }),
        )
        .await?;
        let devices = read_list(
            ctx,
            Request::get("/devices"),
            "GET /devices",
            Box::new(listing::item::<Device>),
        )
        .await?;
        let mut existing = Existing {
            users: HashMap::with_capacity(users.len()),
            devices_by_unique_id: HashMap::new(),
            devices_by_name: HashMap::new(),
        };
        existing.users.extend(users);
        for d in devices {
            if let Some(uid) = &d.unique_id {
                existing.devices_by_unique_id.insert(normalise(uid), d.id);
            }
            if let Some(name) = &d.name {
                existing.devices_by_name.insert(normalise(name), d.id);
            }
        }
        Ok(existing)
    }

    /// A user left as it is: `exists`, with the device links muster made for it.
    fn exists(&self, ctx: &impl Engine, key: &str, device_ids: &[i64], out: &mut Outcome) {
        out.status = Status::Exists;
        for d in device_ids {
            if ctx.ledger(key, &format!("link:{d}")).is_some() {
                out.other_ids.push(SideId::new("devices", d));
            }
        }
    }

    /// The update of a listed user whose fields differ from the row: Traccar's
    /// `PUT /users/{id}` replaces the whole user, so the listed object goes back with the
    /// row's fields set (never a password: the platform keeps the one it has). Nothing
    /// differs → `exists`, nothing to write. `raw` is the user's JSON text as listed.
    fn update(
        &self,
        ctx: &impl Engine,
        job: &Job,
        id: &str,
        raw: &str,
        out: &mut Outcome,
    ) -> UserStep {
        out.status = Status::Exists;
        // Read back from its text only now, for the one user being updated.
        let (Ok(Some(user)), Ok(listed)) = (
            listing::item::<Listed>(raw.as_bytes()),
            serde_json::from_str::<Map<String, Value>>(raw),
        ) else {
            out.status = Status::Failed;
            out.error = Some(format!("user {id} as listed is not a JSON object"));
            return UserStep::Nothing;
        };
        let differs = platform_user(&user).is_some_and(|user| {
            !audit::differences(VendorKind::Traccar, &job.row, &user).is_empty()
        });
        if !differs {
            return UserStep::Nothing;
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return UserStep::Nothing;
        }
        let mut body = listed;
        body.remove("password");
        for (k, v) in fields_body(job) {
            body.insert(k, v);
        }
        // Without an answer the intent stays; a PUT of the same object is harmless to repeat.
        UserStep::Write {
            name: "update".into(),
            request: Request::new(Method::PUT, format!("/users/{id}"), Kind::Idempotent)
                .json(Value::Object(body)),
            keep: KeepIntent::Always,
            id: id.to_string(),
            done: Status::Updated,
        }
    }
}

/// One link of a user to device `d`, made (`POST /permissions`, step `link:{d}`) or
/// removed (`DELETE /permissions`, step `unlink:{d}`): its own journaled step (issue 28).
fn permission(user_id: &str, d: i64, link: Link) -> Dependent {
    let uid: i64 = user_id.parse().unwrap_or_default();
    // Owner first: {"userId", "deviceId"} — serde_json keeps insertion order.
    let mut body = Map::new();
    body.insert("userId".into(), json!(uid));
    body.insert("deviceId".into(), json!(d));
    let (method, name) = match link {
        Link::Make => (Method::POST, format!("link:{d}")),
        Link::Remove => (Method::DELETE, format!("unlink:{d}")),
    };
    Dependent {
        name,
        request: Request::new(method, "/permissions", Kind::Idempotent).json(Value::Object(body)),
        keep: KeepIntent::Always,
        id: d.to_string(),
        side: (link == Link::Make).then_some("devices"),
        what: format!("device {d}"),
    }
}

impl Rows for Traccar {
    type Existing = Existing;
    /// The ids of the devices the row names.
    type Wanted = Vec<i64>;
    type Extra = ();
    const WHAT: &'static str = "linking";
    const RERUN: &'static str = "a re-run makes only the missing links";

    fn plan(&self, ctx: &impl Engine, existing: &Existing, job: &Job, (): ()) -> RowPlan<Vec<i64>> {
        let row = &job.row;
        // Devices first: an unknown device makes the row invalid before anything is made.
        let mut device_ids = Vec::new();
        let mut problems = Vec::new();
        if let Some(col) = row.layout.column_of(Field::Devices) {
            if let Some(text) = row.cell(col) {
                for item in list_items(text) {
                    let key = normalise(item);
                    match existing
                        .devices_by_unique_id
                        .get(&key)
                        .or_else(|| existing.devices_by_name.get(&key))
                    {
                        Some(id) if !device_ids.contains(id) => device_ids.push(*id),
                        Some(_) => {}
                        None => problems.push(Problem::cell(
                            row,
                            col,
                            format!(
                                "names device \"{item}\", which target {} does not have (by IMEI/uniqueId or name)",
                                ctx.target().name
                            ),
                        )),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return RowPlan::done(Outcome::invalid(job.action, &problems));
        }

        let mut out = Outcome::new(Status::Planned, job.action);
        let key = job.key.as_str();
        let listed = existing.users.get(key);
        let on_platform = listed.map(|u| u.id.to_string());

        if job.action == Action::Delete {
            let Some(id) = on_platform else {
                out.status = Status::Failed;
                out.error = Some(format!(
                    "no user with email {key} on target {}",
                    ctx.target().name
                ));
                return RowPlan::done(out);
            };
            out.user_id = Some(id.clone());
            if ctx.dry_run() {
                return RowPlan::done(out);
            }
            // The platform id is never reused, so a re-run re-sends only against this user.
            return RowPlan {
                user: UserStep::Write {
                    name: format!("delete:{id}"),
                    request: Request::new(Method::DELETE, format!("/users/{id}"), Kind::Idempotent),
                    keep: KeepIntent::Always,
                    id,
                    done: Status::Deleted,
                },
                ..RowPlan::done(out)
            };
        }

        // Who the user is: made by muster before (ledger, checked against the listing), or
        // already on the platform.
        let standing = ctx.standing(key, on_platform.as_deref());
        let settle = if standing.unsettled {
            vec![(STEP_USER.to_string(), standing.user_id.clone())]
        } else {
            Vec::new()
        };
        // The links the ledger records are said only of a user whose record still holds.
        let recorded_links: &[i64] = if standing.forgotten { &[] } else { &device_ids };
        let (user, then) = match next(job.action, ctx.mode(), &standing) {
            Next::NoUser => {
                out.status = Status::Failed;
                out.error = Some(format!(
                    "no user with email {key} on target {} to update",
                    ctx.target().name
                ));
                (UserStep::Nothing, Then::Nothing)
            }
            Next::Update(id) => {
                out.user_id = Some(id.clone());
                // Listed: a user muster did not make, or one it made and finished, is listed.
                // Its JSON text is kept when the run may update (`existing`'s `keep_raw`).
                let user = match listed.and_then(|u| u.raw.as_deref()) {
                    Some(raw) => self.update(ctx, job, &id, raw, &mut out),
                    None => {
                        self.exists(ctx, key, recorded_links, &mut out);
                        UserStep::Nothing
                    }
                };
                // Issue 28: a row naming devices also brings the user's links in line (a
                // blank cell says nothing, as the audit reads it).
                let then = if row.get(Field::Devices).is_none() || out.status == Status::Failed {
                    Then::Nothing
                } else {
                    Then::Align {
                        wanted: device_ids,
                        finish: false,
                    }
                };
                (user, then)
            }
            Next::Exists(id) => {
                out.user_id = Some(id);
                self.exists(ctx, key, recorded_links, &mut out);
                (UserStep::Nothing, Then::Nothing)
            }
            Next::Finish(id) => {
                out.user_id = Some(id);
                if ctx.dry_run() {
                    out.status = Status::Partial;
                    (UserStep::Nothing, Then::Nothing)
                } else {
                    // A user muster made whose links are not all made: a link whose answer
                    // was lost may have taken effect, so its links are read before any is
                    // made again.
                    let then = Then::Align {
                        wanted: device_ids,
                        finish: true,
                    };
                    (UserStep::Nothing, then)
                }
            }
            Next::Create if ctx.dry_run() => (UserStep::Nothing, Then::Nothing),
            Next::Create => {
                let (body, generated) = create_body(job);
                // A user without devices is complete once made: both steps in one commit.
                let user = UserStep::Create {
                    request: Request::new(Method::POST, "/users", Kind::Create).json(body),
                    generated,
                    complete: device_ids.is_empty(),
                    maybe_ours: false,
                };
                (user, Then::Make(device_ids))
            }
        };
        RowPlan {
            out,
            settle,
            shared: None,
            user,
            then,
        }
    }

    fn classify(&self, _: &impl Engine, _: &Job, reply: &Reply) -> Verdict {
        classify_create(reply)
    }

    async fn lookup(&self, ctx: &impl Engine, job: &Job) -> Result<(Lookup, u32), RowError> {
        lookup(ctx, &job.key).await
    }

    fn reason(&self, _: &Job, reply: &Reply) -> String {
        readable(reply)
    }

    fn make(&self, _: &Existing, _: &Job, user_id: &str, wanted: &Vec<i64>) -> Vec<Dependent> {
        wanted
            .iter()
            .map(|d| permission(user_id, *d, Link::Make))
            .collect()
    }

    /// Reads the user's device links (`GET /devices?userId=`); the link steps an
    /// interrupted run left are settled from that read; each missing link is made and, on
    /// `--mode sync --prune`, each link the row lacks is removed (issue 28).
    async fn align(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        user_id: &str,
        wanted: &Vec<i64>,
        out: &mut Outcome,
    ) -> Result<Result<Aligned, String>, RowError> {
        let key = job.key.as_str();
        let req = Request::get("/devices").query("userId", user_id);
        let read = match send(ctx, req, out).await? {
            Ok(r) if r.ok() => serde_json::from_str::<Vec<Device>>(&r.body)
                .map(|ds| ds.into_iter().map(|d| d.id).collect::<Vec<i64>>())
                .map_err(|e| format!("GET /devices?userId={user_id}: {e}")),
            Ok(r) => Err(format!("GET /devices?userId={user_id}: {}", readable(&r))),
            Err(e) => Err(format!("GET /devices?userId={user_id}: {e}")),
        };
        let linked = match read {
            Ok(linked) => linked,
            Err(e) => return Ok(Err(format!("device links: {e}"))),
        };
        let mut aligned = Aligned::default();
        // What an interrupted run left unanswered is settled from the read.
        for d in existing.device_ids() {
            let on = linked.contains(&d);
            for (name, took) in [(format!("link:{d}"), on), (format!("unlink:{d}"), !on)] {
                if ctx
                    .ledger(key, &name)
                    .is_some_and(|s| s.state == StepState::Intent)
                {
                    aligned.settle.push((name, took.then(|| d.to_string())));
                }
            }
        }
        for d in wanted.iter().filter(|d| linked.contains(d)) {
            aligned.kept.push(SideId::new("devices", d));
        }
        let missing = wanted.iter().filter(|d| !linked.contains(d));
        aligned
            .steps
            .extend(missing.map(|d| permission(user_id, *d, Link::Make)));
        // A blank devices cell (nothing wanted) removes nothing: the audit does not compare it.
        if ctx.mode() == Mode::Sync && ctx.prune() && !wanted.is_empty() {
            let extra = linked.iter().filter(|d| !wanted.contains(d));
            aligned
                .steps
                .extend(extra.map(|d| permission(user_id, *d, Link::Remove)));
        }
        Ok(Ok(aligned))
    }
}

/// How a `POST /users` reply reads: the user object (its id), a taken email, a refusal.
fn classify_create(reply: &Reply) -> Verdict {
    if reply.ok() {
        return Verdict::Made(created_id(&reply.body).map(|id| id.to_string()));
    }
    let reason = readable(reply);
    if is_duplicate(reply) {
        return Verdict::Taken {
            if_absent: reason.clone(),
            reason,
        };
    }
    Verdict::Refused { reason }
}

impl Vendor for Traccar {
    /// `GET /users`: the fields the user object carries. Device links are not read (that
    /// would be one request per user), so `devices` is not compared. The account muster
    /// logs in as (an admin sees itself) is listed like any other: the plan protects it
    /// ([`Vendor::logged_in_as`]).
    async fn list_users(
        &self,
        ctx: &impl Engine,
        want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        // Every user, muster's own account too: the plan protects it (`logged_in_as`).
        let mut users = read_list(
            ctx,
            Request::get("/users"),
            "GET /users",
            Box::new(move |text| {
                Ok(listing::item::<Listed>(text)?
                    .as_ref()
                    .and_then(platform_user))
            }),
        )
        .await?;
        if want.has(Field::Devices) {
            // Issue 28: one `GET /devices?userId=` per user, through the target's limiter,
            // only when the roster has a devices column.
            let concurrency = ctx.target().concurrency.max(1);
            let mut reads = Vec::with_capacity(users.len());
            for u in &users {
                reads.push(linked_devices(ctx, u.id.clone()));
            }
            let links: Vec<Result<Vec<Device>, VendorError>> = futures_util::stream::iter(reads)
                .buffered(concurrency)
                .collect()
                .await;
            for (user, devices) in users.iter_mut().zip(links) {
                let devices = devices?;
                user.fields.push((Field::Devices, devices_text(&devices)));
                user.aliases = device_aliases(&devices);
            }
        }
        Ok(users)
    }

    fn logged_in_as(&self) -> Option<String> {
        self.me.get().cloned()
    }

    async fn probe(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        let token = self
            .credentials
            .token
            .as_ref()
            .ok_or_else(|| VendorError::Auth("no token configured".into()))?;
        let scheme = if ctx.target().bearer {
            "Bearer"
        } else {
            "Basic"
        };
        ctx.http().set_auth(vec![(
            AUTHORIZATION,
            Secret::new(format!("{scheme} {}", token.expose())),
        )]);
        let reply = ctx
            .http()
            .send(Request::get("/devices").query("limit", "1"))
            .await
            .map_err(|e| VendorError::from_send("GET /devices", e))?;
        match reply.status {
            200..=299 => {
                if let Some(me) = self.caller(ctx, token, ctx.target().bearer).await {
                    let _ = self.me.set(me);
                }
                Ok(())
            }
            401 | 403 => Err(VendorError::Auth(format!(
                "HTTP {} on GET /devices",
                reply.status
            ))),
            s => Err(VendorError::Unavailable(format!(
                "GET /devices answered HTTP {s}: {}",
                reply.excerpt()
            ))),
        }
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        // A user's listed text is kept only when the run may update (see `update`).
        let may_update = matches!(ctx.mode(), Mode::Upsert | Mode::Sync)
            || jobs
                .iter()
                .any(|j| matches!(j.action, Action::Update | Action::Upsert));
        let existing = self.existing(ctx, may_update).await?;
        ctx.rows(self, &existing, jobs).await;
        Ok(())
    }
}

/// The devices linked to user `id`: `GET /devices?userId=` (issue 28).
async fn linked_devices(ctx: &impl Engine, id: String) -> Result<Vec<Device>, VendorError> {
    read_list(
        ctx,
        Request::get("/devices").query("userId", &id),
        "GET /devices?userId=",
        Box::new(listing::item::<Device>),
    )
    .await
}

/// Linked devices as the roster's `devices` cell names them: each by its uniqueId (IMEI),
/// else by its name, else by its id; `|`-separated.
fn devices_text(devices: &[Device]) -> String {
    let mut names: Vec<String> = devices.iter().map(device_name).collect();
    names.sort();
    names.dedup();
    names.join("|")
}

/// How a linked device is written in a listing ([`devices_text`]).
fn device_name(d: &Device) -> String {
    d.unique_id
        .as_deref()
        .or(d.name.as_deref())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| d.id.to_string())
}

/// The other names a roster may give a linked device (its name), lower-case, with how
/// [`devices_text`] writes it.
fn device_aliases(devices: &[Device]) -> Vec<(String, String)> {
    devices
        .iter()
        .filter_map(|d| Some((normalise(d.name.as_deref()?), device_name(d))))
        .filter(|(alias, _)| !alias.is_empty())
        .collect()
}

/// Finds a user by email: `GET /users?keyword=`, matched exactly (keyword is a LIKE).
/// Returns what it found and the attempts the look-up took.
async fn lookup(ctx: &impl Engine, key: &str) -> Result<(Lookup, u32), RowError> {
    let req = Request::get("/users").query("keyword", key);
    let mut counted = Outcome::new(Status::Planned, Action::Create);
    let found = match send(ctx, req, &mut counted).await? {
        Ok(r) => found_user(&r, key),
        Err(e) => Lookup::CannotTell(format!("GET /users: {e}")),
    };
    Ok((found, counted.attempts))
}

/// What a `GET /users?keyword=` reply says of the user with email `key`.
fn found_user(reply: &Reply, key: &str) -> Lookup {
    if !reply.ok() {
        return Lookup::CannotTell(format!("GET /users answered HTTP {}", reply.status));
    }
    match serde_json::from_str::<Vec<User>>(&reply.body) {
        Ok(users) => match users
            .into_iter()
            .find(|u| u.email.as_deref().map(normalise).as_deref() == Some(key))
        {
            Some(u) => Lookup::Found {
                id: u.id.to_string(),
                ours: None,
            },
            None => Lookup::Absent,
        },
        Err(e) => Lookup::CannotTell(format!("GET /users: {e}")),
    }
}

/// Reads a listing (`GET /users`, `GET /devices`: one JSON list, not paged) item by item
/// as it arrives, within the target's `max_listing`; `read` keeps what muster uses of each.
async fn read_list<U: Send + 'static>(
    ctx: &impl Engine,
    req: Request,
    what: &str,
    read: listing::ReadItem<U>,
) -> Result<Vec<U>, VendorError> {
    let list = Streamed::new(ctx.target(), read);
    let reply = ctx
        .http()
        .send(list.request(req))
        .await
        .map_err(|e| VendorError::from_send(what, e))?;
    match reply.status {
        200..=299 => list.items(what),
        401 | 403 => Err(VendorError::Auth(format!(
            "HTTP {} on {what}",
            reply.status
        ))),
        s => Err(VendorError::Unavailable(format!(
            "{what} answered HTTP {s}: {}",
            reply.excerpt()
        ))),
    }
}

/// The id of the user a `POST /users` answer carries (the whole user object). Only `id`
/// is read: the other fields are skipped, not built into a `Value`.
fn created_id(body: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Created {
        #[serde(default)]
        id: Option<i64>,
    }
    // serde would also read a struct from an array (`[1]`): only an object carries an id.
    if !body.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Created>(body).ok()?.id
}

/// The `POST /users` body: only what the roster sets. Returns the generated password, if any.
fn create_body(job: &Job) -> (Value, Option<Secret>) {
    let row = &job.row;
    let mut body = fields_body(job);
    let mut generated = None;
    let password = match row.get(Field::Password) {
        Some(p) => p.to_string(),
        None => {
            let p = generate_password();
            let text = p.expose().to_string();
            generated = Some(p);
            text
        }
    };
    body.insert("password".into(), json!(password));
    (Value::Object(body), generated)
}

impl Traccar {
    /// The email of the account `token` logs in as (normalised), or `None` when the server
    /// does not say (traccar.md "Auth"):
    /// - Bearer: `GET /session?token=` answers the token's user;
    /// - Basic (`base64(login:password)`): a login that is an email is the account's
    ///   email; a login name is looked up with `POST /session` (form `email`, `password`:
    ///   Traccar matches either field), which answers the caller's own record.
    ///
    /// What it sends carries the credential: no reply or error text is logged or kept.
    async fn caller(&self, ctx: &impl Engine, token: &Secret, bearer: bool) -> Option<String> {
        let request = if bearer {
            Request::get("/session").query("token", token.expose().trim())
        } else {
            let (login, password) = basic_login(token.expose())?;
            if login.contains('@') {
                return Some(normalise(&login));
            }
            Request::new(Method::POST, "/session", Kind::Read)
                .form(vec![("email".into(), login), ("password".into(), password)])
                .anonymous()
        };
        let what = if bearer {
            "GET /session"
        } else {
            "POST /session"
        };
        let found = match ctx.http().send(request).await {
            Ok(reply) if reply.ok() => session_email(&reply.body),
            _ => None,
        };
        if found.is_none() {
            ctx.log(
                tracing::Level::WARN,
                &format!("{what}: cannot tell which account muster is logged in as; only the target's protect list is protected"),
            );
        }
        found
    }
}

/// The login and password of a Basic token (`base64(login:password)`).
fn basic_login(token: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

/// The email of the user a `/session` answer carries (normalised).
fn session_email(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Me {
        #[serde(default)]
        email: Option<String>,
    }
    if !body.trim_start().starts_with('{') {
        return None;
    }
    let email = serde_json::from_str::<Me>(body).ok()?.email?;
    let key = normalise(&email);
    (!key.is_empty()).then_some(key)
}

/// A listed user in roster terms (`None` without an id or an email).
fn platform_user(u: &Listed) -> Option<PlatformUser> {
    let id = u.id?;
    let email = u.email.as_deref()?;
    let mut fields = Vec::with_capacity(8);
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(name) = text(&u.name) {
        fields.push((Field::Name, name));
    }
    fields.push((Field::Email, email.trim().to_string()));
    if let Some(phone) = text(&u.phone) {
        fields.push((Field::Phone, phone));
    }
    for (field, b) in [
        (Field::Readonly, u.readonly),
        (Field::DeviceReadonly, u.device_readonly),
        (Field::Disabled, u.disabled),
    ] {
        fields.push((field, b.unwrap_or(false).to_string()));
    }
    if let Some(limit) = u.device_limit {
        fields.push((Field::DeviceLimit, limit.to_string()));
    }
    if let Some(exp) = text(&u.expiration_time) {
        fields.push((Field::ExpirationTime, exp));
    }
    Some(PlatformUser {
        key: normalise(email),
        id: id.to_string(),
        fields,
        active: !u.disabled.unwrap_or(false),
        aliases: Vec::new(),
    })
}

/// The user fields the roster sets, as Traccar names them (no password): shared by create
/// and update.
fn fields_body(job: &Job) -> Map<String, Value> {
    let row = &job.row;
    let mut body = Map::new();
    let name = row.get(Field::Name).map(str::to_string).unwrap_or_else(|| {
        [row.get(Field::FirstName), row.get(Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    body.insert("name".into(), json!(name));
    body.insert(
        "email".into(),
        json!(row.get(Field::Email).unwrap_or(&job.key).trim()),
    );
    if let Some(phone) = row.get(Field::Phone) {
        body.insert("phone".into(), json!(phone));
    }
    for (field, key) in [
        (Field::Readonly, "readonly"),
        (Field::DeviceReadonly, "deviceReadonly"),
        (Field::Disabled, "disabled"),
    ] {
        if let Some(b) = row.get(field).and_then(parse_bool) {
            body.insert(key.into(), json!(b));
        }
    }
    if let Some(limit) = row
        .get(Field::DeviceLimit)
        .and_then(|s| s.parse::<i64>().ok())
    {
        body.insert("deviceLimit".into(), json!(limit));
    }
    if let Some(exp) = row.get(Field::ExpirationTime) {
        let exp = if exp.len() == 10 {
            format!("{exp}T00:00:00Z")
        } else {
            exp.to_string()
        };
        body.insert("expirationTime".into(), json!(exp));
    }
    for (name, value) in row.passthrough(VendorKind::Traccar) {
        let v = serde_json::from_str::<Value>(value).unwrap_or_else(|_| json!(value));
        body.insert(name.to_string(), v);
    }
    body
}

/// Whether a refusal says the email is taken (the text depends on the server's database).
fn is_duplicate(reply: &Reply) -> bool {
    let lower = reply.body.to_ascii_lowercase();
    lower.contains("duplicate entry")
        || lower.contains("duplicate key")
        || lower.contains("unique index")
}

/// Traccar's 400 body as a short readable reason.
fn readable(reply: &Reply) -> String {
    let line = reply.excerpt();
    if is_duplicate(reply) {
        return format!(
            "HTTP {}: the email is already taken on the server (possibly by a user this account cannot see)",
            reply.status
        );
    }
    // `java.lang.SecurityException: Administrator access required` → the message only.
    let message = match line.split_once(": ") {
        Some((class, rest)) if class.contains('.') && !class.contains(' ') => rest.to_string(),
        _ => line,
    };
    let message = message.split(" - ").next().unwrap_or("").trim().to_string();
    if message.is_empty() {
        format!("HTTP {}", reply.status)
    } else {
        format!("HTTP {}: {message}", reply.status)
    }
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Row;

    use crate::config::Credentials;
    use crate::http::test_reply as reply;
    use crate::model::{Mode, StepState};
    use crate::vendors::testing::Planner;
    use std::sync::Arc;

    /// Traccar holding users 7 (ann@fleet.test, Ann Lee) and 8 (bob@fleet.test), and
    /// device 3 (uniqueId 3551, named "Bike 3").
    fn holding() -> Existing {
        let mut users = HashMap::new();
        for (id, email, name) in [
            (7, "ann@fleet.test", "Ann Lee"),
            (8, "bob@fleet.test", "Bob"),
        ] {
            let raw = json!({"id": id, "email": email, "name": name}).to_string();
            users.insert(
                email.to_string(),
                Known {
                    id,
                    raw: Some(raw.into()),
                },
            );
        }
        Existing {
            users,
            devices_by_unique_id: HashMap::from([("3551".into(), 3)]),
            devices_by_name: HashMap::from([("bike 3".into(), 3)]),
        }
    }

    fn job(action: Action, cells: &[(&str, &str)]) -> Job {
        let row = Row::of_pairs(cells);
        let key = crate::model::identity_key(VendorKind::Traccar, &row).unwrap_or_default();
        Job {
            index: 0,
            row: Arc::new(row),
            action,
            key,
        }
    }

    /// Steps handed to the engine to settle, as `key:step`, and the id each took effect with.
    type Settled = Vec<(String, Option<String>)>;

    /// A row planned: its status, error, user id and what it hands the engine to settle.
    fn planned(engine: &Planner, job: Job) -> (String, Option<String>, Settled) {
        let plan = Traccar::new(Credentials::default()).plan(engine, &holding(), &job, ());
        let out = plan.out;
        let said = match out.error {
            Some(e) => format!("{}: {e}", out.status),
            None => out.status.to_string(),
        };
        let settled = plan
            .settle
            .into_iter()
            .map(|(step, took)| (format!("{}:{step}", job.key), took))
            .collect();
        (said, out.user_id, settled)
    }

    /// What a plan asks the engine to send: the user's write (method and path, and whether
    /// the row is complete with it) and what follows.
    fn steps(engine: &Planner, job: Job) -> String {
        let plan = Traccar::new(Credentials::default()).plan(engine, &holding(), &job, ());
        let user = crate::vendors::testing::user_step(&plan.user);
        let then = match &plan.then {
            Then::Nothing => "nothing".to_string(),
            Then::Make(ids) => format!("make {ids:?}"),
            Then::Align { wanted, finish } => {
                format!("align {wanted:?}{}", if *finish { ", finish" } else { "" })
            }
            Then::Finish => "finish".to_string(),
        };
        format!("{user}; then {then}")
    }

    #[tokio::test]
    async fn rows_are_planned_from_the_listing_and_the_ledger() {
        let create = || Planner::new(VendorKind::Traccar, Mode::Create);
        let upsert = || Planner::new(VendorKind::Traccar, Mode::Upsert);
        // Muster made ann as 7 (the id the listing shows for ann).
        let made_ann = || {
            create().with_step_id(
                "ann@fleet.test",
                STEP_USER,
                StepState::Done,
                "earlier",
                Some("7"),
            )
        };
        let ann = [("email", "ann@fleet.test"), ("name", "Ann Lee")];
        let cat = [("email", "cat@fleet.test"), ("name", "Cat")];
        let id = |s: &str| Some(s.to_string());
        type Case = (
            &'static str,
            Planner,
            Job,
            &'static str,
            Option<String>,
            Vec<(String, Option<String>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "a new user",
                create(),
                job(Action::Create, &cat),
                "planned",
                None,
                vec![],
            ),
            (
                "someone else's",
                create(),
                job(Action::Create, &ann),
                "exists",
                id("7"),
                vec![],
            ),
            (
                "someone else's, upsert, the same",
                upsert(),
                job(Action::Create, &ann),
                "exists",
                id("7"),
                vec![],
            ),
            (
                "someone else's, upsert, another name",
                upsert(),
                job(
                    Action::Create,
                    &[("email", "ann@fleet.test"), ("name", "Ann Other")],
                ),
                "planned",
                id("7"),
                vec![],
            ),
            (
                "an unknown device",
                create(),
                job(
                    Action::Create,
                    &[("email", "cat@fleet.test"), ("devices", "3551; 999")],
                ),
                "invalid: devices (B2): \"3551; 999\" names device \"999\", which target t does not have (by IMEI/uniqueId or name)",
                None,
                vec![],
            ),
            (
                "a device by name",
                create(),
                job(
                    Action::Create,
                    &[("email", "cat@fleet.test"), ("devices", "bike 3")],
                ),
                "planned",
                None,
                vec![],
            ),
            (
                "ours, links missing",
                made_ann(),
                job(Action::Create, &ann),
                "partial",
                id("7"),
                vec![],
            ),
            (
                "ours and complete",
                made_ann().with_step(
                    "ann@fleet.test",
                    crate::vendors::STEP_COMPLETE,
                    StepState::Done,
                    "earlier",
                ),
                job(Action::Create, &ann),
                "exists",
                id("7"),
                vec![],
            ),
            (
                // Issue 25, item 2: the journal's id is someone else's (or nobody's) here.
                "a stale record: the journal's id is not ann's on the platform",
                create().with_step_id(
                    "ann@fleet.test",
                    STEP_USER,
                    StepState::Done,
                    "earlier",
                    Some("1000"),
                ),
                job(Action::Create, &ann),
                "exists",
                id("7"),
                vec![],
            ),
            (
                "an earlier create the list shows",
                create().with_step("ann@fleet.test", STEP_USER, StepState::Intent, "earlier"),
                job(Action::Create, &ann),
                "partial",
                id("7"),
                vec![("ann@fleet.test:user".into(), id("7"))],
            ),
            (
                "ours, deleted since",
                create().with_step("cat@fleet.test", STEP_USER, StepState::Done, "earlier"),
                job(Action::Create, &cat),
                "planned",
                None,
                vec![],
            ),
            (
                "an update of nobody",
                create(),
                job(Action::Update, &cat),
                "failed: no user with email cat@fleet.test on target t to update",
                None,
                vec![],
            ),
            (
                "a delete",
                create(),
                job(Action::Delete, &[("email", "bob@fleet.test")]),
                "planned",
                id("8"),
                vec![],
            ),
            (
                "a delete of nobody",
                create(),
                job(Action::Delete, &cat),
                "failed: no user with email cat@fleet.test on target t",
                None,
                vec![],
            ),
        ];
        for (name, engine, job, said, user_id, settled) in cases {
            let got = planned(&engine, job);
            assert_eq!(got, (said.to_string(), user_id, settled), "{name}");
        }
    }

    /// What the engine is asked to send for a row (not a dry run): the user's own write,
    /// then its device links, made without a read for a user made now, read and brought in
    /// line for a user already there.
    #[test]
    fn rows_are_planned_as_steps_for_the_engine() {
        let sending = |mode: Mode| {
            let mut p = Planner::new(VendorKind::Traccar, mode);
            p.dry_run = false;
            p
        };
        let made_ann = || {
            sending(Mode::Create).with_step_id(
                "ann@fleet.test",
                STEP_USER,
                StepState::Done,
                "earlier",
                Some("7"),
            )
        };
        let cases: Vec<(&str, Planner, Job, &str)> = vec![
            (
                "a new user without devices is complete with its create",
                sending(Mode::Create),
                job(Action::Create, &[("email", "cat@fleet.test")]),
                "create POST /users (complete); then make []",
            ),
            (
                "a new user's links follow its create",
                sending(Mode::Create),
                job(
                    Action::Create,
                    &[("email", "cat@fleet.test"), ("devices", "3551|bike 3")],
                ),
                "create POST /users; then make [3]",
            ),
            (
                "ours, unfinished: its links are read, then the row is finished",
                made_ann(),
                job(
                    Action::Create,
                    &[("email", "ann@fleet.test"), ("devices", "3551")],
                ),
                "nothing; then align [3], finish",
            ),
            (
                "someone else's, create mode: left alone",
                sending(Mode::Create),
                job(
                    Action::Create,
                    &[("email", "bob@fleet.test"), ("name", "B")],
                ),
                "nothing; then nothing",
            ),
            (
                "upsert of another name: the listed user goes back changed",
                sending(Mode::Upsert),
                job(
                    Action::Create,
                    &[("email", "bob@fleet.test"), ("name", "B")],
                ),
                "update: PUT /users/8 -> updated; then nothing",
            ),
            (
                "upsert naming devices: the links are brought in line too",
                sending(Mode::Upsert),
                job(
                    Action::Create,
                    &[
                        ("email", "bob@fleet.test"),
                        ("name", "Bob"),
                        ("devices", "3551"),
                    ],
                ),
                "nothing; then align [3]",
            ),
            (
                "a delete",
                sending(Mode::Create),
                job(Action::Delete, &[("email", "bob@fleet.test")]),
                "delete:8: DELETE /users/8 -> deleted; then nothing",
            ),
        ];
        for (name, engine, job, expected) in cases {
            assert_eq!(steps(&engine, job), expected, "{name}");
        }
    }

    #[test]
    fn create_replies_read_as_made_taken_or_refused() {
        let dup = "org.traccar.storage.StorageException: Duplicate entry 'a@x' for key 'email'";
        let cases = [
            (200, r#"{"id":42,"email":"a@x"}"#, Verdict::Made(Some("42".into()))),
            (200, "{}", Verdict::Made(None)),
            (201, "not json", Verdict::Made(None)),
            (
                400,
                dup,
                Verdict::Taken {
                    reason: "HTTP 400: the email is already taken on the server (possibly by a user this account cannot see)".into(),
                    if_absent: "HTTP 400: the email is already taken on the server (possibly by a user this account cannot see)".into(),
                },
            ),
            (
                400,
                "java.lang.SecurityException: Manager user limit reached",
                Verdict::Refused {
                    reason: "HTTP 400: Manager user limit reached".into(),
                },
            ),
            (500, "", Verdict::Refused { reason: "HTTP 500".into() }),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                classify_create(&reply(status, body)),
                want,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn a_look_up_matches_the_email_exactly() {
        let cases = [
            (
                200,
                r#"[{"id":7,"email":" A@X.test "}]"#,
                Lookup::Found {
                    id: "7".into(),
                    ours: None,
                },
            ),
            // keyword is a LIKE: a longer address is someone else.
            (200, r#"[{"id":8,"email":"ba@x.test"}]"#, Lookup::Absent),
            (200, "[]", Lookup::Absent),
            (
                200,
                "{",
                Lookup::CannotTell(
                    "GET /users: invalid type: map, expected a sequence at line 1 column 0".into(),
                ),
            ),
            (
                503,
                "",
                Lookup::CannotTell("GET /users answered HTTP 503".into()),
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(found_user(&reply(status, body), "a@x.test"), want, "{body}");
        }
    }

    #[test]
    fn created_id_reads_only_an_integer_id() {
        for (body, want) in [
            (
                r#"{"id":42,"name":"A","attributes":{"k":[1,{"x":null}]}}"#,
                Some(42),
            ),
            (r#"{"name":"A","id":7}"#, Some(7)),
            (r#"{"name":"A"}"#, None),
            (r#"{"id":"42"}"#, None),
            (r#"{"id":4.5}"#, None),
            (r#"{"id":null}"#, None),
            ("[1]", None),
            ("", None),
            ("not json", None),
        ] {
            assert_eq!(created_id(body), want, "{body}");
        }
    }

    #[test]
    fn stack_traces_become_one_readable_line() {
        let r = reply(
            400,
            "java.lang.SecurityException: Administrator access required\n\tat org.traccar.api.security.PermissionsService.checkAdmin(PermissionsService.java:93)\n",
        );
        assert_eq!(readable(&r), "HTTP 400: Administrator access required");
        let legacy = reply(
            400,
            "Manager user limit reached - SecurityException (PermissionsService.java:120 < ...)",
        );
        assert_eq!(readable(&legacy), "HTTP 400: Manager user limit reached");
        let dup = reply(
            400,
            "org.traccar.storage.StorageException: java.sql.SQLIntegrityConstraintViolationException: Duplicate entry 'a@x' for key 'email'\n\tat ...",
        );
        assert!(
            readable(&dup).contains("already taken"),
            "{}",
            readable(&dup)
        );
        assert_eq!(readable(&reply(400, "")), "HTTP 400");
    }

    #[test]
    fn the_callers_login_comes_from_the_basic_token_or_the_session() {
        // base64("sandbox@muster.test:sandbox"), the sandbox's token.
        assert_eq!(
            basic_login("c2FuZGJveEBtdXN0ZXIudGVzdDpzYW5kYm94"),
            Some(("sandbox@muster.test".into(), "sandbox".into()))
        );
        assert_eq!(basic_login("not base64!"), None);
        // A `/session` answer: the user object's email, whatever else it says.
        for (body, want) in [
            (
                r#"{"id":1,"email":" Boss@Fleet.Test ","login":"boss"}"#,
                Some("boss@fleet.test"),
            ),
            (r#"{"id":1,"email":""}"#, None),
            (r#"{"id":1}"#, None),
            ("[]", None),
            ("<html>", None),
        ] {
            assert_eq!(session_email(body).as_deref(), want, "{body}");
        }
    }

    #[test]
    fn listed_users_read_in_roster_terms() {
        let obj = json!({"id": 7, "name": "Ana Berg", "email": " Ana@X.test ", "phone": null,
            "readonly": true, "deviceReadonly": false, "disabled": true, "deviceLimit": -1,
            "expirationTime": null, "password": null});
        let listed = |v: &Value| listing::item::<Listed>(v.to_string().as_bytes()).unwrap();
        let u = platform_user(&listed(&obj).unwrap()).unwrap();
        assert_eq!(
            (u.key.as_str(), u.id.as_str(), u.active),
            ("ana@x.test", "7", false)
        );
        assert_eq!(
            u.fields,
            [
                (Field::Name, "Ana Berg".to_string()),
                (Field::Email, "Ana@X.test".to_string()),
                (Field::Readonly, "true".to_string()),
                (Field::DeviceReadonly, "false".to_string()),
                (Field::Disabled, "true".to_string()),
                (Field::DeviceLimit, "-1".to_string()),
            ]
        );
        assert!(platform_user(&listed(&json!({"id": 1})).unwrap()).is_none());
        // Fields of another type are left out, not a reason to skip the user.
        let odd = json!({"id": 8, "email": "b@x.test", "phone": 43, "disabled": "yes"});
        let u = platform_user(&listed(&odd).unwrap()).unwrap();
        assert_eq!((u.key.as_str(), u.active), ("b@x.test", true));
        assert!(listed(&json!([1])).is_none());
    }

    #[test]
    fn every_yes_or_no_validation_accepts_is_sent() {
        // A readonly cell of `ja` or `on` validates; it was once dropped from the body.
        for (cell, want) in [("ja", true), ("on", true), ("x", true), ("nein", false)] {
            let row = Row::of_pairs(&[("email", "a@x.test"), ("readonly", cell)]);
            let job = Job {
                index: 0,
                row: std::sync::Arc::new(row),
                action: Action::Create,
                key: "a@x.test".into(),
            };
            assert_eq!(
                fields_body(&job).get("readonly"),
                Some(&json!(want)),
                "{cell}"
            );
        }
    }

    #[test]
    fn permission_body_keeps_owner_first() {
        let mut body = Map::new();
        body.insert("userId".into(), json!(5));
        body.insert("deviceId".into(), json!(9));
        assert_eq!(
            serde_json::to_string(&Value::Object(body)).unwrap(),
            r#"{"userId":5,"deviceId":9}"#
        );
    }
}
