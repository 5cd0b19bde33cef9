//! The Motive simulator (`shared/vendors/motive.md`), mounted under `/motive/v1`.
//!
//! Stateful and in memory. Enforces the contract as the contract states it, with its own
//! serde types (nothing shared with `vendors::motive`, so a misread is caught):
//! - auth: `X-Api-Key` or `Authorization: Bearer` with the sandbox key; the test-mode key
//!   reads normally and answers writes 200 without saving anything; anything else 401.
//! - `POST /users` (flat body) → 201 `{"user": {...}}` with `id` and `external_ids`;
//!   duplicate email, username or (external_id, integration_name) → 400 "... has already been
//!   taken"; missing names, unknown role, bad eld_mode × time_tracking_mode pair, driver
//!   fields on a non-driver, top-level `group_ids` on a non-driver, unknown groups or user
//!   role → 400 with `error_message`.
//! - `GET /users` (`per_page` ≤ 100, `page_no`) items wrapped in `user`, with `pagination`;
//!   `GET /users/lookup` (email, username, driver_company_id, phone) and
//!   `GET /users/lookup_by_external_id` → 404 `{"error_message": "user not found"}`;
//!   `GET/PUT /users/{id}`; `GET /groups` (paginated, the seeded groups); `GET /companies`.
//!
//! Assumptions where the contract says UNKNOWN: enum values are matched exactly in lower
//! case (the request sample's spelling); `groups` lists are shaped like `users` lists
//! (`{"groups": [{"group": {...}}], "pagination": {...}}`); PUT takes the same flat body.

// A refusal is the ready 401 itself; its size does not matter at one per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::platform::{Platform, Reset, stat};
use super::seed;
use crate::model::{Field, VendorKind};

/// Counter: users changed by `PUT /users/{id}`.
pub const UPDATED: &str = "updated";
/// Counter: group memberships a user gained by an update (`group_ids`, or its custom
/// role's `group_ids`): what an upsert that adds groups made (issue 28).
pub const GROUPS_JOINED: &str = "groups_joined";
/// Counter: writes made with the test-mode key (answered 200, nothing saved).
pub const TEST_MODE_WRITES: &str = "test_mode_writes";
/// Counter: requests refused 401 (no key, or a wrong one).
pub const AUTH_REJECTED: &str = "auth_rejected";

/// The simulated platform's state (reach it with `Sandbox::platform("motive")?.state()`).
pub struct Motive {
    store: Mutex<Store>,
    platform: Platform,
}

#[derive(Debug, Default)]
struct Store {
    next_id: i64,
    next_external_id: i64,
    /// Users in creation order.
    users: Vec<SimUser>,
}

/// A stored user: what the platform shows (never the password).
#[derive(Debug, Clone, Serialize)]
struct SimUser {
    id: i64,
    first_name: String,
    last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    role: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver_company_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    group_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_visibility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_user_role: Option<SimRole>,
    external_ids: Vec<SimExternalId>,
    /// Every other field sent (carrier, exceptions, eld_mode, ...), shown as sent.
    #[serde(flatten)]
    other: Map<String, Value>,
    created_at: String,
    updated_at: String,
}

