//! The DRTrack simulator (`shared/vendors/drtrack.md`), served under `/drtrack/api/v1.0`.
//!
//! - `GET /auth` checks the `username`/`password` headers (`SANDBOX_DRTRACK_*`) and hands
//!   out a JWT-looking token that expires after `token_ttl`; bad credentials answer 401
//!   `{"AuthenticationToken": "", "Status": "401"}`. Other calls need `Authtoken`.
//! - `GET /users` lists every user (no branches, no user group), as DRTrack does.
//! - `PUT /users/sync` takes an array of `ADD`/`MODIFY`/`DELETE` and answers only `true`
//!   or `false`. Atomic mode: any invalid operation → `false`, nothing applied. Partial
//!   mode: the valid operations are applied in order, `false` if any was invalid.
//! - Invalid: `ADD` of a login or email already used (also earlier in the same batch;
//!   counted in `duplicates_refused`), an unknown user group (matched case-insensitively),
//!   a malformed email, `MODIFY`/`DELETE` of a login that does not exist. Silent, as the
//!   platform is: a weak password is replaced by a random one, unknown branch ids are
//!   dropped, branch lists past 255 characters are cut at the last whole id.
//! - `Options::platform_users` of vendor `drtrack`, when there are any, are the users held
//!   from the start (and after a reset) instead of [`SEEDED_USERS`]; every operation
//!   received is kept for tests
//!   ([`Drtrack::operations`]).
//!
//! Its wire types are its own: nothing is shared with `vendors::drtrack`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::platform::{Platform, Reset, stat};
use super::{Sandbox, seed};
use crate::model::{Field, VendorKind};

/// Counter: `PUT /users/sync` calls that reached the simulator.
pub const SYNC_CALLS: &str = "sync_calls";
/// Counter: `ADD` operations received, valid or not.
pub const ADDS_RECEIVED: &str = "adds_received";
/// Counter: operations refused, for any reason.
pub const OPERATIONS_REFUSED: &str = "operations_refused";
/// Counter: weak passwords silently replaced by a random one.
pub const PASSWORDS_REPLACED: &str = "passwords_replaced";
/// Counter: unknown branch ids silently dropped.
pub const BRANCHES_DROPPED: &str = "branches_dropped";
/// Counter: users changed by `MODIFY`.
pub const UPDATED: &str = "updated";
/// Counter: users removed by `DELETE`.
pub const DELETED: &str = "deleted";

/// The simulated DRTrack platform: its users and the tokens it handed out.
pub struct Drtrack {
    platform: Platform,
    atomic: bool,
    token_ttl: Duration,
    /// Users held besides [`SEEDED_USERS`] (`Options::platform_users` of vendor `drtrack`).
    seeds: Vec<seed::PlatformSeed>,
    state: Mutex<Users>,
    tokens: Mutex<Tokens>,
    /// Every `PUT /users/sync` body received, in order (for tests).
    received: Mutex<Vec<Value>>,
}

/// The tokens handed out: when each expires, and all of them in order (for tests).
#[derive(Default)]
struct Tokens {
    expiry: HashMap<String, tokio::time::Instant>,
    issued: Vec<String>,
}

/// One user as the platform keeps it.
#[derive(Debug, Clone)]
struct SimUser {
    key: i64,
    login: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    password: String,
    branches: Vec<i64>,
    group: String,
}

#[derive(Debug, Clone)]
struct Users {
    users: Vec<SimUser>,
    next_key: i64,
}

