//! The transport, below both the connectors and the engine: one target's HTTP client, its
//! limiter (`limiter`) and the retry policy (`retry`, pure). Connectors use it for their
//! reads (probe, listing, look-ups); the engine (`submit`) for every write.
//!
//! Every request passes the target's pause gate (Retry-After) and limiter, is retried by
//! `retry`'s policy, and is counted. Credentials are sent as sensitive header values and
//! never leave the target's origin: redirects to another host are not followed.
//!
//! Every reply body is read in chunks up to a cap (the target's `max_body`, or the cap a
//! request carries: a listing's budget), so memory never holds more than the cap; past it
//! the call fails naming the endpoint. A listing's 2xx body can go to a [`Sink`] chunk by
//! chunk as it arrives, instead of into one `String` (issue 25 item 4, issue 30).

pub mod limiter;
pub mod retry;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use crate::config::Target;
use crate::secret::Secret;
use limiter::{Limiter, Pace};
use retry::{Attempt, Backoff, Decision, Kind};

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    None,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// One request, relative to the target's base URL.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Appended to the target's URL: `/users`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
    pub kind: Kind,
    /// Extra headers for this request only (values may be secrets).
    pub headers: Vec<(HeaderName, Secret)>,
    /// A second limiter this endpoint is subject to (Pegasus `/apps`).
    pub limiter: Option<Arc<Limiter>>,
    /// Whether to skip the target's auth headers (login calls).
    pub anonymous: bool,
    /// A 429 pauses only this request, not the whole target (per-user limits, e.g. AROBS),
    /// waiting `Retry-After` or this long.
    pub own_pace: Option<Duration>,
    /// The most bytes of the reply read, when not the target's `max_body`.
    pub cap: Option<Cap>,
    /// Where a 2xx reply's body goes as it arrives (the reply's `body` is then empty).
    pub sink: Option<SinkRef>,
}

/// A cap on the bytes of one reply, and its name for the message past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    pub bytes: u64,
    /// What the cap is, as the message names it: `max_body = 16 MiB`.
    pub name: String,
}

/// Takes a 2xx reply's body chunk by chunk as it arrives (a listing parsed item by item,
/// so its text is never held whole). A retried read starts the sink over.
pub trait Sink: Send {
    /// A new attempt's body begins: forget what an earlier attempt fed.
    fn start(&mut self);
    /// The next bytes of the body; `false` stops reading (the sink keeps why).
    fn feed(&mut self, chunk: &[u8]) -> bool;
}

/// A sink a request carries (shared with the caller, who reads what it gathered).
#[derive(Clone)]
pub struct SinkRef(pub Arc<Mutex<dyn Sink>>);

