//! The Pegasus Gateway simulator, served under `/pegasus/...` (`shared/vendors/pegasus.md`).
//!
//! - `POST /login` → `{"message", "app", "auth"}`; tokens in the `Authenticate` header (or
//!   `?auth=`), expiring after [`Settings::token_ttl`] without requests (sliding).
//! - `GET /user`: the account and its scopes. Writes need the resource's scope `w`
//!   (`groups`, `users`, `users.application_data` for `/apps?user=`), else 401.
//! - `GET /groups` (`search.name=`, case-sensitive substring) and `GET /users` (`select=`;
//!   `search.` ignored, as the contract assumes), paginated with `set`/`page`.
//! - `POST /groups` (names are not unique: every create makes a group), `POST /users`
//!   (duplicate username or e-mail → 409, password policy of 6.11.1 → 400),
//!   `PUT /apps/pegasus2.0?user=ID` (replace; 5/s and 20/min per account → 429 with
//!   `X-RateLimit-*`).
//! - `GET /users/{id}`, and `PUT /users/{id}` (assumed, the contract documents no update):
//!   changes only the keys sent, refuses keys it does not know (400), a taken username or
//!   e-mail (409) and unknown groups (400); `is_active: false` deactivates (the user stays
//!   listed). Counters `updated` and `deactivated`.
//! - `Options::platform_users` of vendor `pegasus` are held from the start (and after a
//!   reset), each in the group named by its `company` (one group per name).
//!
//! Shares no wire type with `vendors::pegasus`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::platform::{Platform, Reset, stat};
use super::seed;
use crate::model::{Field, VendorKind};

/// Counter: groups made by `POST /groups`.
pub const GROUPS_CREATED: &str = "groups_created";
/// Counter: successful `PUT /apps/...` (repeats included).
pub const APPS_GRANTED: &str = "apps_granted";
/// Gauge: users that have app access.
pub const USERS_WITH_APPS: &str = "users_with_apps";
/// Counter: successful logins.
pub const LOGINS: &str = "logins";
/// Counter: requests refused 401 for an expired or unknown token.
pub const EXPIRED_TOKENS: &str = "tokens_refused";
/// Counter: writes refused 401 for a missing scope.
pub const SCOPES_REFUSED: &str = "scopes_refused";
/// Counter: users changed by `PUT /users/{id}` (deactivations included).
pub const UPDATED: &str = "updated";
/// Counter: users switched from active to inactive by `PUT /users/{id}` `is_active: false`.
pub const DEACTIVATED: &str = "deactivated";
/// Counter: `/apps` requests refused by the test hook [`PegasusSim::refuse_apps`].
pub const APPS_REFUSED: &str = "apps_refused";

/// A seeded account that may read users but not write them (`users=r`): for tests of the
/// scope check. Its password is the admin's.
pub const LIMITED_USER: &str = "viewer@sandbox.test";

/// Pegasus-only knobs of the sandbox.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A token expires after this long without requests (the platform: 60 min).
    pub token_ttl: Duration,
    /// `/apps` requests per second per account (the platform: 5).
    pub apps_per_second: u32,
    /// `/apps` requests per minute per account (the platform: 20).
    pub apps_per_minute: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            token_ttl: Duration::from_secs(3600),
            apps_per_second: 5,
            apps_per_minute: 20,
        }
    }
}

/// The simulator's state; tests reach it with `platform.state::<PegasusSim>()`.
pub struct PegasusSim {
    platform: Platform,
    settings: Settings,
    /// Users held before any request (`Options::platform_users` of vendor `pegasus`).
    seeds: Vec<seed::PlatformSeed>,
    db: Mutex<Db>,
}

struct Account {
    id: i64,
    username: &'static str,
    password: &'static str,
    is_staff: bool,
    scopes: &'static [(&'static str, &'static str)],
}

struct Token {
    account: usize,
    last_used: Instant,
}

#[derive(Default)]
struct Db {
    tokens: HashMap<String, Token>,
    /// Every token handed out since the start or the last reset, in order.
    issued: Vec<String>,
    groups: Vec<Value>,
    users: Vec<Value>,
    /// App access by user id: the stored record.
    apps: BTreeMap<i64, Value>,
    next_group: i64,
    next_user: i64,
    next_app: i64,
    /// Per account: `/apps` requests let through in the last minute, and the second's bucket.
    apps_log: HashMap<usize, VecDeque<Instant>>,
    apps_bucket: HashMap<usize, (f64, Instant)>,
    refuse_apps: bool,
    /// Every `PUT /users/{id}` applied: (user id, body as sent).
    updates: Vec<(i64, Value)>,
    /// User ids by ASCII-lower-cased username and by e-mail: the uniqueness checks of a
    /// create or an update, without a scan of every user (20,000 in the long fault test).
    usernames: HashMap<String, i64>,
    emails: HashMap<String, i64>,
}

