//! The Traccar (PowUnity) simulator, served under `/traccar/api/...`. Follows
//! `shared/vendors/traccar.md` (checked against `shared/contracts/traccar-openapi.yaml`):
//! a stock Traccar ≥ 6.13 on MySQL, registration disabled, the caller a manager (not an
//! admin) who has every seeded device.
//!
//! - Protected endpoints answer 401 with an empty body on bad credentials; `POST /users`
//!   is "permit all", so bad credentials there take the registration path instead
//!   (`Registration disabled`, or a `NullPointerException` when admin-only fields are set).
//! - Every other failure is a 400 with a plain-text Java stack trace (see `errors`).
//! - `POST /permissions` reads the body's keys in order: the first is the owner.

// A refusal is the ready 400 itself; its size does not matter at one per request.
#![allow(clippy::result_large_err)]

mod db;
mod errors;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

pub use db::{Link, MANAGER_EMAIL, MANAGER_ID};
pub use wire::{Device, User};

use super::platform::{Platform, stat};
use super::{Sandbox, seed};
use db::{Db, Like, Refused, Tables};
use errors::Origin;

/// Counter: user → device links inserted (duplicates included, as the table allows them).
pub const LINKS_CREATED: &str = "links_created";
/// Counter: user → device links removed.
pub const LINKS_DELETED: &str = "links_deleted";
/// Counter: links inserted that were already there (Traccar inserts them again: a client
/// that links twice shows here; issue 28).
pub const LINKS_DUPLICATED: &str = "links_duplicated";
/// Counter: users replaced by `PUT /users/{id}`.
pub const UPDATED: &str = "updated";
/// Counter: users removed by `DELETE /users/{id}`.
pub const DELETED: &str = "deleted";

#[derive(Clone)]
struct Sim {
    db: Arc<Db>,
    platform: Platform,
}

/// The Traccar simulator; paths are below its prefix (`/api/users`, ...).
pub fn router(platform: Platform) -> Router {
    let db = Arc::new(Db::new(platform.clone()));
    platform.attach(db.clone());
    platform.declare(&[
        LINKS_CREATED,
        LINKS_DELETED,
        LINKS_DUPLICATED,
        UPDATED,
        DELETED,
    ]);
    let sim = Sim { db, platform };
    Router::new()
        .route("/api/users", get(list_users).post(create_user))
        .route(
            "/api/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/api/devices", get(list_devices))
        .route(
            "/api/permissions",
            get(list_permissions)
                .post(add_permission)
                .delete(remove_permission),
        )
        .route("/api/permissions/bulk", post(add_permissions))
        .route("/api/session", get(session).post(open_session))
        .with_state(sim)
}

/// The Basic token of `seed::CREDENTIALS`; Bearer with the same value is accepted too.
fn token() -> &'static str {
    seed::CREDENTIALS
        .iter()
        .find(|(var, _)| *var == "SANDBOX_TRACCAR_TOKEN")
        .map(|(_, value)| *value)
        .expect("seed::CREDENTIALS holds SANDBOX_TRACCAR_TOKEN")
}

fn authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("bearer"))
        && credential.trim() == token()
}

/// Query parameters in order, repeated ones included (`id=1&id=2`).
type Params = Vec<(String, String)>;

fn values<'a>(params: &'a Params, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    params
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// All values of a numeric parameter; a value that is not a number is a 400.
fn numbers(params: &Params, name: &str) -> Result<Vec<i64>, Response> {
    values(params, name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                errors::mapping(format!(
                    "java.lang.NumberFormatException: For input string: \"{v}\" (query parameter {name})"
                ))
            })
        })
        .collect()
}

fn number(params: &Params, name: &str) -> Result<Option<i64>, Response> {
    Ok(numbers(params, name)?.into_iter().next())
}