impl Users {
    /// [`SEEDED_USERS`]; or, when `Options::platform_users` names DRTrack users, exactly
    /// those (keys from 4101 on), so a test states the whole platform.
    fn seeded(seeds: &[seed::PlatformSeed]) -> Users {
        let mine: Vec<&seed::PlatformSeed> = seeds
            .iter()
            .filter(|s| s.vendor == VendorKind::Drtrack)
            .collect();
        let mut users = if mine.is_empty() {
            seed_users()
        } else {
            Vec::new()
        };
        let mut next_key = SEEDED_USERS.iter().map(|u| u.0).max().unwrap_or(4000) + 100;
        for s in mine {
            let get = |f: Field| {
                s.fields
                    .iter()
                    .find(|(k, _)| *k == f)
                    .map(|(_, v)| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let Some(login) = get(Field::Username) else {
                continue;
            };
            let group = get(Field::UserGroup)
                .and_then(|g| {
                    seed::DRTRACK_USER_GROUPS
                        .iter()
                        .find(|x| x.eq_ignore_ascii_case(&g))
                })
                .unwrap_or(&seed::DRTRACK_USER_GROUPS[0]);
            users.push(SimUser {
                key: next_key,
                login,
                first_name: get(Field::FirstName),
                last_name: get(Field::LastName),
                email: get(Field::Email),
                password: random_guid(),
                branches: branches(get(Field::BranchIds).as_deref()).0,
                group: group.to_string(),
            });
            next_key += 1;
        }
        Users { users, next_key }
    }
}

/// What an applied operation did, for the counters.
enum Applied {
    Added {
        password_replaced: bool,
        dropped: u64,
    },
    Modified {
        dropped: u64,
    },
    Deleted,
}

/// Why an operation is invalid.
#[derive(Debug)]
struct Invalid {
    duplicate: bool,
}

/// The DRTrack simulator; paths are below its prefix (`/api/v1.0/users`, ...).
pub fn router(platform: Platform) -> Router {
    let options = platform.options();
    let seeds = options.platform_users.clone();
    let state = Users::seeded(&seeds);
    let held = state.users.len() as u64;
    let sim = Arc::new(Drtrack {
        atomic: options.drtrack_atomic,
        token_ttl: options.drtrack_token_ttl,
        platform: platform.clone(),
        seeds,
        state: Mutex::new(state),
        tokens: Mutex::new(Tokens::default()),
        received: Mutex::new(Vec::new()),
    });
    platform.attach(sim.clone());
    platform.declare(&[
        SYNC_CALLS,
        ADDS_RECEIVED,
        OPERATIONS_REFUSED,
        PASSWORDS_REPLACED,
        BRANCHES_DROPPED,
        UPDATED,
        DELETED,
    ]);
    platform.set(stat::USERS, held);
    Router::new()
        .route("/api/v1.0/auth", get(auth))
        .route("/api/v1.0/users", get(users))
        .route("/api/v1.0/users/sync", put(sync))
        .with_state(sim)
}

impl Reset for Drtrack {
    fn reset(&self) {
        let users = Users::seeded(&self.seeds);
        let held = users.users.len() as u64;
        *self.users() = users;
        *self.tokens() = Tokens::default();
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.platform.set(stat::USERS, held);
    }
}

impl Sandbox {
    /// The DRTrack simulator's state.
    pub fn drtrack(&self) -> Arc<Drtrack> {
        self.platform("drtrack")
            .and_then(|p| p.state::<Drtrack>())
            .expect("the drtrack simulator is mounted and attached its state")
    }
}

impl Drtrack {
    /// Every token handed out since the start or the last reset, in order (to prove none
    /// leaks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.tokens().issued.clone()
    }

    /// The branch ids a user holds (what the platform kept), for tests.
    pub fn branches_of(&self, login: &str) -> Option<Vec<i64>> {
        self.users()
            .users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
            .map(|u| u.branches.clone())
    }

    /// Every operation `PUT /users/sync` received, in order, as sent (for tests).
    pub fn operations(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The user group a user holds (what the platform kept), for tests.
    pub fn group_of(&self, login: &str) -> Option<String> {
        self.users()
            .users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
            .map(|u| u.group.clone())
    }

    /// Whether `password` is the user's password now, for tests.
    pub fn password_is(&self, login: &str, password: &str) -> bool {
        self.users()
            .users
            .iter()
            .any(|u| u.login.eq_ignore_ascii_case(login) && u.password == password)
    }

    fn users(&self) -> std::sync::MutexGuard<'_, Users> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issue_token(&self) -> String {
        let token = jwt_like();
        let mut tokens = self.tokens();
        tokens
            .expiry
            .insert(token.clone(), tokio::time::Instant::now() + self.token_ttl);
        tokens.issued.push(token.clone());
        token
    }

    fn token_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers.get("authtoken").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        self.tokens()
            .expiry
            .get(token.trim())
            .is_some_and(|exp| tokio::time::Instant::now() < *exp)
    }

    /// Applies a batch of operations as `PUT /users/sync` does, with the configured
    /// semantics; returns the verdict and whether any user was created. Tests use it to
    /// play another client of the platform.
    pub fn apply_batch(&self, ops: &[Value]) -> (bool, bool) {
        let p = &self.platform;
        let mut users = self.users();
        let mut work = users.clone();
        let mut all_valid = true;
        let mut applied = Vec::new();
        for op in ops {
            if op.get("method").and_then(Value::as_str) == Some("ADD") {
                p.bump(ADDS_RECEIVED);
            }
            match apply(&mut work, op) {
                Ok(a) => applied.push(a),
                Err(invalid) => {
                    all_valid = false;
                    p.bump(OPERATIONS_REFUSED);
                    if invalid.duplicate {
                        p.bump(stat::DUPLICATES_REFUSED);
                    }
                }
            }
        }
        if self.atomic && !all_valid {
            return (false, false);
        }
        *users = work;
        p.set(stat::USERS, users.users.len() as u64);
        let mut created = false;
        for a in applied {
            match a {
                Applied::Added {
                    password_replaced,
                    dropped,
                } => {
                    created = true;
                    p.bump(stat::CREATED);
                    p.add(BRANCHES_DROPPED, dropped);
                    if password_replaced {
                        p.bump(PASSWORDS_REPLACED);
                    }
                }
                Applied::Modified { dropped } => {
                    p.bump(UPDATED);
                    p.add(BRANCHES_DROPPED, dropped);
                }
                Applied::Deleted => p.bump(DELETED),
            }
        }
        (all_valid, created)
    }
}