const FIRST_GROUP_ID: i64 = 3700;
const FIRST_USER_ID: i64 = 5200;
const FIRST_APP_ID: i64 = 4800;

impl Db {
    /// Stores a new user (ids only grow, so `users` stays in id order) and indexes it.
    fn add_user(&mut self, user: Value) {
        self.index(&user);
        self.users.push(user);
    }

    /// Indexes `user`'s username and e-mail (a key already held keeps its first user).
    fn index(&mut self, user: &Value) {
        let Some(id) = user.get("id").and_then(Value::as_i64) else {
            return;
        };
        for (key, index) in [
            ("username", &mut self.usernames),
            ("email", &mut self.emails),
        ] {
            if let Some(v) = user.get(key).and_then(Value::as_str) {
                index.entry(v.to_ascii_lowercase()).or_insert(id);
            }
        }
    }

    /// Forgets `user`'s username and e-mail, where they point at it.
    fn unindex(&mut self, user: &Value) {
        let id = user.get("id").and_then(Value::as_i64);
        for (key, index) in [
            ("username", &mut self.usernames),
            ("email", &mut self.emails),
        ] {
            if let Some(v) = user.get(key).and_then(Value::as_str) {
                let k = v.to_ascii_lowercase();
                if index.get(&k).copied() == id {
                    index.remove(&k);
                }
            }
        }
    }

    /// The user holding `value` as its `key` ("username" or "email"), case-insensitively.
    fn holder(&self, key: &str, value: &str) -> Option<i64> {
        let index = if key == "username" {
            &self.usernames
        } else {
            &self.emails
        };
        index.get(&value.to_ascii_lowercase()).copied()
    }

    fn fresh() -> Db {
        Db {
            next_group: FIRST_GROUP_ID,
            next_user: FIRST_USER_ID,
            next_app: FIRST_APP_ID,
            ..Db::default()
        }
    }

