//! Talking to one Pegasus account: the session (login, the `Authenticate` header, one
//! re-login when a token that worked expires), the scope check, paginated reads, and the
//! `/apps` per-minute window. Never logs or returns the token.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderName;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::Credentials;
use crate::http::limiter::Pace;
use crate::http::{Reply, Request, SendError};
use crate::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::listing::Pages;
use crate::vendors::protocol::Engine;
pub(super) use crate::vendors::protocol::RowError;

use super::wire::{Group, LoginReply, Me, Page, USER_FIELDS, User, readable};

/// The header Pegasus reads the token from (not `Authorization`).
const AUTHENTICATE: HeaderName = HeaderName::from_static("authenticate");

/// Page size of list reads (the documented maximum).
const PAGE_SIZE: u64 = 1000;

/// The scopes the workflow writes with (`/apps?user=` for another user needs
/// `users.application_data`; contract "Auth").
pub(super) const NEEDED_SCOPES: [&str; 3] = ["groups", "users", "users.application_data"];

/// A login session shared by all of a target's workers.
pub(super) struct Session {
    username: Option<Secret>,
    password: Option<Secret>,
    /// Bumped by every successful login: a 401 on a request sent under an older token
    /// needs no new login, only a repeat.
    generation: AtomicU64,
    /// When the current token was obtained; held while logging in again.
    relogin: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

/// A token younger than this that meets a 401 has not expired: the 401 is a refusal (a
/// missing scope, no shared group), and logging in again would not change it.
const FRESH_TOKEN: Duration = Duration::from_secs(5);

impl Session {
    pub fn new(credentials: Credentials) -> Session {
        Session {
            username: credentials.username,
            password: credentials.password,
            generation: AtomicU64::new(0),
            relogin: tokio::sync::Mutex::new(None),
        }
    }

    /// `POST /login`; sets the token for every later request. Repeated only by the
    /// HTTP policy's bounded retries; a refusal is `Auth`.
    pub async fn login(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        let at = self.login_once(ctx).await?;
        *self.relogin.lock().await = Some(at);
        Ok(())
    }

    async fn login_once(&self, ctx: &impl Engine) -> Result<tokio::time::Instant, VendorError> {
        let (Some(user), Some(password)) = (&self.username, &self.password) else {
            return Err(VendorError::Auth("no username/password configured".into()));
        };
        let req = Request::new(Method::POST, "/login", crate::http::retry::Kind::Read)
            .anonymous()
            .json(json!({"username": user.expose(), "password": password.expose()}));
        let reply = ctx
            .http()
            .send(req)
            .await
            .map_err(|e| VendorError::from_send("POST /login", e))?;
        match reply.status {
            200..=299 => {
                let token = serde_json::from_str::<LoginReply>(&reply.body)
                    .ok()
                    .and_then(|r| r.auth)
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| {
                        VendorError::Protocol("POST /login answered without a token".into())
                    })?;
                ctx.http()
                    .set_auth(vec![(AUTHENTICATE, Secret::new(token.trim()))]);
                self.generation.fetch_add(1, Ordering::SeqCst);
                Ok(tokio::time::Instant::now())
            }
            400 | 401 | 403 => Err(VendorError::Auth(format!(
                "POST /login refused the username/password: {}",
                readable(&reply)
            ))),
            _ => Err(VendorError::Unavailable(format!(
                "POST /login: {}",
                readable(&reply)
            ))),
        }
    }

    /// `GET /user` and the scope check: the first missing scope halts the target by name.
    /// Returns who the token is: `GET /user`'s `username`, else the username muster logged
    /// in with (lower-cased, as Pegasus identity keys are).
    pub async fn check_scopes(&self, ctx: &impl Engine) -> Result<Option<String>, VendorError> {
        let me: Me = read_json(ctx, self, Request::get("/user"), "GET /user").await?;
        if let Some(missing) = NEEDED_SCOPES.iter().find(|s| !me.can_write(s)) {
            return Err(VendorError::Auth(format!("token lacks scope {missing}=w")));
        }
        let said = me.username.as_ref().and_then(serde_json::Value::as_str);
        let login = self.username.as_ref().map(|u| u.expose());
        Ok(said
            .or(login)
            .map(crate::model::normalise_key)
            .filter(|k| !k.is_empty()))
    }