/// The groups a user belongs to: its `group_ids` and its custom role's.
fn memberships(user: &SimUser) -> std::collections::BTreeSet<i64> {
    user.group_ids
        .iter()
        .chain(
            user.custom_user_role
                .iter()
                .flat_map(|r| r.group_ids.iter()),
        )
        .copied()
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimRole {
    user_role_id: i64,
    #[serde(default)]
    group_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
struct SimExternalId {
    id: i64,
    external_id: String,
    integration_name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ExternalIdAttr {
    external_id: String,
    integration_name: String,
}

/// A create or update body as the contract lists it (flat).
#[derive(Debug, Clone, Default, Deserialize)]
struct UserBody {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    username: Option<String>,
    #[allow(dead_code)] // accepted, never stored or shown
    password: Option<String>,
    role: Option<String>,
    status: Option<String>,
    driver_company_id: Option<String>,
    phone: Option<String>,
    group_ids: Option<Vec<i64>>,
    group_visibility: Option<String>,
    custom_user_role: Option<SimRole>,
    external_ids_attributes: Option<Vec<ExternalIdAttr>>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

const ROLES: [&str; 3] = ["driver", "fleet_user", "admin"];
const PAIRS: [(&str, &str); 4] = [
    ("logs", "logs"),
    ("logs", "none"),
    ("timecards", "exempt"),
    ("not_required", "exempt"),
];
const DRIVER_ONLY: [&str; 7] = [
    "eld_mode",
    "time_tracking_mode",
    "duty_status",
    "cycle",
    "driver_company_id",
    "drivers_license_number",
    "drivers_license_state",
];

/// Which key a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Live,
    TestMode,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error_message": message }))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "user not found")
}

impl Store {
    /// The platform before any request: no users but the `platform_users` seeds of Motive.
    fn seeded(seeds: &[seed::PlatformSeed]) -> Store {
        let mut store = Store {
            next_id: 1000,
            next_external_id: 1,
            users: Vec::new(),
        };
        for s in seeds.iter().filter(|s| s.vendor == VendorKind::Motive) {
            let user = seeded_user(store.next_id, &s.fields);
            store.next_id += 1;
            store.users.push(user);
        }
        store
    }
}

/// A stored user from roster fields: names, email, username, role (default `driver`),
/// phone, driver company id, `status` from `disabled`; other driver fields as sent.
fn seeded_user(id: i64, fields: &[(Field, String)]) -> SimUser {
    let get = |f: Field| {
        fields
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.trim().to_string())
    };
    let now = chrono::Utc::now().to_rfc3339();
    let mut other = Map::new();
    for (f, v) in fields {
        if matches!(
            f,
            Field::EldMode
                | Field::TimeTrackingMode
                | Field::DutyStatus
                | Field::Cycle
                | Field::DotId
                | Field::DriversLicenseNumber
                | Field::DriversLicenseState
                | Field::TimeZone
                | Field::PhoneExt
        ) {
            other.insert(f.name().to_string(), json!(v.trim()));
        }
    }
    let disabled = get(Field::Disabled).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    SimUser {
        id,
        first_name: get(Field::FirstName).unwrap_or_default(),
        last_name: get(Field::LastName).unwrap_or_default(),
        email: get(Field::Email),
        username: get(Field::Username),
        role: get(Field::Role).unwrap_or_else(|| "driver".into()),
        status: if disabled { "deactivated" } else { "active" }.into(),
        driver_company_id: get(Field::DriverCompanyId),
        phone: get(Field::Phone),
        group_ids: Vec::new(),
        group_visibility: None,
        custom_user_role: None,
        external_ids: Vec::new(),
        other,
        created_at: now.clone(),
        updated_at: now,
    }
}

impl Reset for Motive {
    fn reset(&self) {
        let mut store = self.store();
        *store = Store::seeded(&self.platform.options().platform_users);
        self.platform.set(stat::USERS, store.users.len() as u64);
    }
}

impl Motive {
    /// A fresh platform with the seeded groups and the `platform_users` seeds of Motive.
    fn new(platform: Platform) -> Motive {
        let store = Store::seeded(&platform.options().platform_users);
        platform.set(stat::USERS, store.users.len() as u64);
        Motive {
            store: Mutex::new(store),
            platform,
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Users stored (for tests).
    pub fn user_count(&self) -> usize {
        self.store().users.len()
    }

    fn auth(&self, headers: &HeaderMap) -> Result<Key, Response> {
        let live = seed::CREDENTIALS
            .iter()
            .find(|(k, _)| *k == "SANDBOX_MOTIVE_API_KEY")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        let given = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_string)
            });
        match given.as_deref() {
            Some(k) if !live.is_empty() && k == live => Ok(Key::Live),
            Some(k) if k == seed::MOTIVE_TEST_MODE_KEY => Ok(Key::TestMode),
            _ => {
                self.platform.bump(AUTH_REJECTED);
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: missing or invalid API key",
                ))
            }
        }
    }

    fn create(&self, key: Key, raw: &[u8]) -> Response {
        let body: UserBody = match serde_json::from_slice(raw) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid JSON: {e}")),
        };
        if let Err(m) = check(&body, None) {
            return error(StatusCode::BAD_REQUEST, &m);
        }
        let mut store = self.store();
        if let Some(m) = store.taken(&body, None) {
            self.platform.bump(stat::DUPLICATES_REFUSED);
            return error(StatusCode::BAD_REQUEST, &m);
        }
        let now = chrono::Utc::now().to_rfc3339();
        let id = store.next_id;
        let mut user = SimUser {
            id,
            first_name: body.first_name.clone().unwrap_or_default(),
            last_name: body.last_name.clone().unwrap_or_default(),
            email: None,
            username: None,
            role: "driver".into(),
            status: "active".into(),
            driver_company_id: None,
            phone: None,
            group_ids: Vec::new(),
            group_visibility: None,
            custom_user_role: None,
            external_ids: Vec::new(),
            other: Map::new(),
            created_at: now.clone(),
            updated_at: now,
        };
        let mut next_ext = store.next_external_id;
        apply(&mut user, &body, &mut next_ext);
        if key == Key::TestMode {
            // Valid request, nothing saved.
            self.platform.bump(TEST_MODE_WRITES);
            return (StatusCode::OK, axum::Json(json!({ "user": user }))).into_response();
        }
        store.next_id += 1;
        store.next_external_id = next_ext;
        store.users.push(user.clone());
        self.platform.bump(stat::CREATED);
        self.platform.set(stat::USERS, store.users.len() as u64);
        let response = (StatusCode::CREATED, axum::Json(json!({ "user": user }))).into_response();
        // The timeout fault: created, but the answer may never come.
        self.platform.answer_create(response)
    }

    fn update(&self, key: Key, id: &str, raw: &[u8]) -> Response {
        let body: UserBody = match serde_json::from_slice(raw) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid JSON: {e}")),
        };
        let mut store = self.store();
        let Some(pos) = id
            .parse::<i64>()
            .ok()
            .and_then(|id| store.users.iter().position(|u| u.id == id))
        else {
            return not_found();
        };
        let current = store.users[pos].clone();
        if let Err(m) = check(&body, Some(&current)) {
            return error(StatusCode::BAD_REQUEST, &m);
        }
        if let Some(m) = store.taken(&body, Some(current.id)) {
            self.platform.bump(stat::DUPLICATES_REFUSED);
            return error(StatusCode::BAD_REQUEST, &m);
        }
        let before = memberships(&current);
        let mut user = current;
        let mut next_ext = store.next_external_id;
        apply(&mut user, &body, &mut next_ext);
        user.updated_at = chrono::Utc::now().to_rfc3339();
        if key == Key::TestMode {
            self.platform.bump(TEST_MODE_WRITES);
        } else {
            let joined = memberships(&user).difference(&before).count();
            store.next_external_id = next_ext;
            store.users[pos] = user.clone();
            self.platform.bump(UPDATED);
            self.platform.add(GROUPS_JOINED, joined as u64);
        }
        (StatusCode::OK, axum::Json(json!({ "user": user }))).into_response()
    }

    fn list(&self, q: &HashMap<String, String>) -> Response {
        let (per_page, page_no) = paging(q);
        let store = self.store();
        let filtered: Vec<&SimUser> = store
            .users
            .iter()
            .filter(|u| q.get("role").is_none_or(|r| *r == u.role))
            .filter(|u| q.get("status").is_none_or(|s| *s == u.status))
            .collect();
        let items: Vec<Value> = filtered
            .iter()
            .skip((page_no - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|u| json!({ "user": u }))
            .collect();
        axum::Json(json!({
            "users": items,
            "pagination": { "per_page": per_page, "page_no": page_no, "total": filtered.len() }
        }))
        .into_response()
    }

    fn lookup(&self, q: &HashMap<String, String>) -> Response {
        let store = self.store();
        let eq = |a: &Option<String>, b: &str| {
            a.as_deref()
                .is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
        };
        let found = if let Some(e) = q.get("email") {
            store.users.iter().find(|u| eq(&u.email, e))
        } else if let Some(n) = q.get("username") {
            store.users.iter().find(|u| eq(&u.username, n))
        } else if let Some(d) = q.get("driver_company_id") {
            store.users.iter().find(|u| eq(&u.driver_company_id, d))
        } else if let Some(p) = q.get("phone") {
            store.users.iter().find(|u| eq(&u.phone, p))
        } else {
            return error(
                StatusCode::BAD_REQUEST,
                "one of email, username, driver_company_id or phone is required",
            );
        };
        match found {
            Some(u) => axum::Json(json!({ "user": u })).into_response(),
            None => not_found(),
        }
    }

    fn lookup_external(&self, q: &HashMap<String, String>) -> Response {
        let (Some(ext), Some(name)) = (q.get("external_id"), q.get("integration_name")) else {
            return error(
                StatusCode::BAD_REQUEST,
                "external_id and integration_name are required",
            );
        };
        let store = self.store();
        match store.users.iter().find(|u| {
            u.external_ids
                .iter()
                .any(|x| x.external_id == *ext && x.integration_name == *name)
        }) {
            Some(u) => axum::Json(json!({ "user": u })).into_response(),
            None => not_found(),
        }
    }

    fn show(&self, id: &str) -> Response {
        let store = self.store();
        match id
            .parse::<i64>()
            .ok()
            .and_then(|id| store.users.iter().find(|u| u.id == id))
        {
            Some(u) => axum::Json(json!({ "user": u })).into_response(),
            None => not_found(),
        }
    }

    fn groups(&self, q: &HashMap<String, String>) -> Response {
        let (per_page, page_no) = paging(q);
        let items: Vec<Value> = seed::MOTIVE_GROUPS
            .iter()
            .skip((page_no - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|(id, name)| json!({ "group": { "id": id, "name": name } }))
            .collect();
        axum::Json(json!({
            "groups": items,
            "pagination": { "per_page": per_page, "page_no": page_no, "total": seed::MOTIVE_GROUPS.len() }
        }))
        .into_response()
    }
}

impl Store {
    /// Which unique value of `body` another user already holds.
    fn taken(&self, body: &UserBody, except: Option<i64>) -> Option<String> {
        let others = || self.users.iter().filter(move |u| Some(u.id) != except);
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
            _ => false,
        };
        if body.email.is_some() && others().any(|u| same(&u.email, &body.email)) {
            return Some("Email has already been taken".into());
        }
        if body.username.is_some() && others().any(|u| same(&u.username, &body.username)) {
            return Some("Username has already been taken".into());
        }
        for x in body.external_ids_attributes.iter().flatten() {
            if others().any(|u| {
                u.external_ids.iter().any(|e| {
                    e.external_id == x.external_id && e.integration_name == x.integration_name
                })
            }) {
                return Some("External id has already been taken".into());
            }
        }
        None
    }
}