    /// A fresh platform holding the seeded users, each in its company's group (made once
    /// per company name). Seeds are trusted test data: no policy or uniqueness check.
    fn seeded(seeds: &[seed::PlatformSeed]) -> Db {
        let mut db = Db::fresh();
        for s in seeds.iter().filter(|s| s.vendor == VendorKind::Pegasus) {
            let get = |f: Field| {
                s.fields
                    .iter()
                    .find(|(k, _)| *k == f)
                    .map(|(_, v)| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let groups: Vec<i64> = get(Field::Company)
                .map(|c| vec![db.group_named(&c)])
                .unwrap_or_default();
            let username = get(Field::Username).or_else(|| get(Field::Email));
            let email = get(Field::Email).or_else(|| username.clone());
            let active = !matches!(
                get(Field::Disabled)
                    .map(|d| d.to_ascii_lowercase())
                    .as_deref(),
                Some("true" | "yes" | "1")
            );
            let id = db.next_user;
            db.next_user += 1;
            let now = now_epoch();
            db.add_user(json!({
                "id": id, "username": username, "email": email,
                "first_name": get(Field::FirstName), "last_name": get(Field::LastName),
                "groups": groups, "is_active": active, "is_staff": false,
                "is_superuser": false, "phone": get(Field::Phone), "roles": [],
                "access": get(Field::Role).unwrap_or_else(|| "basic".into()),
                "prefs": {"language": get(Field::Language).unwrap_or_else(|| "en".into())},
                "scopes": {}, "date_joined": now as i64, "last_login": null,
                "__created": now, "__updated": now, "__version": "7.99.0-sandbox",
            }));
        }
        db
    }

    /// The id of the first group with this exact name, made when there is none.
    fn group_named(&mut self, name: &str) -> i64 {
        if let Some(id) = self.groups.iter().find_map(|g| {
            (g.get("name").and_then(Value::as_str) == Some(name))
                .then(|| g.get("id").and_then(Value::as_i64))
                .flatten()
        }) {
            return id;
        }
        let id = self.next_group;
        self.next_group += 1;
        let now = now_epoch();
        self.groups.push(json!({
            "id": id, "name": name, "company_name": name, "contact_name": "",
            "contact_email": "", "address_1": "", "address_2": null, "city": "",
            "country": "", "logo": false, "users": [], "vehicles": [], "assets": [],
            "__created": now, "__updated": now, "__version": "7.99.0-sandbox",
        }));
        id
    }
}

fn accounts() -> [Account; 2] {
    let admin = seed::CREDENTIALS
        .iter()
        .find(|(var, _)| *var == "SANDBOX_PEGASUS_USER")
        .map(|(_, v)| *v)
        .expect("seed::CREDENTIALS holds SANDBOX_PEGASUS_USER");
    [
        Account {
            id: 1,
            username: admin,
            password: password(),
            is_staff: true,
            scopes: &[
                ("groups", "w"),
                ("users", "w"),
                ("users.application_data", "w"),
                ("vehicles", "w"),
                ("assets", "w"),
            ],
        },
        Account {
            id: 2,
            username: LIMITED_USER,
            password: password(),
            is_staff: false,
            scopes: &[
                ("groups", "w"),
                ("users", "r"),
                ("users.application_data", "w"),
                ("vehicles", "r"),
            ],
        },
    ]
}

fn password() -> &'static str {
    seed::CREDENTIALS
        .iter()
        .find(|(var, _)| *var == "SANDBOX_PEGASUS_PASSWORD")
        .map(|(_, v)| *v)
        .expect("seed::CREDENTIALS holds SANDBOX_PEGASUS_PASSWORD")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PegasusSim {
    /// Users as stored (no password), in creation order.
    pub fn users(&self) -> Vec<Value> {
        lock(&self.db).users.clone()
    }

    /// Groups as stored, in creation order.
    pub fn groups(&self) -> Vec<Value> {
        lock(&self.db).groups.clone()
    }

    /// Every `PUT /users/{id}` applied, in order: (user id, body as sent).
    pub fn updates(&self) -> Vec<(i64, Value)> {
        lock(&self.db).updates.clone()
    }

    /// App access records by user id.
    pub fn apps(&self) -> BTreeMap<i64, Value> {
        lock(&self.db).apps.clone()
    }

    /// Test hook: while on, every `PUT /apps/...` is refused with a 400 and does nothing.
    pub fn refuse_apps(&self, on: bool) {
        lock(&self.db).refuse_apps = on;
    }

    /// Test hook: forgets every token, as if they all expired.
    pub fn expire_tokens(&self) {
        lock(&self.db).tokens.clear();
    }

    /// Every token handed out since the start or the last reset, in order (to prove none
    /// leaks).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.db).issued.clone()
    }
}

impl Reset for PegasusSim {
    fn reset(&self) {
        let db = Db::seeded(&self.seeds);
        let users = db.users.len() as u64;
        *lock(&self.db) = db;
        self.platform.set(stat::USERS, users);
        self.platform.set(USERS_WITH_APPS, 0);
    }
}

type Sim = Arc<PegasusSim>;

/// The Pegasus simulator; paths are below its prefix (`/login`, `/users`, ...).
pub fn router(platform: Platform) -> Router {
    let seeds = platform.options().platform_users.clone();
    let db = Db::seeded(&seeds);
    let users = db.users.len() as u64;
    let sim = Arc::new(PegasusSim {
        settings: platform.options().pegasus.clone(),
        platform: platform.clone(),
        seeds,
        db: Mutex::new(db),
    });
    platform.attach(sim.clone());
    for name in [
        GROUPS_CREATED,
        APPS_GRANTED,
        USERS_WITH_APPS,
        LOGINS,
        UPDATED,
        DEACTIVATED,
    ] {
        platform.add(name, 0);
    }
    platform.set(stat::USERS, users);
    Router::new()
        .route("/", get(version))
        .route("/login", post(login))
        .route("/user", get(me))
        .route("/groups", get(list_groups).post(create_group))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(one_user).put(update_user))
        .route("/apps/{app}", get(get_apps).put(put_apps))
        .with_state(sim)
}

/// A refusal on its way out of a helper (boxed: a `Response` is large).
type Refusal = Box<Response>;

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    answer(status, json!({ "message": text.into() }))
}

async fn version() -> Response {
    answer(
        StatusCode::OK,
        json!({"name": "Pegasus Gateway (muster sandbox)", "tag": "7.99.0-sandbox", "date": null, "live_url": null, "pegasus_id": "sandbox"}),
    )
}

fn parse_json(body: &Bytes) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            "Body must be a JSON object",
        ))),
    }
}