fn flag(params: &Params, name: &str) -> bool {
    values(params, name)
        .next()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `LIMIT offset, limit` when `limit` > 0; `offset` alone does nothing.
fn page<T>(items: Vec<T>, params: &Params) -> Result<Vec<T>, Response> {
    let limit = number(params, "limit")?.unwrap_or(0);
    if limit <= 0 {
        return Ok(items);
    }
    let offset = number(params, "offset")?.unwrap_or(0).max(0);
    Ok(items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

/// A path id as JAX-RS binds it: not a number → 404.
fn path_id(text: &str) -> Result<i64, Response> {
    text.parse()
        .map_err(|_| StatusCode::NOT_FOUND.into_response())
}

fn user_access_denied() -> Response {
    errors::security("User access denied", Origin::Access)
}

fn refused(refusal: Refused, origin: Origin) -> Response {
    let integrity = "java.sql.SQLIntegrityConstraintViolationException";
    match refusal {
        Refused::Null(column) => errors::storage(
            integrity,
            &format!("Column '{column}' cannot be null"),
            origin,
        ),
        Refused::Duplicate(email) => errors::storage(
            integrity,
            &format!("Duplicate entry '{email}' for key 'email'"),
            origin,
        ),
    }
}

/// `GET /users`: the caller's users by name; `userId`, `deviceId`, `keyword`, `limit`,
/// `offset`, `excludeAttributes`.
async fn list_users(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let t = sim.db.lock();
    // Parsed once for the whole list: a look-up by e-mail among 20,000 users is this.
    let keyword = values(&params, "keyword").next().map(Like::new);
    let matches = |u: &User| {
        keyword.as_ref().is_none_or(|k| {
            [&u.name, &u.email]
                .into_iter()
                .flatten()
                .any(|field| k.matches(field))
        })
    };
    let mut users = match number(&params, "userId") {
        Err(r) => return r,
        Ok(None) | Ok(Some(MANAGER_ID)) => t.managed_users_where(matches),
        // A managed user manages nobody.
        Ok(Some(id)) if t.managed.contains(&id) => Vec::new(),
        Ok(Some(_)) => return user_access_denied(),
    };
    match number(&params, "deviceId") {
        Err(r) => return r,
        Ok(None) => {}
        Ok(Some(device)) if t.may_access_device(device) => users.retain(|u| {
            t.links
                .iter()
                .any(|l| l.user_id == u.id && l.device_id == device)
        }),
        Ok(Some(_)) => return errors::security("Device access denied", Origin::Access),
    }
    if flag(&params, "excludeAttributes") {
        users.iter_mut().for_each(|u| u.attributes.clear());
    }
    match page(users, &params) {
        Ok(users) => axum::Json(users).into_response(),
        Err(r) => r,
    }
}

/// `GET /users/{id}`: a manager gets 400 `User access denied` for any user it does not
/// manage, existing or not (the 404 of the spec is what an admin gets).
async fn get_user(State(sim): State<Sim>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let t = sim.db.lock();
    match t.users.get(&id).filter(|_| t.may_access_user(id)) {
        Some(user) => axum::Json(user).into_response(),
        None => user_access_denied(),
    }
}

/// `POST /users`.
async fn create_user(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    // The body is bound before the resource runs, so a bad body is refused first.
    let user = match wire::parse_user(&body) {
        Ok(user) => user,
        Err(r) => return r,
    };
    let admin_only = user.administrator || user.device_limit != 0 || user.user_limit != 0;
    if !authorized(&headers) {
        // "Permit all": an unknown caller is a self-registration, never a 401.
        if admin_only {
            return errors::exception(
                "java.lang.NullPointerException",
                "Cannot invoke \"org.traccar.model.User.getAdministrator()\" because \"user\" is null",
                Origin::Admin,
            );
        }
        return errors::security("Registration disabled", Origin::Register);
    }
    if admin_only {
        return errors::security("Administrator access required", Origin::Admin);
    }
    let mut t = sim.db.lock();
    match t.insert(user, true) {
        Ok(user) => {
            sim.platform.bump(stat::CREATED);
            sim.db.done(&t);
            drop(t);
            sim.platform.answer_create(created(&user))
        }
        Err(refusal) => {
            if matches!(refusal, Refused::Duplicate(_)) {
                sim.platform.bump(stat::DUPLICATES_REFUSED);
            }
            refused(refusal, Origin::AddUser)
        }
    }
}

/// The created user as `application/json`: the bytes `axum::Json` would send, serialised
/// into one buffer sized for a user (axum's grows from 128 bytes, copying as it goes).
fn created(user: &wire::User) -> Response {
    let mut body = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut body, user) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        // As axum::Json answers a value it cannot serialise.
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `PUT /users/{id}`: replaces the whole user. As in Traccar, the id is the body's; the
/// path's is not read, so a body without `id` is refused (`User access denied`).
async fn update_user(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    if let Err(r) = path_id(&id) {
        return r;
    }
    let user = match wire::parse_user(&body) {
        Ok(user) => user,
        Err(r) => return r,
    };
    let mut t = sim.db.lock();
    let Some(before) = t
        .users
        .get(&user.id)
        .filter(|_| t.may_access_user(user.id))
        .cloned()
    else {
        return user_access_denied();
    };
    let admin_only = before.administrator != user.administrator
        || before.device_limit != user.device_limit
        || before.user_limit != user.user_limit;
    let own_restrictions = user.id == MANAGER_ID
        && (before.readonly != user.readonly
            || before.device_readonly != user.device_readonly
            || before.disabled != user.disabled
            || before.limit_commands != user.limit_commands
            || before.disable_reports != user.disable_reports
            || before.fixed_email != user.fixed_email);
    if admin_only || own_restrictions {
        return errors::security("Administrator access required", Origin::Admin);
    }
    match t.update(user) {
        Ok(user) => {
            sim.platform.bump(UPDATED);
            axum::Json(user).into_response()
        }
        Err(refusal) => refused(refusal, Origin::UpdateUser),
    }
}

/// `DELETE /users/{id}`: 204; its links go with it.
async fn delete_user(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut t = sim.db.lock();
    if !t.managed.contains(&id) {
        return user_access_denied();
    }
    t.delete(id);
    sim.platform.bump(DELETED);
    sim.db.done(&t);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /devices`: `uniqueId` and `id` (repeatable) pick devices; otherwise the caller's
/// (or `userId`'s) devices by name, with `keyword`, `limit`, `offset`.
async fn list_devices(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let t = sim.db.lock();
    let ids = match numbers(&params, "id") {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let unique_ids: Vec<&str> = values(&params, "uniqueId").collect();
    let mut devices: Vec<Device> = if !ids.is_empty() || !unique_ids.is_empty() {
        // Traccar looks each one up in turn, uniqueIds first; unknown ones are skipped.
        let by_unique = unique_ids
            .iter()
            .filter_map(|u| t.devices.iter().find(|d| d.unique_id == *u));
        let by_id = ids
            .iter()
            .filter_map(|id| t.devices.iter().find(|d| d.id == *id));
        by_unique.chain(by_id).cloned().collect()
    } else {
        let mut devices = match number(&params, "userId") {
            Err(r) => return r,
            Ok(None) | Ok(Some(MANAGER_ID)) => t.devices.clone(),
            Ok(Some(id)) if t.managed.contains(&id) => t.devices_of(id),
            Ok(Some(_)) => return user_access_denied(),
        };
        devices.sort_by_key(|d| (d.name.to_lowercase(), d.id));
        if let Some(keyword) = values(&params, "keyword").next().map(Like::new) {
            devices.retain(|d| {
                [
                    Some(&d.name),
                    Some(&d.unique_id),
                    d.phone.as_ref(),
                    d.model.as_ref(),
                    d.contact.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|field| keyword.matches(field))
            });
        }
        match page(devices, &params) {
            Ok(devices) => devices,
            Err(r) => return r,
        }
    };
    if flag(&params, "excludeAttributes") {
        devices.iter_mut().for_each(|d| d.attributes.clear());
    }
    axum::Json(devices).into_response()
}

/// A JSON object's entries in the order they were written: the first key of a
/// permission is its owner, so the order is the meaning.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A permission as `Permission(LinkedHashMap<String, Long>)` reads it: (class, id) pairs,
/// owner first.
type Permission = Vec<(&'static str, i64)>;

/// The model classes a `*Id` key can name.
const CLASSES: &[(&str, &str)] = &[
    ("userId", "User"),
    ("deviceId", "Device"),
    ("groupId", "Group"),
    ("geofenceId", "Geofence"),
    ("notificationId", "Notification"),
    ("calendarId", "Calendar"),
    ("attributeId", "Attribute"),
    ("driverId", "Driver"),
    ("managedUserId", "ManagedUser"),
    ("commandId", "Command"),
    ("maintenanceId", "Maintenance"),
    ("orderId", "Order"),
    ("reportId", "Report"),
];

fn parse_permission(entries: Vec<(String, serde_json::Value)>) -> Result<Permission, Response> {
    let mut permission = Vec::new();
    for (key, value) in &entries {
        let Some(id) = value.as_i64() else {
            return Err(errors::mapping(format!(
                "Cannot deserialize value of type `java.lang.Long` from {value} \
                 (through reference chain: java.util.LinkedHashMap[\"{key}\"])"
            )));
        };
        let Some((_, class)) = CLASSES.iter().find(|(k, _)| k == key) else {
            let name = key.strip_suffix("Id").unwrap_or(key);
            let mut chars = name.chars();
            let class: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            return Err(errors::exception(
                "java.lang.ClassNotFoundException",
                &format!("org.traccar.model.{class}"),
                Origin::AddPermission,
            ));
        };
        permission.push((*class, id));
    }
    if permission.len() != 2 {
        return Err(errors::exception(
            "java.lang.IllegalArgumentException",
            "Invalid permission",
            Origin::AddPermission,
        ));
    }
    Ok(permission)
}

fn parse_permission_body(body: &[u8]) -> Result<Permission, Response> {
    let Entries(entries) = serde_json::from_slice(body).map_err(|e| {
        errors::mapping(format!(
            "Cannot deserialize value of type `java.util.LinkedHashMap<java.lang.String,java.lang.Long>`: {e}"
        ))
    })?;
    parse_permission(entries)
}

/// The caller's access to both sides, owner first; then the link it names.
fn check_permission(t: &Tables, permission: &Permission) -> Result<Link, Response> {
    for (class, id) in permission {
        let allowed = match *class {
            "User" | "ManagedUser" => t.may_access_user(*id),
            "Device" => t.may_access_device(*id),
            // The sandbox holds no groups, geofences, ...: nothing of theirs is the caller's.
            _ => false,
        };
        if !allowed {
            return Err(errors::security(
                &format!("{class} access denied"),
                Origin::Access,
            ));
        }
    }
    match permission.as_slice() {
        [("User", user_id), ("Device", device_id)] => Ok(Link {
            user_id: *user_id,
            device_id: *device_id,
        }),
        // Any other pair names a link table the sandbox does not have; `deviceId` first
        // is the classic mistake: it reads as a device owning a user.
        [(owner, _), (property, _)] => Err(errors::storage(
            "java.sql.SQLSyntaxErrorException",
            &format!(
                "Table 'traccar.tc_{}_{}' doesn't exist",
                owner.to_lowercase(),
                property.to_lowercase()
            ),
            Origin::AddPermission,
        )),
        _ => Err(errors::exception(
            "java.lang.IllegalArgumentException",
            "Invalid permission",
            Origin::AddPermission,
        )),
    }
}

/// `POST /permissions`: 204; linking twice inserts twice (no unique constraint).
async fn add_permission(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let permission = match parse_permission_body(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut t = sim.db.lock();
    match check_permission(&t, &permission) {
        Ok(link) => {
            if t.links.contains(&link) {
                sim.platform.bump(LINKS_DUPLICATED);
            }
            t.links.push(link);
            sim.platform.bump(LINKS_CREATED);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

/// `POST /permissions/bulk`: the same one by one, without a transaction: a failure
/// midway keeps the links before it. Items with different key sets → 400, empty body.
async fn add_permissions(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let items: Vec<Entries> = match serde_json::from_slice(&body) {
        Ok(items) => items,
        Err(e) => {
            return errors::mapping(format!(
                "Cannot deserialize value of type `java.util.List<java.util.LinkedHashMap>`: {e}"
            ));
        }
    };
    let key_set = |e: &Entries| {
        let mut keys: Vec<String> = e.0.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys
    };
    if let Some(first) = items.first() {
        if items.iter().any(|i| key_set(i) != key_set(first)) {
            return StatusCode::BAD_REQUEST.into_response();
        }
    }
    let mut t = sim.db.lock();
    for Entries(entries) in items {
        let link = parse_permission(entries).and_then(|p| check_permission(&t, &p));
        match link {
            Ok(link) => {
                if t.links.contains(&link) {
                    sim.platform.bump(LINKS_DUPLICATED);
                }
                t.links.push(link);
                sim.platform.bump(LINKS_CREATED);
            }
            Err(r) => return r,
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /permissions`: removes every matching link; 204.
async fn remove_permission(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    let permission = match parse_permission_body(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut t = sim.db.lock();
    match check_permission(&t, &permission) {
        Ok(link) => {
            let before = t.links.len();
            t.links.retain(|l| *l != link);
            sim.platform
                .add(LINKS_DELETED, (before - t.links.len()) as u64);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

/// `GET /permissions` is for admins only.
async fn list_permissions(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return errors::unauthorized(&headers);
    }
    errors::security("Administrator access required", Origin::Admin)
}

/// `GET /session?token=` answers the user a (Bearer) token logs in as: the manager for the
/// sandbox token. Without `?token=` (and without a session cookie, which the simulator never
/// hands out) it is 404, even with a good Basic header: it is not a credential probe
/// (traccar.md "Auth", the OpenAPI file's `getSession`). A token that is not the sandbox's
/// is 404 too: no session.
async fn session(State(sim): State<Sim>, Query(params): Query<Params>) -> Response {
    let token_ok = values(&params, "token").next().map(str::trim) == Some(token());
    let t = sim.db.lock();
    match t.users.get(&MANAGER_ID) {
        Some(me) if token_ok => axum::Json(me).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

/// `POST /session` (form `email`, `password`): the caller's own record, or 401.
async fn open_session(State(sim): State<Sim>, Form(login): Form<Login>) -> Response {
    let t = sim.db.lock();
    let me = t.users.get(&MANAGER_ID);
    let matches = login.email.trim().eq_ignore_ascii_case(MANAGER_EMAIL)
        && login.password == db::MANAGER_PASSWORD;
    match me {
        Some(me) if matches => axum::Json(me).into_response(),
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Seeds and inspects the Traccar simulator of a running sandbox (tests, benchmarks).
#[derive(Clone)]
pub struct Traccar {
    db: Arc<Db>,
}

impl Sandbox {
    /// The Traccar simulator's state.
    pub fn traccar(&self) -> Traccar {
        let db = self
            .platform("traccar")
            .and_then(|p| p.state::<Db>())
            .expect("the traccar simulator is mounted and attached its Db");
        Traccar { db }
    }
}

impl Traccar {
    /// Adds a user the manager manages, as if made before the run (counts nothing as
    /// created). `Err` if the email is taken.
    pub fn add_user(&self, name: &str, email: &str) -> Result<i64, String> {
        self.insert(name, email, true)
    }

    /// Adds another tenant's user: invisible to `GET /users`, but its email is taken
    /// server-wide.
    pub fn add_foreign_user(&self, name: &str, email: &str) -> Result<i64, String> {
        self.insert(name, email, false)
    }

    fn insert(&self, name: &str, email: &str, managed: bool) -> Result<i64, String> {
        let mut t = self.db.lock();
        let result = t.insert(User::new(name, email), managed);
        self.db.done(&t);
        result
            .map(|u| u.id)
            .map_err(|r| format!("cannot add {email}: {r:?}"))
    }

    /// The users the manager manages, in id order.
    pub fn users(&self) -> Vec<User> {
        let t = self.db.lock();
        t.managed
            .iter()
            .filter_map(|id| t.users.get(id).cloned())
            .collect()
    }

    /// The user whose email matches (trimmed, case-insensitively), whoever manages it.
    pub fn user_by_email(&self, email: &str) -> Option<User> {
        let t = self.db.lock();
        t.id_by_email(email)
            .and_then(|id| t.users.get(&id).cloned())
    }

    /// Every user → device link inserted, in order (duplicates included).
    pub fn links(&self) -> Vec<Link> {
        self.db.lock().links.clone()
    }

    /// The seeded devices.
    pub fn devices(&self) -> Vec<Device> {
        self.db.lock().devices.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Vec<(String, serde_json::Value)> {
        serde_json::from_str::<Entries>(json).unwrap().0
    }

    #[test]
    fn permission_keys_keep_their_order() {
        assert_eq!(
            parse_permission(entries(r#"{"userId":5,"deviceId":3}"#)).unwrap(),
            vec![("User", 5), ("Device", 3)]
        );
        assert_eq!(
            parse_permission(entries(r#"{"deviceId":3,"userId":5}"#)).unwrap(),
            vec![("Device", 3), ("User", 5)]
        );
    }

    #[test]
    fn permission_shapes_traccar_refuses() {
        let cases = [
            r#"{"userId":5}"#,
            r#"{"userId":5,"deviceId":3,"groupId":1}"#,
            r#"{"userId":"5","deviceId":3}"#,
            r#"{"userId":5,"bikeId":3}"#,
        ];
        for body in cases {
            let r = parse_permission(entries(body)).expect_err(body);
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[test]
    fn the_token_is_basic_for_the_manager() {
        // base64("sandbox@muster.test:sandbox"), so `POST /session` and Basic agree.
        let plain = format!("{MANAGER_EMAIL}:{}", db::MANAGER_PASSWORD);
        assert_eq!(base64(plain.as_bytes()), token());
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn only_the_sandbox_token_authorizes() {
        let cases = [
            (Some(format!("Basic {}", token())), true),
            (Some(format!("basic {}", token())), true),
            (Some(format!("Bearer {}", token())), true),
            (Some(format!("Token {}", token())), false),
            (Some("Basic d3Jvbmc6d3Jvbmc=".to_string()), false),
            (Some("Basic ".to_string()), false),
            (None, false),
        ];
        for (value, want) in cases {
            let mut headers = HeaderMap::new();
            if let Some(v) = &value {
                headers.insert(header::AUTHORIZATION, v.parse().unwrap());
            }
            assert_eq!(authorized(&headers), want, "{value:?}");
        }
    }
}