/// Users the platform holds before any request: (key, userID, first, last, email).
pub const SEEDED_USERS: &[(i64, &str, &str, &str, &str)] = &[
    (
        4001,
        "sandbox-admin",
        "Sandbox",
        "Admin",
        "admin@drtrack.sandbox.test",
    ),
    (
        4002,
        "jmorales",
        "Julia",
        "Morales",
        "Julia_Morales@company.com",
    ),
];

fn seed_users() -> Vec<SimUser> {
    SEEDED_USERS
        .iter()
        .map(|(key, login, first, last, email)| SimUser {
            key: *key,
            login: login.to_string(),
            first_name: Some(first.to_string()),
            last_name: Some(last.to_string()),
            email: Some(email.to_string()),
            password: random_guid(),
            branches: vec![seed::DRTRACK_BRANCHES[0]],
            group: seed::DRTRACK_USER_GROUPS[0].to_string(),
        })
        .collect()
}

fn credential(var: &str) -> &'static str {
    seed::CREDENTIALS
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

async fn auth(State(sim): State<Arc<Drtrack>>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let good = header("username") == Some(credential("SANDBOX_DRTRACK_USER"))
        && header("password") == Some(credential("SANDBOX_DRTRACK_PASSWORD"));
    if !good {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"AuthenticationToken": "", "Status": "401"})),
        )
            .into_response();
    }
    let token = sim.issue_token();
    axum::Json(json!({"AuthenticationToken": token, "Status": "200"})).into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "Authtoken missing, invalid or expired"})),
    )
        .into_response()
}

async fn users(State(sim): State<Arc<Drtrack>>, headers: HeaderMap) -> Response {
    if !sim.token_valid(&headers) {
        return unauthorized();
    }
    // Serialized straight from the users as stored (no copy into `Value`s): this is the
    // read a client makes after every sync, and it lists every user.
    let users = sim.users();
    let list: Vec<ListedUser<'_>> = users
        .users
        .iter()
        .map(|u| ListedUser {
            key: u.key,
            login: &u.login,
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            email: u.email.as_deref(),
            encrypted: 1,
            token_expires: 0,
        })
        .collect();
    axum::Json(list).into_response()
}

/// A user as `GET /users` lists it.
#[derive(serde::Serialize)]
struct ListedUser<'a> {
    key: i64,
    #[serde(rename = "userID")]
    login: &'a str,
    #[serde(rename = "firstName")]
    first_name: Option<&'a str>,
    #[serde(rename = "lastName")]
    last_name: Option<&'a str>,
    email: Option<&'a str>,
    encrypted: u8,
    #[serde(rename = "tokenExpires")]
    token_expires: u8,
}

async fn sync(State(sim): State<Arc<Drtrack>>, headers: HeaderMap, body: String) -> Response {
    if !sim.token_valid(&headers) {
        return unauthorized();
    }
    sim.platform.bump(SYNC_CALLS);
    let Ok(Value::Array(ops)) = serde_json::from_str::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "the body must be a JSON array of operations",
        )
            .into_response();
    };
    sim.received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(ops.iter().cloned());
    let (verdict, created) = sim.apply_batch(&ops);
    let answer = axum::Json(Value::Bool(verdict)).into_response();
    if created {
        // The timeout fault: users made, the answer withheld.
        sim.platform.answer_create(answer)
    } else {
        answer
    }
}