impl std::fmt::Debug for SinkRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>, kind: Kind) -> Request {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::None,
            kind,
            headers: Vec::new(),
            limiter: None,
            anonymous: false,
            own_pace: None,
            cap: None,
            sink: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::GET, path, Kind::Read)
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Request {
        self.query.push((key.to_string(), value.into()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Request {
        self.body = Body::Json(body);
        self
    }

    pub fn form(mut self, fields: Vec<(String, String)>) -> Request {
        self.body = Body::Form(fields);
        self
    }

    pub fn header(mut self, name: HeaderName, value: Secret) -> Request {
        self.headers.push((name, value));
        self
    }

    pub fn limited_by(mut self, limiter: Arc<Limiter>) -> Request {
        self.limiter = Some(limiter);
        self
    }

    pub fn anonymous(mut self) -> Request {
        self.anonymous = true;
        self
    }

    /// A 429 to this request waits `Retry-After` (or `wait`) for this request only.
    pub fn own_pace(mut self, wait: Duration) -> Request {
        self.own_pace = Some(wait);
        self
    }

    /// Reads at most `cap` of the reply (instead of the target's `max_body`).
    pub fn capped(mut self, cap: Cap) -> Request {
        self.cap = Some(cap);
        self
    }

    /// Feeds a 2xx reply's body to `sink` as it arrives.
    pub fn streamed_into(mut self, sink: Arc<Mutex<dyn Sink>>) -> Request {
        self.sink = Some(SinkRef(sink));
        self
    }

    /// `GET /users`: the method and path, for messages (never the query or the host).
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The platform's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// Requests sent for this call, retries included.
    pub attempts: u32,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A short readable excerpt of the body: the first meaningful line, ≤ 200 chars.
    pub fn excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// A reply of one attempt with `status` and `body`, for connectors' table tests.
#[cfg(test)]
pub(crate) fn test_reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: Default::default(),
        body: body.into(),
        attempts: 1,
    }
}

/// A short readable excerpt of a reply body: its first meaningful line, ≤ 200 chars.
pub fn excerpt(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// A call that did not end in a reply the connector can read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The request may or may not have taken effect (create: timeout, dropped, 5xx).
    #[error("no answer ({detail}); whether it took effect is unknown")]
    Unknown { detail: String, attempts: u32 },
    /// Retries ran out; nothing is known to have been done.
    #[error("gave up after {attempts} attempts: {detail}")]
    Exhausted {
        detail: String,
        status: Option<u16>,
        attempts: u32,
    },
    /// The target was halted (credentials rejected, deadline): not sent.
    #[error("not sent: {0}")]
    Halted(String),
    /// The reply was longer than its cap; muster stopped reading it. `detail` names the
    /// endpoint and the cap.
    #[error("{detail}")]
    TooLarge {
        detail: String,
        status: u16,
        attempts: u32,
    },
}

impl SendError {
    pub fn attempts(&self) -> u32 {
        match self {
            SendError::Unknown { attempts, .. }
            | SendError::Exhausted { attempts, .. }
            | SendError::TooLarge { attempts, .. } => *attempts,
            SendError::Halted(_) => 0,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SendError::Exhausted { status, .. } => *status,
            SendError::TooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Counters of one target, for the Summary sheet.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
    pub auth_rejected: AtomicU64,
    pub writes_ok: AtomicU64,
}

/// Shared stop signal of a target: halted with a reason, or past the run's deadline.
#[derive(Debug, Default)]
pub struct Halt {
    halted: AtomicBool,
    reason: Mutex<Option<String>>,
    deadline: Option<tokio::time::Instant>,
}

impl Halt {
    pub fn new(deadline: Option<tokio::time::Instant>) -> Halt {
        Halt {
            deadline,
            ..Halt::default()
        }
    }

    /// Stops the target; the first reason given is kept.
    pub fn halt(&self, reason: impl Into<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        self.halted.store(true, Ordering::SeqCst);
    }

    /// Why the target stopped, if it did.
    pub fn reason(&self) -> Option<String> {
        if self.halted.load(Ordering::SeqCst) {
            return self
                .reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
        }
        if self
            .deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
        {
            return Some("deadline reached".into());
        }
        None
    }
}

/// What a target's limits tell whoever shows its progress (the engine passes it on to the
/// reporter): the pace they allow, and each wait of the whole target as it begins.
#[derive(Debug, Clone, PartialEq)]
pub enum Paced {
    /// A limit the target's rows pass: at most this pace (several are told; the slowest binds).
    Allowed(Pace),
    /// The whole target waits `wait` from now, for `why` (`Retry-After`, a per-minute window).
    Waiting { wait: Duration, why: String },
}

/// Receives what [`Http::tell`] is told.
pub type Watch = Arc<dyn Fn(Paced) + Send + Sync>;

/// Writes answered 401/403 before any write succeeded that halt the target.
const AUTH_FAILURES_TO_HALT: u64 = 3;

/// The HTTP client of one target.
pub struct Http {
    client: reqwest::Client,
    base: String,
    /// `base` parsed once, when a path can be appended to it without parsing it again.
    base_url: Option<Url>,
    auth: RwLock<Vec<(HeaderName, HeaderValue)>>,
    limiter: Limiter,
    pause_until: Mutex<Option<tokio::time::Instant>>,
    retries: u32,
    /// The longest Retry-After waited for; a longer one halts the target.
    max_wait: Duration,
    /// The most bytes of one reply read (`max_body`).
    max_body: u64,
    backoff: Backoff,
    pub counters: Counters,
    pub halt: Arc<Halt>,
    /// Who is told of the pace and the waits (set once by the engine).
    watch: OnceLock<Watch>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base)
            .field("limiter", &self.limiter)
            .field("max_wait", &self.max_wait)
            .field("counters", &self.counters)
            .field("halt", &self.halt)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// A client for `target`, halting on `halt`.
    pub fn new(target: &Target, halt: Arc<Halt>) -> Result<Http, reqwest::Error> {
        Ok(Http {
            client: build_client(target.timeout, target.concurrency)?,
            base: target.url.trim_end_matches('/').to_string(),
            base_url: Url::parse(target.url.trim_end_matches('/'))
                .ok()
                .filter(|u| u.query().is_none() && u.fragment().is_none()),
            auth: RwLock::new(Vec::new()),
            limiter: Limiter::new(target.rate, target.burst),
            pause_until: Mutex::new(None),
            retries: target.retries,
            max_wait: target.max_wait,
            max_body: target.max_body,
            backoff: Backoff::default(),
            counters: Counters::default(),
            halt,
            watch: OnceLock::new(),
        })
    }

    /// Tells `watch` of the target's pace (at once: the target's limiter) and of every wait
    /// of the whole target from now on. Only the first watch set is kept.
    pub fn watch(&self, watch: Watch) {
        if self.watch.set(watch).is_ok() {
            if let Some(pace) = self.limiter.pace() {
                self.tell(Paced::Allowed(pace));
            }
        }
    }

    /// Tells the watch (if any) of a pace or a wait: connectors tell theirs (Pegasus `/apps`).
    pub fn tell(&self, event: Paced) {
        if let Some(watch) = self.watch.get() {
            watch(event);
        }
    }

    /// Replaces the headers that authenticate every request (marked sensitive).
    pub fn set_auth(&self, headers: Vec<(HeaderName, Secret)>) {
        let values = headers
            .into_iter()
            .filter_map(|(name, secret)| {
                let mut v = HeaderValue::from_str(secret.expose()).ok()?;
                v.set_sensitive(true);
                Some((name, v))
            })
            .collect();
        *self.auth.write().unwrap_or_else(|p| p.into_inner()) = values;
    }

    /// The target's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `req`, retrying by the policy. Counts every attempt.
    pub async fn send(&self, req: Request) -> Result<Reply, SendError> {
        let url = self.url(&req.path).map_err(|e| SendError::Exhausted {
            detail: format!("bad URL: {e}"),
            status: None,
            attempts: 0,
        })?;
        let mut attempts = 0u32;
        let mut failures = 0u32;
        loop {
            if let Some(reason) = self.halt.reason() {
                return Err(SendError::Halted(reason));
            }
            self.wait_pause().await;
            if let Some(extra) = &req.limiter {
                extra.acquire().await;
            }
            self.limiter.acquire().await;
            if let Some(reason) = self.halt.reason() {
                return Err(SendError::Halted(reason));
            }
            attempts += 1;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let (attempt, reply, detail) = match self.build(&req, url.clone()).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let sink = req.sink.as_ref().filter(|_| (200..300).contains(&status));
                    let cap = self.cap_of(&req, sink.is_some());
                    match read_body(resp, cap.bytes, sink).await {
                        Ok(body) => {
                            let detail = match excerpt(&body) {
                                e if e.is_empty() => format!("HTTP {status}"),
                                e => format!("HTTP {status}: {e}"),
                            };
                            (
                                Attempt::Status(status),
                                Some(Reply {
                                    status,
                                    headers,
                                    body,
                                    attempts,
                                }),
                                detail,
                            )
                        }
                        Err(Cut::TooLarge) => {
                            // Reading on would only fill memory; the same request would get
                            // the same reply. A create's effect is then unknown (its id
                            // unread): the engine looks it up before sending it again.
                            let detail = format!(
                                "the reply to {} (HTTP {status}) is larger than {}; muster stopped reading it",
                                req.endpoint(),
                                cap.name
                            );
                            return Err(if req.kind == Kind::Create {
                                SendError::Unknown { detail, attempts }
                            } else {
                                SendError::TooLarge {
                                    detail,
                                    status,
                                    attempts,
                                }
                            });
                        }
                        Err(Cut::Failed(e)) => (
                            Attempt::NoAnswer,
                            None,
                            format!("reply cut off: {}", short(e)),
                        ),
                    }
                }
                Err(e) if e.is_connect() => (
                    Attempt::ConnectFailed,
                    None,
                    format!("cannot connect: {}", short(e)),
                ),
                Err(e) if e.is_timeout() => (Attempt::NoAnswer, None, "timed out".to_string()),
                Err(e) => (
                    Attempt::NoAnswer,
                    None,
                    format!("connection failed: {}", short(e)),
                ),
            };
            if let Some(elsewhere) = reply.as_ref().and_then(not_followed) {
                // A redirect the client did not follow (another origin, or too many hops):
                // the platform did not do the work here, and nothing was sent there.
                return Err(SendError::Exhausted {
                    detail: elsewhere,
                    status: reply.map(|r| r.status),
                    attempts,
                });
            }
            let retry_after = reply
                .as_ref()
                .and_then(|r| retry::wait_from_headers(&r.headers));
            let decision = retry::decide(req.kind, attempt, retry_after);
            if let Some(r) = &reply {
                self.note_auth(&req, r.status);
            }
            match decision {
                Decision::Accept => {
                    return reply.ok_or(SendError::Exhausted {
                        detail,
                        status: None,
                        attempts,
                    });
                }
                Decision::Unknown => return Err(SendError::Unknown { detail, attempts }),
                Decision::Pause(Some(after)) if after > self.max_wait => {
                    // Sleeping that long would look like a hang: stop, and say so.
                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let reason = format!(
                        "the platform asked to wait {} s (Retry-After), more than max_wait {} s; run again later",
                        after.as_secs(),
                        self.max_wait.as_secs()
                    );
                    self.halt.halt(reason.clone());
                    return Err(SendError::Halted(reason));
                }
                Decision::Retry | Decision::Pause(_) => {
                    if let Decision::Pause(after) = decision {
                        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                        match req.own_pace {
                            Some(own) if failures < self.retries => {
                                self.nap(after.unwrap_or(own)).await;
                            }
                            Some(_) => {}
                            None => {
                                let (wait, why) = match after {
                                    Some(after) => (after, "Retry-After"),
                                    None => (self.backoff.delay(failures), "rate limited (429)"),
                                };
                                self.pause(wait, why)
                            }
                        }
                    }
                    if failures >= self.retries {
                        return Err(SendError::Exhausted {
                            detail,
                            status: reply.map(|r| r.status),
                            attempts,
                        });
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    if matches!(decision, Decision::Retry) {
                        self.nap(self.backoff.delay(failures)).await;
                    }
                    failures += 1;
                }
            }
        }
    }

    /// The cap on a reply to `req`: the request's own (a listing's budget), else the
    /// target's `max_body`. A body that is not streamed is held whole, so it is never read
    /// past `max_body`.
    fn cap_of(&self, req: &Request, streamed: bool) -> Cap {
        let max_body = Cap {
            bytes: self.max_body,
            name: format!("max_body = {}", crate::config::show_size(self.max_body)),
        };
        match &req.cap {
            Some(cap) if streamed || cap.bytes <= self.max_body => cap.clone(),
            _ => max_body,
        }
    }

    /// The target's URL with `path` appended: the base parsed once and the path set on a
    /// copy when the path is plain (letters, digits, `-_~/:@`), else the whole text parsed.
    fn url(&self, path: &str) -> Result<Url, url::ParseError> {
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_~/:@".contains(&b);
        match &self.base_url {
            Some(base) if path.starts_with('/') && path.bytes().all(plain) => {
                let mut url = base.clone();
                let joined = format!("{}{path}", base.path().trim_end_matches('/'));
                url.set_path(&joined);
                Ok(url)
            }
            _ => Url::parse(&format!("{}{}", self.base, path)),
        }
    }

    fn build(&self, req: &Request, url: Url) -> reqwest::RequestBuilder {
        let mut b = self.client.request(req.method.clone(), url);
        if !req.query.is_empty() {
            b = b.query(&req.query);
        }
        if !req.anonymous {
            for (name, value) in self.auth.read().unwrap_or_else(|p| p.into_inner()).iter() {
                b = b.header(name.clone(), value.clone());
            }
        }
        for (name, secret) in &req.headers {
            if let Ok(mut v) = HeaderValue::from_str(secret.expose()) {
                v.set_sensitive(true);
                b = b.header(name.clone(), v);
            }
        }
        match &req.body {
            Body::None => b,
            Body::Json(v) => b.json(v),
            Body::Form(f) => b.form(f),
        }
    }

    /// Counts writes answered 401/403 in a row (a 2xx write starts the count again); halts
    /// the target after a few, whether the credentials never worked for writes or were
    /// revoked during the run, so the rest of the file is not sent to be refused one by one.
    fn note_auth(&self, req: &Request, status: u16) {
        if req.kind == Kind::Read {
            return;
        }
        if (200..300).contains(&status) {
            self.counters.writes_ok.fetch_add(1, Ordering::Relaxed);
            self.counters.auth_rejected.store(0, Ordering::Relaxed);
        } else if matches!(status, 401 | 403) {
            let n = self.counters.auth_rejected.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= AUTH_FAILURES_TO_HALT {
                let reason = if self.counters.writes_ok.load(Ordering::Relaxed) == 0 {
                    format!(
                        "credentials rejected: the first {n} writes were answered HTTP {status}"
                    )
                } else {
                    format!(
                        "credentials rejected: {n} writes in a row were answered HTTP {status} after earlier writes went through (revoked or expired?)"
                    )
                };
                self.halt.halt(reason);
            }
        }
    }

    /// Pauses the whole target for `wait` (Retry-After), extending any pause under way; a
    /// pause that starts or extends the one under way is told to the watch, with `why`.
    fn pause(&self, wait: Duration, why: &str) {
        let until = tokio::time::Instant::now() + wait;
        let extended = {
            let mut p = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            let extended = p.is_none_or(|cur| cur < until);
            if extended {
                *p = Some(until);
            }
            extended
        };
        if extended {
            self.tell(Paced::Waiting {
                wait,
                why: why.to_string(),
            });
        }
    }

    /// Sleeps `wait`, but not past the run's deadline (a backoff or a pause never keeps a
    /// run beyond it; the next check of the halt then stops the request).
    async fn nap(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let until = match self.halt.deadline {
            Some(d) if d < until => d,
            _ => until,
        };
        tokio::time::sleep_until(until).await;
    }

    async fn wait_pause(&self) {
        loop {
            let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(u) if u > tokio::time::Instant::now() => {
                    self.nap(u - tokio::time::Instant::now()).await;
                    if self.halt.reason().is_some() {
                        // Halted or past the deadline: the caller stops the request.
                        return;
                    }
                }
                _ => return,
            }
        }
    }
}