    /// Sends `req`; on a 401 logs in again (once, shared by every worker that met the same
    /// expired token) and repeats the request once. A second 401 is a real refusal and is
    /// returned as is.
    pub async fn send(&self, ctx: &impl Engine, req: Request) -> Result<Reply, SendError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let first = ctx.http().send(req.clone()).await?;
        if first.status != 401 {
            return Ok(first);
        }
        {
            let mut logged_in_at = self.relogin.lock().await;
            if self.generation.load(Ordering::SeqCst) == generation {
                if logged_in_at.is_some_and(|at| at.elapsed() < FRESH_TOKEN) {
                    return Ok(first);
                }
                ctx.log(tracing::Level::DEBUG, "HTTP 401: logging in again");
                match self.login_once(ctx).await {
                    Ok(at) => *logged_in_at = Some(at),
                    Err(VendorError::Auth(reason)) => {
                        ctx.http()
                            .halt
                            .halt(format!("credentials rejected: {reason}"));
                        return Ok(first);
                    }
                    Err(_) => return Ok(first),
                }
            }
        }
        let mut again = ctx.http().send(req).await?;
        again.attempts += first.attempts;
        Ok(again)
    }
}

/// Reads one JSON reply every row depends on.
pub(super) async fn read_json<T: DeserializeOwned>(
    ctx: &impl Engine,
    session: &Session,
    req: Request,
    what: &str,
) -> Result<T, VendorError> {
    Ok(read_sized(ctx, session, req, what).await?.0)
}

/// [`read_json`], and the reply's size in bytes.
async fn read_sized<T: DeserializeOwned>(
    ctx: &impl Engine,
    session: &Session,
    req: Request,
    what: &str,
) -> Result<(T, usize), VendorError> {
    let reply = session
        .send(ctx, req)
        .await
        .map_err(|e| VendorError::from_send(what, e))?;
    match reply.status {
        200..=299 => serde_json::from_str(&reply.body)
            .map(|v| (v, reply.body.len()))
            .map_err(|e| VendorError::Protocol(format!("{what}: {e}"))),
        401 | 403 => Err(VendorError::Auth(format!("{what}: {}", readable(&reply)))),
        _ => Err(VendorError::Unavailable(format!(
            "{what}: {}",
            readable(&reply)
        ))),
    }
}

/// Every item of a paginated list (`set`/`page`, until `pages`), within the target's
/// listing budget (`listing::Pages`: pages, bytes, and a page of only ids seen before
/// ending the listing with an error). Items are read straight into `T`; `id` says which
/// item it is.
pub(super) async fn read_all<T: DeserializeOwned, I: std::hash::Hash>(
    ctx: &impl Engine,
    session: &Session,
    path: &str,
    query: &[(&str, &str)],
    id: impl Fn(&T) -> I,
) -> Result<Vec<T>, VendorError> {
    let mut out = Vec::new();
    let mut pages = Pages::new(ctx.target(), &format!("GET {path}"));
    loop {
        let page = pages.next_page()?;
        let mut req = Request::get(path)
            .query("set", PAGE_SIZE.to_string())
            .query("page", page.to_string())
            .capped(pages.cap());
        for (k, v) in query {
            req = req.query(k, *v);
        }
        let what = format!("GET {path} (page {page})");
        let (got, bytes): (Page<T>, usize) = read_sized(ctx, session, req, &what).await?;
        pages.read(bytes, got.data.iter().map(&id))?;
        let empty = got.data.is_empty();
        out.extend(got.data);
        let last = got.pages.unwrap_or(page);
        if empty || page >= last {
            return Ok(out);
        }
    }
}

/// Users by lower-cased username and by lower-cased email, and every user as listed.
pub(super) struct Users {
    pub by_username: HashMap<String, String>,
    pub by_email: HashMap<String, String>,
    /// Every user by id, as listed.
    pub by_id: HashMap<String, User>,
    /// Ids in the platform's order.
    pub order: Vec<String>,
}