/// Checks one operation against `p` and applies it there.
fn apply(p: &mut Users, op: &Value) -> Result<Applied, Invalid> {
    let invalid = Err(Invalid { duplicate: false });
    let text = |k: &str| {
        op.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let Some(login) = text("userLoginId") else {
        return invalid;
    };
    let position = p
        .users
        .iter()
        .position(|u| u.login.eq_ignore_ascii_case(login));
    let email = text("email");
    if email.is_some_and(|e| !email_address::EmailAddress::is_valid(e)) {
        return invalid;
    }
    let email_owner = |p: &Users| {
        email.and_then(|e| {
            p.users.iter().position(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(e))
            })
        })
    };
    let group = match user_group(op) {
        Ok(g) => g,
        Err(()) => return invalid,
    };
    match op.get("method").and_then(Value::as_str) {
        Some("ADD") => {
            if position.is_some() || email_owner(p).is_some() {
                return Err(Invalid { duplicate: true });
            }
            let Some(group) = group else {
                return invalid;
            };
            let (branches, dropped) = branches(text("branchIds"));
            let (password, password_replaced) = match text("userPassword") {
                Some(pw) if strong(pw) => (pw.to_string(), false),
                _ => (random_guid(), true),
            };
            let key = p.next_key;
            p.next_key += 1;
            p.users.push(SimUser {
                key,
                login: login.to_string(),
                first_name: text("firstName").map(str::to_string),
                last_name: text("lastName").map(str::to_string),
                email: email.map(str::to_string),
                password,
                branches,
                group,
            });
            Ok(Applied::Added {
                password_replaced,
                dropped,
            })
        }
        Some("MODIFY") => {
            let Some(i) = position else {
                return invalid;
            };
            if email_owner(p).is_some_and(|o| o != i) {
                return invalid;
            }
            let mut dropped = 0;
            let branch_text = text("branchIds");
            let new_branches = branch_text.map(|b| {
                let (kept, d) = branches(Some(b));
                dropped = d;
                kept
            });
            let u = &mut p.users[i];
            if let Some(v) = text("firstName") {
                u.first_name = Some(v.to_string());
            }
            if let Some(v) = text("lastName") {
                u.last_name = Some(v.to_string());
            }
            if let Some(v) = email {
                u.email = Some(v.to_string());
            }
            if let Some(g) = group {
                u.group = g;
            }
            if let Some(b) = new_branches {
                u.branches = b;
            }
            // MODIFY ignores the password.
            Ok(Applied::Modified { dropped })
        }
        Some("DELETE") => {
            let Some(i) = position else {
                return invalid;
            };
            p.users.remove(i);
            Ok(Applied::Deleted)
        }
        _ => invalid,
    }
}

/// The operation's user group: `Ok(None)` when it names none, `Err` when it names one the
/// platform does not have (`userGroup` case-insensitively, `groupId` 1-based).
fn user_group(op: &Value) -> Result<Option<String>, ()> {
    if let Some(name) = op.get("userGroup").and_then(Value::as_str) {
        return seed::DRTRACK_USER_GROUPS
            .iter()
            .find(|g| g.eq_ignore_ascii_case(name.trim()))
            .map(|g| Some(g.to_string()))
            .ok_or(());
    }
    match op.get("groupId") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let id = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or(())?;
            id.checked_sub(1)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| seed::DRTRACK_USER_GROUPS.get(i))
                .map(|g| Some(g.to_string()))
                .ok_or(())
        }
    }
}

/// Branch ids DRTrack keeps: known ids only (unknown ones silently dropped), `ALL` → all,
/// a list longer than 255 characters cut at the last whole id. Returns (kept, dropped).
fn branches(text: Option<&str>) -> (Vec<i64>, u64) {
    let Some(text) = text else {
        return (Vec::new(), 0);
    };
    if text.eq_ignore_ascii_case("all") {
        return (seed::DRTRACK_BRANCHES.to_vec(), 0);
    }
    let cut = if text.len() > 255 {
        // Cut at the last separator that leaves at most 255 bytes.
        let end = text
            .char_indices()
            .filter(|(i, c)| *c == '|' && *i <= 255)
            .map(|(i, _)| i)
            .next_back()
            .unwrap_or(0);
        &text[..end]
    } else {
        text
    };
    let mut kept = Vec::new();
    let mut dropped = 0;
    for id in cut.split('|').map(str::trim).filter(|s| !s.is_empty()) {
        match id.parse::<i64>() {
            Ok(n) if seed::DRTRACK_BRANCHES.contains(&n) => {
                if !kept.contains(&n) {
                    kept.push(n)
                }
            }
            _ => dropped += 1,
        }
    }
    (kept, dropped)
}

/// DRTrack's password policy: 8–40 characters, a digit, lower, upper and special.
fn strong(pw: &str) -> bool {
    (8..=40).contains(&pw.chars().count())
        && pw.chars().any(|c| c.is_ascii_digit())
        && pw.chars().any(char::is_lowercase)
        && pw.chars().any(char::is_uppercase)
        && pw
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
}