/// The sink, locked (only for a synchronous feed, never across an await).
fn lock(s: &SinkRef) -> std::sync::MutexGuard<'_, dyn Sink + 'static> {
    s.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a body was not read to its end.
enum Cut {
    /// Longer than its cap.
    TooLarge,
    /// The connection failed (or timed out) mid-body.
    Failed(reqwest::Error),
}

/// Reads `resp`'s body chunk by chunk, never more than `cap` bytes: into a `String`, or,
/// with `sink`, into the sink (the `String` is then empty). A sink that stops reading ends
/// the body early, without an error: the sink says why.
async fn read_body(
    mut resp: reqwest::Response,
    cap: u64,
    sink: Option<&SinkRef>,
) -> Result<String, Cut> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(Cut::TooLarge);
    }
    if let Some(s) = sink {
        lock(s).start();
    }
    let mut body = Vec::new();
    let mut read = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(Cut::Failed)? {
        read += chunk.len() as u64;
        if read > cap {
            return Err(Cut::TooLarge);
        }
        match sink {
            Some(s) => {
                if !lock(s).feed(&chunk) {
                    break;
                }
            }
            None => body.extend_from_slice(&chunk),
        }
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A readable reason for a redirect answer the client did not follow, naming only the
/// origin it pointed to (its path and query may carry a token); `None` for other answers.
fn not_followed(reply: &Reply) -> Option<String> {
    if !(300..400).contains(&reply.status) || reply.status == 304 {
        return None;
    }
    let location = reply.headers.get(reqwest::header::LOCATION)?;
    let origin = location
        .to_str()
        .ok()
        .and_then(|l| Url::parse(l).ok())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "an unreadable location".into());
    Some(format!(
        "HTTP {}: redirected to {origin}, not followed: credentials are only sent to the target's own origin",
        reply.status
    ))
}