async fn login(State(sim): State<Sim>, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let username = body.get("username").and_then(Value::as_str).unwrap_or("");
    let password = body.get("password").and_then(Value::as_str).unwrap_or("");
    let Some(account) = accounts()
        .iter()
        .position(|a| a.username.eq_ignore_ascii_case(username.trim()) && a.password == password)
    else {
        return message(StatusCode::UNAUTHORIZED, "Invalid username or password");
    };
    let token = {
        use rand::RngCore;
        let mut bytes = [0u8; 20];
        rand::rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let mut db = lock(&sim.db);
    db.tokens.insert(
        token.clone(),
        Token {
            account,
            last_used: Instant::now(),
        },
    );
    db.issued.push(token.clone());
    drop(db);
    sim.platform.bump(LOGINS);
    answer(
        StatusCode::OK,
        json!({"message": "User successfully authenticated", "app": null, "auth": token}),
    )
}

/// The account behind the request's token, refreshing its sliding expiry; else the 401.
fn authenticate(
    sim: &PegasusSim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<usize, Refusal> {
    let token = headers
        .get("authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| query.get("auth").map(|s| s.trim()))
        .unwrap_or("");
    let now = Instant::now();
    let mut db = lock(&sim.db);
    let account = match db.tokens.get_mut(token) {
        Some(t) if now.saturating_duration_since(t.last_used) < sim.settings.token_ttl => {
            t.last_used = now;
            Some(t.account)
        }
        Some(_) => {
            db.tokens.remove(token);
            None
        }
        None => None,
    };
    drop(db);
    account.ok_or_else(|| {
        sim.platform.bump(EXPIRED_TOKENS);
        Box::new(message(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided or have expired",
        ))
    })
}

/// 401 unless the account may write `resource`.
/// The opening of every create: an authenticated caller with write scope on `resource`
/// and a JSON object body.
fn write_request(
    sim: &PegasusSim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &Bytes,
    resource: &str,
) -> Result<Map<String, Value>, Refusal> {
    let account = authenticate(sim, headers, query)?;
    require_write(sim, account, resource)?;
    parse_json(body)
}

fn require_write(sim: &PegasusSim, account: usize, resource: &str) -> Result<(), Refusal> {
    let accounts = accounts();
    let a = &accounts[account];
    let ok = a.is_staff || a.scopes.iter().any(|(r, m)| *r == resource && *m == "w");
    if ok {
        Ok(())
    } else {
        sim.platform.bump(SCOPES_REFUSED);
        Err(Box::new(message(
            StatusCode::UNAUTHORIZED,
            format!("Missing scope: {resource}=w"),
        )))
    }
}

async fn me(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let account = match authenticate(&sim, &headers, &query) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let accounts = accounts();
    let a = &accounts[account];
    let scopes: Map<String, Value> = a
        .scopes
        .iter()
        .map(|(r, m)| (r.to_string(), json!(m)))
        .collect();
    answer(
        StatusCode::OK,
        json!({"id": a.id, "username": a.username, "email": a.username, "scopes": scopes,
               "groups": [], "is_staff": a.is_staff, "is_superuser": false}),
    )
}

/// One page of `items`, as `{"set", "total", "page", "pages", "data"}`, each item with
/// only its `select=` fields. Copies only the page: a page of 20,000 users costs a page,
/// not the whole list (the list is read under the platform's lock).
fn page(items: &[Value], query: &HashMap<String, String>) -> Result<Value, Refusal> {
    let number = |key: &str, default: usize| -> Result<usize, Refusal> {
        match query.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    Box::new(message(
                        StatusCode::BAD_REQUEST,
                        format!("{key} must be a positive whole number"),
                    ))
                }),
        }
    };
    let set = number("set", 200)?.min(1000);
    let page = number("page", 1)?;
    let total = items.len();
    let pages = total.div_ceil(set).max(1);
    let fields = selected(query);
    let data: Vec<Value> = items
        .iter()
        .skip((page - 1).saturating_mul(set))
        .take(set)
        .map(|item| select_one(item, fields.as_deref()))
        .collect();
    Ok(json!({"set": set, "total": total, "page": page, "pages": pages, "data": data}))
}

/// The `select=` fields, if the query names any.
fn selected(query: &HashMap<String, String>) -> Option<Vec<&str>> {
    query
        .get("select")
        .map(|fields| fields.split(',').map(str::trim).collect())
}

/// A copy of `item` with only `fields` (all of it when `None`).
fn select_one(item: &Value, fields: Option<&[&str]>) -> Value {
    match (item, fields) {
        (Value::Object(m), Some(fields)) => Value::Object(
            m.iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => item.clone(),
    }
}

async fn list_groups(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&sim, &headers, &query) {
        return *r;
    }
    let mut groups = lock(&sim.db).groups.clone();
    if let Some(name) = query.get("search.name") {
        groups.retain(|g| {
            g.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains(name.as_str()))
        });
    }
    match page(&groups, &query) {
        Ok(v) => answer(StatusCode::OK, v),
        Err(r) => *r,
    }
}