/// The contract's rules on a create (`current` = None) or on an update of `current`.
fn check(body: &UserBody, current: Option<&SimUser>) -> Result<(), String> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if (current.is_none() || body.first_name.is_some()) && blank(&body.first_name) {
        return Err("First name can't be blank".into());
    }
    if (current.is_none() || body.last_name.is_some()) && blank(&body.last_name) {
        return Err("Last name can't be blank".into());
    }
    let role = body
        .role
        .clone()
        .or_else(|| current.map(|c| c.role.clone()))
        .unwrap_or_else(|| "driver".into());
    if !ROLES.contains(&role.as_str()) {
        return Err(format!("Role \"{role}\" is not included in the list"));
    }
    if let Some(s) = &body.status {
        if s != "active" && s != "deactivated" {
            return Err(format!("Status \"{s}\" is not included in the list"));
        }
    }
    let text = |k: &str| -> Option<String> {
        body.other
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| current.and_then(|c| c.other.get(k)?.as_str().map(str::to_string)))
    };
    let eld = text("eld_mode");
    let tt = text("time_tracking_mode");
    if let Some(e) = &eld {
        if !PAIRS.iter().any(|(_, x)| x == e) {
            return Err(format!("Eld mode \"{e}\" is not included in the list"));
        }
    }
    if let Some(t) = &tt {
        if !PAIRS.iter().any(|(x, _)| x == t) {
            return Err(format!(
                "Time tracking mode \"{t}\" is not included in the list"
            ));
        }
    }
    if let (Some(e), Some(t)) = (&eld, &tt) {
        if !PAIRS.contains(&(t.as_str(), e.as_str())) {
            return Err(format!(
                "Eld mode \"{e}\" is not allowed with time tracking mode \"{t}\""
            ));
        }
    }
    if role != "driver" {
        for k in DRIVER_ONLY {
            let sent = if k == "driver_company_id" {
                body.driver_company_id.is_some()
            } else {
                body.other.get(k).is_some_and(|v| !v.is_null())
            };
            if sent {
                return Err(format!("{k} can only be set on drivers"));
            }
        }
        if body.group_ids.as_ref().is_some_and(|g| !g.is_empty()) {
            return Err(
                "group_ids can only be set on drivers; restrict fleet users with custom_user_role and group_visibility".into(),
            );
        }
    }
    let known = |id: &i64| seed::MOTIVE_GROUPS.iter().any(|(g, _)| g == id);
    for id in body.group_ids.iter().flatten() {
        if !known(id) {
            return Err(format!("Group {id} not found"));
        }
    }
    if let Some(r) = &body.custom_user_role {
        if r.user_role_id != seed::MOTIVE_LIMITED_ROLE_ID {
            return Err(format!("User role {} not found", r.user_role_id));
        }
        if let Some(id) = r.group_ids.iter().find(|id| !known(id)) {
            return Err(format!("Group {id} not found"));
        }
        let visibility = body
            .group_visibility
            .as_deref()
            .or_else(|| current.and_then(|c| c.group_visibility.as_deref()));
        if !r.group_ids.is_empty() && visibility != Some("limited") {
            return Err(
                "custom_user_role with group_ids needs group_visibility \"limited\"".into(),
            );
        }
    }
    if let Some(v) = &body.group_visibility {
        if v != "limited" && v != "all" {
            return Err(format!(
                "Group visibility \"{v}\" is not included in the list"
            ));
        }
    }
    for x in body.external_ids_attributes.iter().flatten() {
        if x.external_id.trim().is_empty() || x.integration_name.trim().is_empty() {
            return Err("External ids need external_id and integration_name".into());
        }
    }
    Ok(())
}

