//! DRTrack (Trimble, Appian-based) Users API (`shared/vendors/drtrack.md`, issue 7).
//!
//! - Auth: `GET /auth` with the headers `username`, `password`, `appName` answers
//!   `{"AuthenticationToken", "Status"}`; the token goes out as `Authtoken`. Both the HTTP
//!   code and `Status`/token are checked. A 401/403 later logs in again once and repeats.
//! - Existing users: `GET /users` once per target (login `userID`, case-insensitive, and
//!   `key`, the id muster reports). Branches and user groups are not listed.
//! - Writes: `PUT /users/sync` with a batch of `ADD`/`MODIFY`/`DELETE` operations, answered
//!   only `true` or `false`. Whether a `false` batch applied nothing or its valid part is
//!   unknown, so after every sync `GET /users` says which logins exist now; operations
//!   already in effect are settled and never sent again, the rest of a `false` batch is
//!   split in halves until each failing operation stands alone and gets its own verdict.
//!   Cost: one sync per batch plus about 2·log2(batch) per rejected operation.
//! - Exactly once: the journal holds the intent of each `ADD` (step `user`) before its
//!   batch is sent and its `key` once `GET /users` lists it; an intent left by a killed run
//!   is settled by the first `GET /users`. DRTrack itself refuses a second `ADD` of a login.

pub mod rules;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::HeaderName;
use serde_json::Value;

use crate::cli::Mode;
use crate::config::Credentials;
use crate::journal::StepState;
use crate::model::{Action, Field, Outcome, Status, VendorKind};
use crate::secret::Secret;
use crate::submit::Ctx;
use crate::submit::http::{Reply, Request, SendError};
use crate::submit::retry::Kind;

use super::{Job, Vendor, VendorError, generate_password};
use wire::{AuthReply, Directory, Listed, Method, OpFields, User};

/// The journal step of a user made by `ADD`.
const STEP: &str = "user";

/// The DRTrack connector.
#[derive(Debug)]
pub struct Drtrack {
    credentials: Credentials,
    /// Bumped at each login: a 401 logs in again only if nobody did since the request left.
    token_generation: AtomicU64,
    login_lock: tokio::sync::Mutex<()>,
    sync_calls: AtomicU64,
    /// User groups (lower-cased) DRTrack accepted in this run: a hint for rejected rows.
    accepted_groups: Mutex<HashSet<String>>,
}

/// One row on its way to DRTrack as a sync operation.
struct Pending {
    job: Job,
    method: Method,
    body: Value,
    /// The login as the row (or, for an existing user, DRTrack) spells it.
    login: String,
    /// Lower-cased.
    email: Option<String>,
    /// The user group as the row names it (`#7` for a `groupId`).
    group: Option<String>,
    /// Branch ids sent (not `ALL`): DRTrack cannot confirm them.
    branches: Option<String>,
    /// Said in the `error` column even when the row succeeds.
    notes: Vec<String>,
    out: Outcome,
}

/// What planning decided for a row.
enum Decision {
    Finish(Outcome),
    Send(Box<Pending>),
}

/// What `PUT /users/sync` said.
#[derive(Debug, Clone)]
enum Verdict {
    True,
    /// `false`, or a reply that is not `true` (the detail says what it was).
    False(Option<String>),
    /// No answer: it may or may not have taken effect.
    Unknown(String),
    /// Nothing is known to have been done (retries ran out before an answer).
    NotDone(SendError),
}

/// Why a batch stopped: the target halted (rows stay `not_attempted`), or the journal failed.
enum Stop {
    Halted,
    Journal(VendorError),
}

impl From<VendorError> for Stop {
    fn from(e: VendorError) -> Stop {
        Stop::Journal(e)
    }
}

impl Drtrack {
    pub fn new(credentials: Credentials) -> Drtrack {
        Drtrack {
            credentials,
            token_generation: AtomicU64::new(0),
            login_lock: tokio::sync::Mutex::new(()),
            sync_calls: AtomicU64::new(0),
            accepted_groups: Mutex::new(HashSet::new()),
        }
    }

    /// `PUT /users/sync` calls sent so far (retries of one call not counted).
    pub fn sync_calls(&self) -> u64 {
        self.sync_calls.load(Ordering::Relaxed)
    }