fn random_guid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A token shaped like a JWT: `header.payload.signature`, base64url without padding.
fn jwt_like() -> String {
    use rand::RngCore;
    let mut sig = [0u8; 32];
    rand::rng().fill_bytes(&mut sig);
    let mut nonce = [0u8; 8];
    rand::rng().fill_bytes(&mut nonce);
    let payload = format!(
        "{{\"sub\":\"{}\",\"iss\":\"drtrack-sandbox\",\"jti\":\"{}\"}}",
        credential("SANDBOX_DRTRACK_USER"),
        hex::encode(nonce)
    );
    format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        base64url(payload.as_bytes()),
        base64url(&sig)
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Options;

    fn sim(atomic: bool, ttl: Duration) -> Arc<Drtrack> {
        let options = Options {
            drtrack_atomic: atomic,
            drtrack_token_ttl: ttl,
            ..Options::default()
        };
        let platform = Platform::new("drtrack", &options);
        let _ = router(platform.clone());
        platform.state::<Drtrack>().unwrap()
    }

    fn count(sim: &Drtrack, name: &str) -> u64 {
        sim.platform.get(name)
    }

    fn add(login: &str, email: &str, group: &str) -> Value {
        json!({"method": "ADD", "userLoginId": login, "email": email, "userGroup": group,
               "userPassword": "Str0ng-Pass!", "branchIds": "101|999"})
    }

    #[test]
    fn base64url_matches_known_values() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(
            base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        );
        assert_eq!(jwt_like().split('.').count(), 3);
    }

    #[test]
    fn atomic_batch_with_one_invalid_applies_nothing() {
        let sim = sim(true, Duration::from_secs(60));
        let (ok, _) = sim.apply_batch(&[
            add("a", "a@x.test", "driver"),
            add("b", "b@x.test", "Pilot"),
        ]);
        assert!(!ok);
        assert_eq!(count(&sim, "created"), 0);
        assert!(sim.branches_of("a").is_none());
    }

    #[test]
    fn partial_batch_applies_the_valid_ones() {
        let sim = sim(false, Duration::from_secs(60));
        let (ok, _) = sim.apply_batch(&[
            add("a", "a@x.test", "driver"),
            add("A", "other@x.test", "Driver"),
            add("c", "A@X.test", "Driver"),
            add("d", "not-an-email", "Driver"),
        ]);
        assert!(!ok);
        assert_eq!(count(&sim, "created"), 1);
        assert_eq!(count(&sim, "duplicates_refused"), 2);
        // Unknown branch 999 silently dropped.
        assert_eq!(sim.branches_of("a"), Some(vec![101]));
        assert_eq!(count(&sim, "branches_dropped"), 1);
        assert!(sim.password_is("a", "Str0ng-Pass!"));
    }

    #[test]
    fn weak_password_is_replaced_silently() {
        let sim = sim(true, Duration::from_secs(60));
        let mut op = add("w", "w@x.test", "Viewer");
        op["userPassword"] = json!("weak");
        assert!(sim.apply_batch(&[op]).0);
        assert!(!sim.password_is("w", "weak"));
        assert_eq!(count(&sim, "passwords_replaced"), 1);
    }

    #[test]
    fn modify_and_delete_need_an_existing_login() {
        let sim = sim(true, Duration::from_secs(60));
        assert!(
            !sim.apply_batch(&[json!({"method": "MODIFY", "userLoginId": "ghost"})])
                .0
        );
        assert!(
            !sim.apply_batch(&[json!({"method": "DELETE", "userLoginId": "ghost"})])
                .0
        );
        assert!(sim.apply_batch(&[add("m", "m@x.test", "Admin")]).0);
        assert!(
            sim.apply_batch(&[
                json!({"method": "MODIFY", "userLoginId": "M", "groupId": 2, "branchIds": "ALL"})
            ])
            .0
        );
        assert_eq!(sim.branches_of("m"), Some(seed::DRTRACK_BRANCHES.to_vec()));
        assert!(
            sim.apply_batch(&[json!({"method": "DELETE", "userLoginId": "m"})])
                .0
        );
        assert!(sim.branches_of("m").is_none());
    }

    #[test]
    fn long_branch_lists_are_cut_at_the_last_whole_id() {
        let text = vec!["101"; 100].join("|");
        let (kept, dropped) = branches(Some(&text));
        assert_eq!(kept, vec![101]);
        assert_eq!(dropped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_expire() {
        let sim = sim(true, Duration::from_secs(30));
        let token = sim.issue_token();
        let mut headers = HeaderMap::new();
        headers.insert("authtoken", token.parse().unwrap());
        assert!(sim.token_valid(&headers));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(!sim.token_valid(&headers));
    }
}