/// Writes `body`'s fields onto `user`.
fn apply(user: &mut SimUser, body: &UserBody, next_ext: &mut i64) {
    if let Some(v) = &body.first_name {
        user.first_name = v.clone();
    }
    if let Some(v) = &body.last_name {
        user.last_name = v.clone();
    }
    if body.email.is_some() {
        user.email = body.email.clone();
    }
    if body.username.is_some() {
        user.username = body.username.clone();
    }
    if let Some(v) = &body.role {
        user.role = v.clone();
    }
    if let Some(v) = &body.status {
        user.status = v.clone();
    }
    if body.driver_company_id.is_some() {
        user.driver_company_id = body.driver_company_id.clone();
    }
    if body.phone.is_some() {
        user.phone = body.phone.clone();
    }
    if let Some(g) = &body.group_ids {
        user.group_ids = g.clone();
    }
    if body.group_visibility.is_some() {
        user.group_visibility = body.group_visibility.clone();
    }
    if body.custom_user_role.is_some() {
        user.custom_user_role = body.custom_user_role.clone();
    }
    for x in body.external_ids_attributes.iter().flatten() {
        user.external_ids.push(SimExternalId {
            id: *next_ext,
            external_id: x.external_id.clone(),
            integration_name: x.integration_name.clone(),
        });
        *next_ext += 1;
    }
    for (k, v) in &body.other {
        user.other.insert(k.clone(), v.clone());
    }
}