async fn list_users(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&sim, &headers, &query) {
        return *r;
    }
    let paged = page(&lock(&sim.db).users, &query);
    match paged {
        Ok(v) => answer(StatusCode::OK, v),
        Err(r) => *r,
    }
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

async fn create_group(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = match write_request(&sim, &headers, &query, &body, "groups") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(name) = text(&body, "name") else {
        return message(StatusCode::BAD_REQUEST, "name: This field is required.");
    };
    let field = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    let group = {
        let mut db = lock(&sim.db);
        let id = db.next_group;
        db.next_group += 1;
        let now = now_epoch();
        let group = json!({
            "id": id, "name": name, "company_name": field("company_name"),
            "contact_name": field("contact_name"), "contact_email": field("contact_email"),
            "address_1": field("address_1"), "address_2": field("address_2"),
            "city": field("city"), "country": field("country"), "logo": false,
            "users": [], "vehicles": [], "assets": [],
            "__created": now, "__updated": now, "__version": "7.99.0-sandbox",
        });
        db.groups.push(group.clone());
        group
    };
    sim.platform.bump(GROUPS_CREATED);
    sim.platform
        .answer_create(answer(StatusCode::CREATED, group))
}

/// The 6.11.1 policy: ≥ 8 characters, an upper-case letter, a lower-case letter, a digit.
fn password_ok(p: &str) -> bool {
    p.chars().count() >= 8
        && p.chars().any(|c| c.is_uppercase())
        && p.chars().any(|c| c.is_lowercase())
        && p.chars().any(|c| c.is_ascii_digit())
}

async fn create_user(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = match write_request(&sim, &headers, &query, &body, "users") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(username) = text(&body, "username") else {
        return message(StatusCode::BAD_REQUEST, "username: This field is required.");
    };
    let Some(email) = text(&body, "email").filter(|e| e.contains('@')) else {
        return message(
            StatusCode::BAD_REQUEST,
            "email: Enter a valid email address.",
        );
    };
    let send_email = body.get("send_email").and_then(Value::as_bool) == Some(true);
    match body.get("password").and_then(Value::as_str) {
        Some(p) if !password_ok(p) => {
            return message(
                StatusCode::BAD_REQUEST,
                "password: must have at least 8 characters, one upper-case letter, one lower-case letter and one digit",
            );
        }
        None if !send_email => {
            return message(
                StatusCode::BAD_REQUEST,
                "password: required unless send_email is true",
            );
        }
        _ => {}
    }
    let groups: Vec<i64> = match body.get("groups") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    let user = {
        let mut db = lock(&sim.db);
        if groups.is_empty()
            || groups.iter().any(|g| {
                !db.groups
                    .iter()
                    .any(|x| x.get("id").and_then(Value::as_i64) == Some(*g))
            })
        {
            return message(
                StatusCode::BAD_REQUEST,
                "groups: must name at least one existing group",
            );
        }
        let taken = if db.holder("username", &username).is_some() {
            Some(format!("A user with username {username} already exists"))
        } else if db.holder("email", &email).is_some() {
            Some(format!("A user with email {email} already exists"))
        } else {
            None
        };
        if let Some(text) = taken {
            drop(db);
            sim.platform.bump(stat::DUPLICATES_REFUSED);
            return message(StatusCode::CONFLICT, text);
        }
        let id = db.next_user;
        db.next_user += 1;
        let now = now_epoch();
        let field = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
        let user = json!({
            "id": id, "username": username, "email": email,
            "first_name": field("first_name"), "last_name": field("last_name"),
            "groups": groups, "is_active": body.get("is_active").cloned().unwrap_or(json!(true)),
            "is_staff": false, "is_superuser": false, "phone": field("phone"),
            "roles": body.get("roles").cloned().unwrap_or(json!([])),
            "access": field("access"),
            "prefs": body.get("prefs").cloned().unwrap_or(json!({})),
            "scopes": body.get("scopes").cloned().unwrap_or(json!({})),
            "date_joined": now as i64, "last_login": null,
            "__created": now, "__updated": now, "__version": "7.99.0-sandbox",
        });
        db.add_user(user.clone());
        let n = db.users.len() as u64;
        drop(db);
        sim.platform.set(stat::USERS, n);
        user
    };
    sim.platform.bump(stat::CREATED);
    sim.platform
        .answer_create(answer(StatusCode::CREATED, user))
}