/// The error's own words and causes, without the URL (which may carry a token).
fn short(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text.chars().take(200).collect()
}

/// The reqwest client: rustls (ring), timeouts, pool sized to the concurrency, and
/// same-origin redirects only (custom auth headers would otherwise follow to another host).
pub fn build_client(
    timeout: Duration,
    concurrency: usize,
) -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(concurrency.max(1))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if attempt.previous().len() > 5 || !same_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .user_agent(concat!("muster/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VendorKind;

    #[test]
    fn a_path_is_appended_as_if_the_whole_url_were_parsed() {
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://fleet.example/traccar/api",
            "https://fleet.example/api/?key=1",
            "https://FLEET.example:443/a b/",
        ];
        let paths = [
            "/users",
            "/users/42",
            "/users/lookup",
            "/v1/drivers/abc-12_x~y:z@w",
            "",
            "users",
            "/a/../b",
            "/users?x=1",
            "/a%20b",
            "/ä",
            "//other.example/x",
        ];
        for base in bases {
            let target = Target::with_defaults("t", VendorKind::Traccar, base);
            let http = Http::new(&target, Arc::new(Halt::new(None))).unwrap();
            for path in paths {
                let whole = Url::parse(&format!("{}{path}", base.trim_end_matches('/')));
                assert_eq!(http.url(path).ok(), whole.ok(), "{base} + {path}");
            }
        }
    }
}