    /// `GET /auth`; on success every later request carries `Authtoken`.
    async fn authenticate(&self, ctx: &Ctx) -> Result<(), VendorError> {
        let (Some(user), Some(pass)) = (&self.credentials.username, &self.credentials.password)
        else {
            return Err(VendorError::Auth(
                "no DRTrack username/password configured".into(),
            ));
        };
        let app = ctx
            .target
            .app_name
            .clone()
            .unwrap_or_else(|| ctx.target.name.clone());
        let req = Request::get("/auth")
            .anonymous()
            .header(HeaderName::from_static("username"), user.clone())
            .header(HeaderName::from_static("password"), pass.clone())
            .header(HeaderName::from_static("appname"), Secret::new(app));
        let reply = ctx
            .http
            .send(req)
            .await
            .map_err(|e| VendorError::from_send("GET /auth", e))?;
        let parsed: AuthReply = serde_json::from_str(&reply.body).unwrap_or_default();
        let status = parsed.status_text();
        let token = parsed.token.filter(|t| !t.trim().is_empty());
        let said = status
            .as_deref()
            .map(|s| format!(", Status \"{s}\""))
            .unwrap_or_default();
        let refused =
            matches!(reply.status, 401 | 403) || matches!(status.as_deref(), Some("401" | "403"));
        match (reply.ok(), status.as_deref(), token) {
            (true, Some(s), Some(token)) if s.starts_with('2') => {
                ctx.http.set_auth(vec![(
                    HeaderName::from_static("authtoken"),
                    Secret::new(token),
                )]);
                self.token_generation.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            _ if refused => Err(VendorError::Auth(format!(
                "DRTrack refused the login on GET /auth (HTTP {}{said})",
                reply.status
            ))),
            (true, _, _) => Err(VendorError::Auth(format!(
                "GET /auth gave no token (HTTP {}{said})",
                reply.status
            ))),
            _ => Err(VendorError::Unavailable(format!(
                "GET /auth answered HTTP {}: {}",
                reply.status,
                reply.excerpt()
            ))),
        }
    }

    /// Sends `req`; a 401/403 logs in again (once for all requests in flight) and repeats it.
    /// A login refused then halts the target.
    async fn send(&self, ctx: &Ctx, req: Request) -> Result<Reply, SendError> {
        let generation = self.token_generation.load(Ordering::SeqCst);
        let first = ctx.http.send(req.clone()).await?;
        if !matches!(first.status, 401 | 403) {
            return Ok(first);
        }
        tracing::info!(
            target_name = %ctx.target.name,
            status = first.status,
            path = %req.path,
            "DRTrack rejected the token; logging in again"
        );
        let relogin = {
            let _one_at_a_time = self.login_lock.lock().await;
            if self.token_generation.load(Ordering::SeqCst) == generation {
                self.authenticate(ctx).await
            } else {
                Ok(()) // another request logged in meanwhile
            }
        };
        if let Err(e) = relogin {
            let reason = e.halt_reason();
            ctx.http.halt.halt(reason.clone());
            return Err(SendError::Halted(reason));
        }
        let mut again = ctx.http.send(req).await?;
        again.attempts += first.attempts;
        Ok(again)
    }

    /// `GET /users`: every user of the target.
    async fn list_users(&self, ctx: &Ctx) -> Result<Directory, VendorError> {
        let reply = self
            .send(ctx, Request::get("/users"))
            .await
            .map_err(|e| VendorError::from_send("GET /users", e))?;
        match reply.status {
            200..=299 => serde_json::from_str::<Vec<User>>(&reply.body)
                .map(Directory::from_users)
                .map_err(|e| VendorError::Protocol(format!("GET /users: {e}"))),
            401 | 403 => Err(VendorError::Auth(format!(
                "HTTP {} on GET /users after logging in again",
                reply.status
            ))),
            s => Err(VendorError::Unavailable(format!(
                "GET /users answered HTTP {s}: {}",
                reply.excerpt()
            ))),
        }
    }

    /// Decides every row from the platform's users and the ledger: rows settled without a
    /// write are finished here, the others come back as operations in input order.
    fn plan(
        &self,
        ctx: &Ctx,
        dir: &Directory,
        jobs: Vec<Job>,
    ) -> Result<Vec<Pending>, VendorError> {
        let mut logins: HashMap<String, String> = HashMap::new();
        let mut emails: HashMap<String, (String, String, String)> = HashMap::new();
        let mut pending = Vec::new();
        for job in jobs {
            let index = job.index;
            match self.decide(ctx, dir, job, &mut logins, &mut emails)? {
                Decision::Finish(out) => ctx.finish(index, out),
                Decision::Send(p) if ctx.dry_run => {
                    let mut out = p.out;
                    out.status = Status::Planned;
                    ctx.finish(index, out);
                }
                Decision::Send(p) => pending.push(*p),
            }
        }
        Ok(pending)
    }

    fn decide(
        &self,
        ctx: &Ctx,
        dir: &Directory,
        job: Job,
        logins: &mut HashMap<String, String>,
        emails: &mut HashMap<String, (String, String, String)>,
    ) -> Result<Decision, VendorError> {
        let row = job.row.clone();
        let key = job.key.clone();
        let place = format!("{} row {}", row.layout.file, row.line);
        let mut out = Outcome::new(Status::Planned, job.action);
        let failed = |mut out: Outcome, why: String| {
            out.status = Status::Failed;
            out.error = Some(why);
            Ok(Decision::Finish(out))
        };
        let login = row
            .get(Field::Username)
            .unwrap_or(key.as_str())
            .trim()
            .to_string();
        if let Some(first) = logins.get(&key) {
            return failed(
                out,
                format!("login {login} also appears at {first}; only that row is sent"),
            );
        }
        logins.insert(key.clone(), place.clone());
        let target = &ctx.target.name;
        let listed = dir.login(&key);

        if job.action == Action::Delete {
            let Some(user) = listed else {
                return failed(
                    out,
                    format!("no user with login {login} on target {target}"),
                );
            };
            out.user_id = Some(user.key.clone());
            let body = wire::operation(
                Method::Delete,
                &OpFields {
                    login: &user.login,
                    ..OpFields::default()
                },
                &[],
            );
            return Ok(Decision::Send(Box::new(Pending {
                method: Method::Delete,
                body,
                login: user.login.clone(),
                email: None,
                group: None,
                branches: None,
                notes: Vec::new(),
                out,
                job,
            })));
        }

        let ledger = ctx.ledger(&key, STEP).cloned();
        let method = match listed {
            Some(user) => {
                out.user_id = Some(user.key.clone());
                // An intent without outcome whose login is listed: that ADD took effect.
                if ledger
                    .as_ref()
                    .is_some_and(|s| s.state == StepState::Intent)
                    && !ctx.dry_run
                {
                    ctx.done(&key, STEP, Some(&user.key))?;
                }
                let made_now = ledger.as_ref().is_some_and(|s| s.run_id == ctx.run_id);
                if made_now && job.action != Action::Update {
                    // A resumed run: this run's own ADD, confirmed by the list.
                    out.status = Status::Created;
                    return Ok(Decision::Finish(out));
                }
                let modify = matches!(job.action, Action::Update | Action::Upsert)
                    || matches!(ctx.mode, Mode::Upsert | Mode::Sync);
                if !modify || unchanged(&job, user) {
                    out.status = Status::Exists;
                    return Ok(Decision::Finish(out));
                }
                Method::Modify
            }
            None => {
                if ledger
                    .as_ref()
                    .is_some_and(|s| s.state == StepState::Intent)
                    && !ctx.dry_run
                {
                    // Listed after the intent was written, and absent: it never happened.
                    ctx.clear(&key, STEP)?;
                }
                if job.action == Action::Update {
                    return failed(
                        out,
                        format!("no user with login {login} on target {target} to modify"),
                    );
                }
                Method::Add
            }
        };

        let problems = rules::check(
            &row,
            if method == Method::Add {
                Action::Create
            } else {
                Action::Update
            },
        );
        if !problems.is_empty() {
            let mut invalid = Outcome::invalid(job.action, &problems);
            invalid.user_id = out.user_id;
            return Ok(Decision::Finish(invalid));
        }

        let email = row.get(Field::Email).map(|e| e.trim().to_lowercase());
        if let Some(e) = &email {
            if let Some(owner) = dir.email_owner(e).filter(|o| *o != key) {
                let owner = dir.login(owner).map_or(owner, |u| u.login.as_str());
                return failed(
                    out,
                    format!(
                        "email {e} is already used by login {owner} on DRTrack, which allows one user per email; not sent"
                    ),
                );
            }
            match emails.get(e) {
                Some((other_key, other, at)) if *other_key != key => {
                    return failed(
                        out,
                        format!(
                            "email {e} is also given to login {other} at {at}; DRTrack allows one user per email, so only that row is sent"
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    emails.insert(e.clone(), (key.clone(), login.clone(), place));
                }
            }
        }

        let mut notes = Vec::new();
        let branches = row
            .get(Field::BranchIds)
            .and_then(|b| rules::branch_ids(b).ok());
        let group_id = row
            .get(Field::GroupId)
            .and_then(|g| g.trim().parse::<i64>().ok());
        let user_group = row.get(Field::UserGroup);
        let group = user_group
            .map(str::to_string)
            .or_else(|| group_id.map(|g| format!("#{g}")));
        let password = match method {
            Method::Add => match row.get(Field::Password) {
                Some(p) => Some(p.to_string()),
                None if !ctx.dry_run => {
                    let pw = strong_password();
                    // Sent only when kept (`--secrets-out`): otherwise DRTrack's own random
                    // password serves as well.
                    ctx.keep_generated_password(&key, &pw)?
                        .then(|| pw.expose().to_string())
                }
                None => None,
            },
            _ => {
                if row.get(Field::Password).is_some() {
                    notes.push("password not changed: DRTrack ignores passwords on MODIFY".into());
                }
                None
            }
        };
        let sent_login = match (method, listed) {
            (Method::Modify, Some(u)) => u.login.clone(),
            _ => login.clone(),
        };
        let extra: Vec<(&str, &str)> = row.passthrough(VendorKind::Drtrack).collect();
        let body = wire::operation(
            method,
            &OpFields {
                branch_ids: branches.as_deref(),
                first_name: row.get(Field::FirstName),
                last_name: row.get(Field::LastName),
                email: row.get(Field::Email),
                password: password.as_deref(),
                login: &sent_login,
                group_id,
                user_group,
            },
            &extra,
        );
        Ok(Decision::Send(Box::new(Pending {
            method,
            body,
            login: sent_login,
            email,
            group,
            branches: branches.filter(|b| b != "ALL"),
            notes,
            out,
            job,
        })))
    }

    async fn run_batch(&self, ctx: &Ctx, batch: Vec<Pending>) {
        if let Err(Stop::Journal(e)) = self.settle(ctx, batch).await {
            ctx.http.halt.halt(format!("journal failed: {e}"));
        }
    }

    /// Sends one batch and settles every operation in it: confirmed by `GET /users` after
    /// each sync, a `false` batch split in halves until each failing operation stands alone.
    async fn settle(&self, ctx: &Ctx, batch: Vec<Pending>) -> Result<(), Stop> {
        for p in batch.iter().filter(|p| p.method == Method::Add) {
            ctx.intent(&p.job.key, STEP)?;
        }
        // (operations, syncs of them that went unanswered)
        let mut stack: Vec<(Vec<Pending>, u32)> = vec![(batch, 0)];
        while let Some((mut ops, unanswered)) = stack.pop() {
            if ops.is_empty() {
                continue;
            }
            if ctx.halted() {
                return Err(Stop::Halted);
            }
            let sent_alone = ops.len() == 1;
            let verdict = self.sync(ctx, &mut ops).await?;
            let dir = match self.list_users(ctx).await {
                Ok(d) => d,
                Err(e) => {
                    // Without the list nothing can be confirmed: the intents stay, and a
                    // re-run settles them.
                    ctx.http.halt.halt(e.halt_reason());
                    return Err(Stop::Halted);
                }
            };
            let mut remaining = Vec::new();
            for mut p in ops {
                let listed = dir.login(&p.job.key);
                match (p.method, listed) {
                    (Method::Add, Some(user)) => {
                        ctx.done(&p.job.key, STEP, Some(&user.key))?;
                        p.out.user_id = Some(user.key.clone());
                        self.succeed(ctx, p, Status::Created);
                    }
                    (Method::Delete, None) => self.succeed(ctx, p, Status::Deleted),
                    (Method::Modify, Some(_)) if matches!(verdict, Verdict::True) => {
                        self.succeed(ctx, p, Status::Updated)
                    }
                    _ => remaining.push(p),
                }
            }
            match verdict {
                Verdict::True => {
                    for p in remaining {
                        let why = match p.method {
                            Method::Delete => format!(
                                "DRTrack answered true, but login {} is still listed",
                                p.login
                            ),
                            _ => format!(
                                "DRTrack answered true, but login {} is not listed afterwards",
                                p.login
                            ),
                        };
                        self.fail(ctx, p, why)?;
                    }
                }
                Verdict::False(detail) => {
                    if remaining.len() == 1 && sent_alone {
                        let p = remaining.remove(0);
                        let why = self.lone_reason(&p, detail.as_deref(), &dir);
                        self.fail(ctx, p, why)?;
                    } else if remaining.len() > 1 {
                        let second = remaining.split_off(remaining.len() / 2);
                        stack.push((second, 0));
                        stack.push((remaining, 0));
                    } else {
                        stack.push((remaining, 0));
                    }
                }
                Verdict::Unknown(detail) if unanswered < ctx.target.retries => {
                    // Whatever is not listed now did not happen: send only that again.
                    tracing::info!(
                        target_name = %ctx.target.name,
                        %detail,
                        still_missing = remaining.len(),
                        "DRTrack sync unanswered; re-sending what GET /users does not list"
                    );
                    stack.push((remaining, unanswered + 1));
                }
                Verdict::Unknown(detail) => {
                    for p in remaining {
                        let why = format!(
                            "no answer from DRTrack to {} syncs ({detail}), and login {} shows no effect; giving up",
                            unanswered + 1,
                            p.login
                        );
                        self.fail(ctx, p, why)?;
                    }
                }
                Verdict::NotDone(e) => {
                    for mut p in remaining {
                        p.out.http_status = e.status().or(p.out.http_status);
                        self.fail(ctx, p, e.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One `PUT /users/sync` of `ops`.
    async fn sync(&self, ctx: &Ctx, ops: &mut [Pending]) -> Result<Verdict, Stop> {
        let body = Value::Array(ops.iter().map(|p| p.body.clone()).collect());
        let n = self.sync_calls.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(target_name = %ctx.target.name, call = n, operations = ops.len(), "PUT /users/sync");
        let req = Request::new(reqwest::Method::PUT, "/users/sync", Kind::Create).json(body);
        match self.send(ctx, req).await {
            Ok(r) => {
                for p in ops.iter_mut() {
                    p.out.attempts += r.attempts;
                    p.out.http_status = Some(r.status);
                }
                if matches!(r.status, 401 | 403) {
                    let reason = format!(
                        "credentials rejected: HTTP {} on PUT /users/sync after logging in again",
                        r.status
                    );
                    ctx.http.halt.halt(reason);
                    return Err(Stop::Halted);
                }
                Ok(match (r.ok(), wire::parse_verdict(&r.body)) {
                    (true, Some(true)) => Verdict::True,
                    (true, Some(false)) => Verdict::False(None),
                    (true, None) => Verdict::False(Some(format!(
                        "HTTP {}, answer \"{}\" instead of true/false",
                        r.status,
                        r.excerpt()
                    ))),
                    (false, _) => {
                        Verdict::False(Some(format!("HTTP {}: {}", r.status, r.excerpt())))
                    }
                })
            }
            Err(SendError::Halted(_)) => Err(Stop::Halted),
            Err(e) => {
                for p in ops.iter_mut() {
                    p.out.attempts += e.attempts();
                }
                Ok(match e {
                    SendError::Unknown { detail, .. } => Verdict::Unknown(detail),
                    other => Verdict::NotDone(other),
                })
            }
        }
    }

    /// What muster can tell about an operation DRTrack refused on its own.
    fn lone_reason(&self, p: &Pending, detail: Option<&str>, dir: &Directory) -> String {
        let mut text = match detail {
            Some(d) => format!("sync rejected by DRTrack ({d})"),
            None => "sync rejected by DRTrack (no detail given)".to_string(),
        };
        let mut hints = Vec::new();
        if p.method != Method::Add && dir.login(&p.job.key).is_none() {
            hints.push(format!("login {} is not on DRTrack", p.login));
        }
        if let Some(e) = &p.email {
            if let Some(owner) = dir.email_owner(e).filter(|o| **o != p.job.key) {
                let owner = dir.login(owner).map_or(owner, |u| u.login.as_str());
                hints.push(format!("email {e} is already used by login {owner}"));
            }
        }
        if let Some(g) = &p.group {
            let known = self
                .accepted_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&g.to_lowercase());
            if !known {
                hints.push(format!(
                    "user group \"{g}\" was not accepted for any user in this run; it may not exist on DRTrack"
                ));
            }
        }
        if hints.is_empty() && p.method == Method::Add {
            hints.push(
                "DRTrack refuses a new user whose login or email is taken, whose email is malformed or whose user group does not exist".into(),
            );
        }
        for h in hints {
            text.push_str("; ");
            text.push_str(&h);
        }
        text
    }

    fn succeed(&self, ctx: &Ctx, mut p: Pending, status: Status) {
        if let Some(g) = &p.group {
            self.accepted_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(g.to_lowercase());
        }
        if let (Some(b), Method::Add | Method::Modify) = (&p.branches, p.method) {
            p.notes.push(format!(
                "branches {b} cannot be confirmed: DRTrack's API does not return branches"
            ));
        }
        p.out.status = status;
        if !p.notes.is_empty() {
            p.out.error = Some(format!("{status}; {}", p.notes.join("; ")));
        }
        ctx.finish(p.job.index, p.out);
    }

    fn fail(&self, ctx: &Ctx, mut p: Pending, why: String) -> Result<(), VendorError> {
        if p.method == Method::Add {
            // Confirmed absent by the list read after the sync.
            ctx.clear(&p.job.key, STEP)?;
        }
        p.out.status = Status::Failed;
        p.out.error = Some(why);
        ctx.finish(p.job.index, p.out);
        Ok(())
    }
}

impl Vendor for Drtrack {
    async fn probe(&self, ctx: &Ctx) -> Result<(), VendorError> {
        self.authenticate(ctx).await
    }

    async fn run(&self, ctx: &Ctx, jobs: Vec<Job>) -> Result<(), VendorError> {
        let dir = self.list_users(ctx).await?;
        let pending = self.plan(ctx, &dir, jobs)?;
        let operations = pending.len();
        let size = ctx.target.batch_size.max(1);
        let mut batches: Vec<Vec<Pending>> = Vec::new();
        for p in pending {
            match batches.last_mut() {
                Some(b) if b.len() < size => b.push(p),
                _ => batches.push(vec![p]),
            }
        }
        let count = batches.len();
        ctx.for_each(batches, |batch| self.run_batch(ctx, batch))
            .await;
        tracing::info!(
            target_name = %ctx.target.name,
            sync_calls = self.sync_calls(),
            operations,
            batches = count,
            "DRTrack: {} sync calls for {operations} operations in {count} batches",
            self.sync_calls()
        );
        Ok(())
    }
}

/// Whether an existing user already looks like the row, as far as `GET /users` shows:
/// only first name, last name and email can be compared.
fn unchanged(job: &Job, user: &Listed) -> bool {
    let row = &job.row;
    if row.get(Field::BranchIds).is_some()
        || row.get(Field::UserGroup).is_some()
        || row.get(Field::GroupId).is_some()
        || row.passthrough(VendorKind::Drtrack).next().is_some()
    {
        return false;
    }
    let same = |field: Field, have: Option<&str>| match row.get(field) {
        None => true,
        Some(want) => have.is_some_and(|h| h.trim() == want.trim()),
    };
    same(Field::FirstName, user.first_name.as_deref())
        && same(Field::LastName, user.last_name.as_deref())
        && match row.get(Field::Email) {
            None => true,
            Some(e) => user.email.as_deref() == Some(e.trim().to_lowercase().as_str()),
        }
}

/// A random password that meets DRTrack's policy (digit, lower, upper, special; ≤ 40).
fn strong_password() -> Secret {
    let hex = generate_password();
    let hex = hex.expose();
    Secret::new(format!("Mx-{}7a{}", &hex[..12], &hex[12..24]))
}