/// The keys `PUT /users/{id}` changes; any other key is refused (400), so a connector that
/// sends what it should not is caught.
const UPDATABLE: [&str; 10] = [
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "groups",
    "is_active",
    "access",
    "prefs",
    "scopes",
];

fn user_position(db: &Db, id: &str) -> Option<usize> {
    let id = id.trim().parse::<i64>().ok()?;
    position_of(db, id)
}

/// Where user `id` is stored: `users` is in id order (ids only grow, users are only added).
fn position_of(db: &Db, id: i64) -> Option<usize> {
    db.users
        .binary_search_by_key(&Some(id), |u| u.get("id").and_then(Value::as_i64))
        .ok()
}

async fn one_user(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&sim, &headers, &query) {
        return *r;
    }
    let db = lock(&sim.db);
    match user_position(&db, &id) {
        Some(i) => {
            let user = select_one(&db.users[i], selected(&query).as_deref());
            drop(db);
            answer(StatusCode::OK, user)
        }
        None => message(StatusCode::NOT_FOUND, format!("User {id} not found")),
    }
}

/// `PUT /users/{id}`: changes only the keys sent (partial update, as the platform's other
/// `PUT`s do; the contract documents no user update, so this is the simulator's assumption).
/// `is_active: false` deactivates: the user stays listed, inactive. Same rules as the
/// create: a taken username or e-mail is 409, groups must exist.
async fn update_user(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = match write_request(&sim, &headers, &query, &body, "users") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(k) = body.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return message(
            StatusCode::BAD_REQUEST,
            format!("{k}: This field cannot be changed with PUT /users/{{id}}."),
        );
    }
    if body.get("email").is_some() && text(&body, "email").is_none_or(|e| !e.contains('@')) {
        return message(
            StatusCode::BAD_REQUEST,
            "email: Enter a valid email address.",
        );
    }
    if body.get("username").is_some() && text(&body, "username").is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            "username: This field may not be blank.",
        );
    }
    if body.get("is_active").is_some_and(|v| !v.is_boolean()) {
        return message(
            StatusCode::BAD_REQUEST,
            "is_active: Must be a valid boolean.",
        );
    }
    let mut db = lock(&sim.db);
    let Some(i) = user_position(&db, &id) else {
        return message(StatusCode::NOT_FOUND, format!("User {id} not found"));
    };
    if let Some(groups) = body.get("groups") {
        let ids: Option<Vec<i64>> = groups
            .as_array()
            .map(|items| items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
            .unwrap_or(None);
        let known = |g: &i64| {
            db.groups
                .iter()
                .any(|x| x.get("id").and_then(Value::as_i64) == Some(*g))
        };
        if !ids.is_some_and(|ids| !ids.is_empty() && ids.iter().all(known)) {
            return message(
                StatusCode::BAD_REQUEST,
                "groups: must name at least one existing group",
            );
        }
    }
    for key in ["username", "email"] {
        let Some(want) = text(&body, key) else {
            continue;
        };
        let own = db.users[i].get("id").and_then(Value::as_i64);
        let taken = db
            .holder(key, &want)
            .is_some_and(|holder| Some(holder) != own);
        if taken {
            drop(db);
            sim.platform.bump(stat::DUPLICATES_REFUSED);
            return message(
                StatusCode::CONFLICT,
                format!("A user with {key} {want} already exists"),
            );
        }
    }
    let user_id = db.users[i].get("id").and_then(Value::as_i64).unwrap_or(0);
    db.updates.push((user_id, Value::Object(body.clone())));
    let before = db.users[i].clone();
    db.unindex(&before);
    let user = &mut db.users[i];
    let was_active = user.get("is_active") != Some(&Value::Bool(false));
    if let Value::Object(stored) = user {
        for (k, v) in body {
            stored.insert(k, v);
        }
        stored.insert("__updated".into(), json!(now_epoch()));
    }
    let user = user.clone();
    db.index(&user);
    let now_active = user.get("is_active") != Some(&Value::Bool(false));
    drop(db);
    sim.platform.bump(UPDATED);
    if was_active && !now_active {
        sim.platform.bump(DEACTIVATED);
    }
    answer(StatusCode::OK, user)
}