fn paging(q: &HashMap<String, String>) -> (usize, usize) {
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let page_no = q
        .get("page_no")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    (per_page, page_no)
}

type Q = Query<HashMap<String, String>>;

/// The Motive simulator; paths are below its prefix (`/v1/users`, ...).
pub fn router(platform: Platform) -> Router {
    let sim = Arc::new(Motive::new(platform.clone()));
    platform.attach(sim.clone());
    Router::new()
        .route("/v1/companies", get(companies))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/lookup", get(lookup_user))
        .route("/v1/users/lookup_by_external_id", get(lookup_external))
        .route("/v1/users/{id}", get(show_user).put(update_user))
        .route("/v1/groups", get(list_groups))
        .with_state(sim)
}

macro_rules! authed {
    ($sim:expr, $headers:expr) => {{
        match $sim.auth(&$headers) {
            Ok(k) => k,
            Err(r) => return r,
        }
    }};
}
async fn companies(State(sim): State<Arc<Motive>>, headers: HeaderMap) -> Response {
    authed!(sim, headers);
    axum::Json(json!({
        "companies": [{ "company": { "id": 1, "name": "Sandbox Freight", "dot_ids": ["1234567"] } }]
    }))
    .into_response()
}

async fn list_users(State(sim): State<Arc<Motive>>, headers: HeaderMap, Query(q): Q) -> Response {
    authed!(sim, headers);
    sim.list(&q)
}

async fn create_user(State(sim): State<Arc<Motive>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = authed!(sim, headers);
    sim.create(key, &body)
}

async fn lookup_user(State(sim): State<Arc<Motive>>, headers: HeaderMap, Query(q): Q) -> Response {
    authed!(sim, headers);
    sim.lookup(&q)
}

async fn lookup_external(
    State(sim): State<Arc<Motive>>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    authed!(sim, headers);
    sim.lookup_external(&q)
}

async fn show_user(
    State(sim): State<Arc<Motive>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    authed!(sim, headers);
    sim.show(&id)
}

async fn update_user(
    State(sim): State<Arc<Motive>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let key = authed!(sim, headers);
    sim.update(key, &id, &body)
}

async fn list_groups(State(sim): State<Arc<Motive>>, headers: HeaderMap, Query(q): Q) -> Response {
    authed!(sim, headers);
    sim.groups(&q)
}