/// Reads every user once (`select=` [`USER_FIELDS`]; `search.` is not documented for users).
pub(super) async fn read_users(ctx: &impl Engine, session: &Session) -> Result<Users, VendorError> {
    let users: Vec<User> = read_all(
        ctx,
        session,
        "/users",
        &[("select", USER_FIELDS)],
        |u: &User| u.id,
    )
    .await?;
    let mut out = Users {
        by_username: HashMap::new(),
        by_email: HashMap::new(),
        by_id: HashMap::new(),
        order: Vec::new(),
    };
    for u in users {
        let id = u.id.to_string();
        if let Some(name) = &u.username {
            out.by_username.entry(normalise(name)).or_insert(id.clone());
        }
        if let Some(email) = &u.email {
            out.by_email.entry(normalise(email)).or_insert(id.clone());
        }
        if !out.by_id.contains_key(&id) {
            out.order.push(id.clone());
            out.by_id.insert(id, u);
        }
    }
    Ok(out)
}

/// Groups as read: by exact name (the lowest id wins when a name repeats) and names by id.
pub(super) struct Groups {
    pub by_name: HashMap<String, String>,
    pub names: HashMap<String, String>,
}

impl Groups {
    pub fn has(&self, id: &str) -> bool {
        self.names.contains_key(id)
    }
}

/// Every group (or those `query` selects), by exact name and by id.
pub(super) async fn read_groups(
    ctx: &impl Engine,
    session: &Session,
    query: &[(&str, &str)],
) -> Result<Groups, VendorError> {
    let mut groups: Vec<Group> = read_all(ctx, session, "/groups", query, |g: &Group| g.id).await?;
    groups.sort_by_key(|g| g.id);
    let mut out = Groups {
        by_name: HashMap::new(),
        names: HashMap::new(),
    };
    for g in groups {
        let id = g.id.to_string();
        let name = g.name.unwrap_or_default();
        if !name.is_empty() {
            out.by_name.entry(name.clone()).or_insert(id.clone());
        }
        out.names.insert(id, name);
    }
    Ok(out)
}

/// At most `max` sends in any `per` (the `/apps` 20/min per user), first come first served.
/// Strict on purpose: it satisfies a sliding window, a fixed window and a token bucket.
pub(super) struct Window {
    max: usize,
    per: Duration,
    sent: tokio::sync::Mutex<VecDeque<tokio::time::Instant>>,
}

/// Slack for the time a request takes to reach the platform after it was let through.
const WINDOW_SLACK: Duration = Duration::from_secs(1);

impl Window {
    /// `None` when `max` is 0 (no per-minute limit).
    pub fn new(max: u32, per: Duration) -> Option<Window> {
        (max > 0).then(|| Window {
            max: max as usize,
            per,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
        })
    }

    /// The most this window lets through: `max` per `per` (and its slack), all at once.
    pub fn pace(&self) -> Pace {
        Pace {
            per_second: self.max as f64 / (self.per + WINDOW_SLACK).as_secs_f64(),
            burst: u32::try_from(self.max).unwrap_or(u32::MAX),
        }
    }

    /// Waits for room, then counts one send. `waiting` is called once, with how long, if it
    /// has to wait.
    pub async fn acquire(&self, waiting: impl FnOnce(Duration)) {
        let mut waiting = Some(waiting);
        let mut sent = self.sent.lock().await;
        loop {
            let now = tokio::time::Instant::now();
            while sent
                .front()
                .is_some_and(|t| now >= *t + self.per + WINDOW_SLACK)
            {
                sent.pop_front();
            }
            if sent.len() < self.max {
                sent.push_back(now);
                return;
            }
            let until = sent.front().map(|t| *t + self.per + WINDOW_SLACK);
            if let Some(w) = waiting.take() {
                w(until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now)));
            }
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
        }
    }

    /// Counts `n` more sends now (retries the HTTP policy made without asking).
    pub async fn count(&self, n: u32) {
        let mut sent = self.sent.lock().await;
        let now = tokio::time::Instant::now();
        for _ in 0..n {
            sent.push_back(now);
        }
    }
}

pub(super) fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}