/// Why an `/apps` request is over the per-account limits: (limit, value, seconds to reset).
fn apps_limit(
    sim: &PegasusSim,
    db: &mut Db,
    account: usize,
    now: Instant,
) -> Option<(u32, f64, f64)> {
    let per_minute = sim.settings.apps_per_minute;
    let per_second = sim.settings.apps_per_second;
    let log = db.apps_log.entry(account).or_default();
    while log
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60))
    {
        log.pop_front();
    }
    if per_minute > 0 && log.len() >= per_minute as usize {
        let reset = log
            .front()
            .map(|t| 60.0 - now.saturating_duration_since(*t).as_secs_f64())
            .unwrap_or(60.0);
        return Some((per_minute, log.len() as f64 + 1.0, reset));
    }
    if per_second > 0 {
        let cap = f64::from(per_second);
        let (tokens, last) = db.apps_bucket.entry(account).or_insert((cap, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * cap).min(cap);
        *last = now;
        if *tokens < 1.0 - 1e-9 {
            let wait = (1.0 - *tokens) / cap;
            return Some((per_second, cap + 1.0 - *tokens, wait));
        }
        *tokens = (*tokens - 1.0).max(0.0);
    }
    db.apps_log.entry(account).or_default().push_back(now);
    None
}

/// The `/apps` limits on one request of `account`: the lock back when it may go, else the
/// 429 Pegasus answers (with its `X-RateLimit-*` headers).
fn over_apps_limit<'a>(
    sim: &PegasusSim,
    mut db: MutexGuard<'a, Db>,
    account: usize,
) -> Result<MutexGuard<'a, Db>, Box<Response>> {
    let Some((limit, value, reset)) = apps_limit(sim, &mut db, account, Instant::now()) else {
        return Ok(db);
    };
    drop(db);
    sim.platform.bump(stat::RATE_LIMITED);
    let mut r = answer(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"reason": "apps", "message": "Rate exceeded", "limit": limit,
               "id": format!("{account:x}"), "value": value}),
    );
    let reset_at = (now_epoch() + reset.max(0.0)).ceil() as u64;
    let h = r.headers_mut();
    h.insert("X-RateLimit-Limit", HeaderValue::from(limit));
    h.insert("X-RateLimit-Remaining", HeaderValue::from(0u32));
    h.insert("X-RateLimit-Reset", HeaderValue::from(reset_at));
    Err(Box::new(r))
}

/// `GET /apps/{app}?user=ID`: the user's access record, as `PUT` stored it, or 404 when
/// none was granted. Undocumented (issue 28 reads app access with it): assumed to exist
/// and to count against the same `/apps` limits as `PUT`.
async fn get_apps(
    State(sim): State<Sim>,
    Path(app): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let account = match authenticate(&sim, &headers, &query) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if app != "pegasus2.0" {
        return message(StatusCode::NOT_FOUND, format!("Unknown app {app}"));
    }
    let db = lock(&sim.db);
    let db = match over_apps_limit(&sim, db, account) {
        Ok(db) => db,
        Err(r) => return *r,
    };
    let Some(user) = query.get("user").and_then(|u| u.trim().parse::<i64>().ok()) else {
        return message(StatusCode::BAD_REQUEST, "user: a user id is required");
    };
    match db.apps.get(&user) {
        Some(record) => answer(StatusCode::OK, record.clone()),
        None => message(
            StatusCode::NOT_FOUND,
            format!("User {user} has no access to {app}"),
        ),
    }
}

async fn put_apps(
    State(sim): State<Sim>,
    Path(app): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let account = match authenticate(&sim, &headers, &query) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if app != "pegasus2.0" {
        return message(StatusCode::NOT_FOUND, format!("Unknown app {app}"));
    }
    if let Err(r) = require_write(&sim, account, "users.application_data") {
        return *r;
    }
    let db = lock(&sim.db);
    let mut db = match over_apps_limit(&sim, db, account) {
        Ok(db) => db,
        Err(r) => return *r,
    };
    if db.refuse_apps {
        drop(db);
        sim.platform.bump(APPS_REFUSED);
        sim.platform.bump(stat::FAULTS_INJECTED);
        return message(
            StatusCode::BAD_REQUEST,
            "App access refused by the sandbox's test hook",
        );
    }
    let Some(user) = query.get("user").and_then(|u| u.trim().parse::<i64>().ok()) else {
        return message(StatusCode::BAD_REQUEST, "user: a user id is required");
    };
    if position_of(&db, user).is_none() {
        return message(StatusCode::NOT_FOUND, format!("User {user} not found"));
    }
    let staff = match parse_json(&body) {
        Ok(b) => match b.get("staff") {
            Some(s @ Value::Object(m)) if m.get("apps").is_some_and(Value::is_object) => s.clone(),
            _ => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "staff.apps: an object of app names is required",
                );
            }
        },
        Err(r) => return *r,
    };
    let id = match db
        .apps
        .get(&user)
        .and_then(|a| a.get("id"))
        .and_then(Value::as_i64)
    {
        Some(id) => id,
        None => {
            let id = db.next_app;
            db.next_app += 1;
            id
        }
    };
    let record =
        json!({"id": id, "app": app, "user": user, "disabled": false, "data": {}, "staff": staff});
    db.apps.insert(user, record.clone());
    let n = db.apps.len() as u64;
    drop(db);
    sim.platform.set(USERS_WITH_APPS, n);
    sim.platform.bump(APPS_GRANTED);
    answer(StatusCode::OK, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Usernames and e-mails stay unique through updates, which move them in the index:
    /// a value a user gave up is free again, its new value is taken, its own is no conflict.
    #[tokio::test]
    async fn uniqueness_follows_updates() {
        use crate::sandbox::Sandbox;
        let person = |name: &str| seed::PlatformSeed {
            vendor: VendorKind::Pegasus,
            fields: vec![
                (Field::Username, format!("{name}@x.test")),
                (Field::Email, format!("{name}@x.test")),
                (Field::Company, "Acme".into()),
            ],
        };
        let sandbox = Sandbox::start(
            "127.0.0.1:0",
            crate::sandbox::Options {
                platform_users: vec![person("a"), person("b")],
                ..crate::sandbox::Options::default()
            },
        )
        .await
        .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = format!("{}/pegasus", sandbox.url());
        let login: Value = http
            .post(format!("{base}/login"))
            .json(&json!({"username": "admin@sandbox.test", "password": "Sandbox-Pass-1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["auth"].as_str().unwrap().to_string();
        let (a, b) = (FIRST_USER_ID, FIRST_USER_ID + 1);
        // (method, path, body, expected status)
        let cases = [
            (
                "PUT",
                format!("/users/{b}"),
                json!({"email": "A@X.test"}),
                409,
            ),
            (
                "PUT",
                format!("/users/{b}"),
                json!({"username": "a@x.test"}),
                409,
            ),
            (
                "PUT",
                format!("/users/{b}"),
                json!({"email": "b@x.test"}),
                200,
            ),
            (
                "PUT",
                format!("/users/{b}"),
                json!({"email": "b2@x.test"}),
                200,
            ),
            (
                "PUT",
                format!("/users/{a}"),
                json!({"email": "B2@x.test"}),
                409,
            ),
            (
                "POST",
                "/users".to_string(),
                json!({"username": "c@x.test", "email": "b@x.test", "password": "Secret-Pass-1", "groups": [FIRST_GROUP_ID]}),
                201,
            ),
            (
                "POST",
                "/users".to_string(),
                json!({"username": "d@x.test", "email": "b2@x.test", "password": "Secret-Pass-1", "groups": [FIRST_GROUP_ID]}),
                409,
            ),
            (
                "POST",
                "/users".to_string(),
                json!({"username": "C@x.test", "email": "e@x.test", "password": "Secret-Pass-1", "groups": [FIRST_GROUP_ID]}),
                409,
            ),
        ];
        for (method, path, body, want) in cases {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r = http
                .request(method.clone(), format!("{base}{path}"))
                .header("Authenticate", &token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), want, "{method} {path} {body}");
        }
        sandbox.stop().await;
    }

    #[test]
    fn password_policy_table() {
        let cases = [
            ("Abcdefg1", true),
            ("Abcdef1", false),
            ("abcdefg1", false),
            ("ABCDEFG1", false),
            ("Abcdefgh", false),
            ("Sandbox-Pass-1", true),
        ];
        for (p, want) in cases {
            assert_eq!(password_ok(p), want, "{p}");
        }
    }

    #[test]
    fn pages_count_from_one_and_cap_the_size() {
        let items: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = page(&items, &q(&[("set", "2"), ("page", "3")])).unwrap();
        assert_eq!(p["pages"], 3);
        assert_eq!(p["total"], 5);
        assert_eq!(p["data"], json!([{"id": 4}]));
        let p = page(&items, &q(&[("set", "5000")])).unwrap();
        assert_eq!(p["set"], 1000);
        assert!(page(&items, &q(&[("page", "0")])).is_err());
        // Past the last page: an empty page, not an overflow.
        let p = page(&items, &q(&[("set", "1000"), ("page", "99999999999")])).unwrap();
        assert_eq!(p["data"], json!([]));
        let with_name: Vec<Value> = (0..3).map(|i| json!({"id": i, "name": "x"})).collect();
        let p = page(
            &with_name,
            &q(&[("select", "id"), ("set", "2"), ("page", "2")]),
        )
        .unwrap();
        assert_eq!(p["data"], json!([{"id": 2}]));
    }
}
