//! Submit: runs every target independently and concurrently, each under its own limiter,
//! concurrency cap, retry policy and halt signal, and collects one outcome per row.
//!
//! The engine knows the `Vendor` trait and the journal; connectors know the wire. A row
//! that a connector never finished (target halted, deadline) ends `not_attempted`.

mod batch;
mod kept;
pub mod record;
mod row;
pub mod scope;
pub mod secrets;
mod step;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::config::{Credentials, Target};
use crate::http::{Halt, Http, Paced};
use crate::journal::{self, Journal, Step, StepWrite};
use crate::model::{
    Action, Compact, FailureBudget, Outcome, Outcomes, PlatformUser, Status, StepState, TargetStats,
};
use crate::model::{Mode, identity_key};
use crate::secret::{Scrubber, Secret};
use crate::vendors::protocol::RowError;
use crate::vendors::protocol::{Batch, Engine, Step as StepOf};
use crate::vendors::{self, Job, Purpose, VendorError};
use scope::{InUse, Leasing, Scoped};
use secrets::SecretsFile;

/// Progress of the run, as the engine reports it (implemented by `progress`).
pub trait Reporter: Send + Sync {
    /// A target starts with `total` rows.
    fn start(&self, target: &str, total: usize);
    /// A row of `target` ended with `status`.
    fn row_done(&self, target: &str, status: Status);
    /// What the target is doing or waiting for (`waiting 20 s for /apps`).
    fn note(&self, target: &str, message: &str);
    /// The target is finished.
    fn finish(&self, target: &str);
    /// What the target's limits allow, or a wait of the whole target beginning (told by
    /// `http` and the connectors through [`Http::tell`]): what an ETA is made of.
    fn paced(&self, _target: &str, _event: &Paced) {}
}

/// A reporter that shows nothing (`--quiet`, tests).
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn start(&self, _: &str, _: usize) {}
    fn row_done(&self, _: &str, _: Status) {}
    fn note(&self, _: &str, _: &str) {}
    fn finish(&self, _: &str) {}
}

/// The engine's state for one target, which connectors see only as [`Engine`].
pub struct Ctx {
    target: Target,
    http: Http,
    run_id: String,
    dry_run: bool,
    mode: Mode,
    prune: bool,
    journal: Arc<Journal>,
    /// The target's scope and its ledger, once the probe told the account
    /// ([`Ctx::enter_scope`]); unset on a read-only listing, which reads no ledger.
    scoped: std::sync::OnceLock<Scoped>,
    /// To the journal's writer: compact, as it may lag far behind (a dry run).
    outcomes: mpsc::UnboundedSender<(usize, Compact)>,
    /// The target's jobs: which rows have their outcome, and the rows' own passwords.
    jobs: kept::Kept,
    /// What a row's outcome is to say besides its own message, by identity key: a stale
    /// ledger record set aside ([`Engine::standing`]).
    remarks: std::sync::Mutex<HashMap<String, String>>,
    reporter: Arc<dyn Reporter>,
    secrets: Option<Arc<SecretsFile>>,
    /// The target's credentials and the passwords muster generated: hidden in every text a
    /// platform sent back before it becomes part of an outcome.
    scrubber: std::sync::RwLock<Scrubber>,
    /// Rows of this target that failed so far, and how many may (`--max-failures`).
    failed: std::sync::atomic::AtomicUsize,
    failure_budget: Option<(usize, FailureBudget)>,
}

impl Ctx {
    /// What the journal knew of `step` for the row with identity `key` when the target started.
    pub fn ledger(&self, key: &str, step: &str) -> Option<&Step> {
        self.scoped
            .get()?
            .ledger
            .get(&(key.to_string(), step.to_string()))
    }

    /// Commits `writes` of this target's ledger (in order, all or none), sharing the commit
    /// with every other row's pending writes, off the runtime's worker threads: N rows in
    /// flight cost one commit, not N.
    async fn commit(&self, writes: Vec<StepWrite>) -> Result<(), VendorError> {
        self.journal
            .commit(&self.run_id, self.journal_key(), writes)
            .await
            .map_err(|e| VendorError::Journal(e.to_string()))
    }

    /// As `intent`, group-committed (see `commit`): returns once the intent is committed.
    async fn commit_intent(&self, key: &str, step: &str) -> Result<(), VendorError> {
        self.commit(vec![StepWrite::Intent {
            key: key.to_string(),
            step: step.to_string(),
        }])
        .await
    }

    /// As `clear`, group-committed (see `commit`).
    async fn commit_clear(&self, key: &str, step: &str) -> Result<(), VendorError> {
        self.commit(vec![StepWrite::Clear {
            key: key.to_string(),
            step: step.to_string(),
        }])
        .await
    }

    /// The remark noted for row `index`'s user ([`Engine::standing`]), taken: found by the
    /// row's identity key (the job's key, `plan::work`), looked for only while any is noted.
    fn remark(&self, index: usize) -> Option<String> {
        let mut remarks = lock(&self.remarks);
        if remarks.is_empty() {
            return None;
        }
        let key = identity_key(self.target.vendor, self.jobs.row(index)?)?;
        remarks.remove(&key)
    }

    /// Records a row's final outcome.
    fn record(&self, index: usize, outcome: Outcome) {
        if let Some(slot) = self.jobs.finished(index) {
            if slot.swap(true, Ordering::SeqCst) {
                return; // already finished: the first outcome stands
            }
        }
        let mut outcome = outcome;
        if let Some(remark) = self.remark(index) {
            outcome.error = Some(match outcome.error.take() {
                Some(e) => format!("{e}; {remark}"),
                None => remark,
            });
        }
        let outcome = self.scrubbed(index, outcome);
        if outcome.status == Status::Failed {
            let failed = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((allowed, budget)) = self.failure_budget.filter(|(a, _)| failed > *a) {
                self.http.halt.halt(format!(
                    "failure budget spent: {failed} rows failed, more than --max-failures {budget} ({allowed} of this target's rows)"
                ));
            }
        }
        self.reporter.row_done(&self.target.name, outcome.status);
        let _ = self.outcomes.send((index, outcome.into()));
    }

    /// `outcome` with every secret hidden in its error: the target's credentials, the
    /// passwords muster generated, the row's own password.
    fn scrubbed(&self, index: usize, mut outcome: Outcome) -> Outcome {
        if let Some(error) = &outcome.error {
            let scrubber = self.scrubber.read().unwrap_or_else(|p| p.into_inner());
            let mut text = scrubber.scrub(error).into_owned();
            if let Some(own) = self.jobs.password(index) {
                text = Scrubber::new([&own]).scrub(&text).into_owned();
            }
            outcome.error = Some(text);
        }
        outcome
    }

    /// `text` (from a platform) with the target's secrets hidden.
    fn scrub(&self, text: &str) -> String {
        let scrubber = self.scrubber.read().unwrap_or_else(|p| p.into_inner());
        scrubber.scrub(text).into_owned()
    }
}

/// The engine's side of the connectors' protocol: connectors see the engine only through
/// this trait.
impl Engine for Ctx {
    fn target(&self) -> &Target {
        &self.target
    }

    fn http(&self) -> &Http {
        &self.http
    }

    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn prune(&self) -> bool {
        self.prune
    }

    fn ledger(&self, key: &str, step: &str) -> Option<&Step> {
        Ctx::ledger(self, key, step)
    }

    fn made_by_this_run(&self, key: &str, step: &str) -> bool {
        Ctx::ledger(self, key, step).is_some_and(|s| s.run_id == self.run_id)
    }

    fn standing(&self, key: &str, listed: Option<&str>) -> vendors::standing::Standing {
        let standing = vendors::standing::standing(
            Ctx::ledger(self, key, vendors::STEP_USER),
            Ctx::ledger(self, key, vendors::STEP_COMPLETE).is_some(),
            listed,
        );
        let note = standing.stale_note().or_else(|| {
            Ctx::ledger(self, key, vendors::STEP_USER)
                .is_none()
                .then(|| self.recorded_elsewhere(key))
                .flatten()
        });
        if let Some(note) = note {
            lock(&self.remarks).insert(key.to_string(), note);
        }
        standing
    }

    fn finish(&self, index: usize, outcome: Outcome) {
        self.record(index, outcome)
    }

    /// Says what the target is waiting for, on the progress line.
    fn note(&self, message: &str) {
        self.reporter.note(&self.target.name, message);
    }

    /// A connector's log line, scrubbed of the target's secrets as a platform's text is.
    fn log(&self, level: tracing::Level, line: &str) {
        let line = self.scrub(line);
        let target = self.target.name.as_str();
        match level {
            tracing::Level::ERROR => tracing::error!(target_name = %target, "{line}"),
            tracing::Level::WARN => tracing::warn!(target_name = %target, "{line}"),
            tracing::Level::INFO => tracing::info!(target_name = %target, "{line}"),
            tracing::Level::DEBUG => tracing::debug!(target_name = %target, "{line}"),
            tracing::Level::TRACE => tracing::trace!(target_name = %target, "{line}"),
        }
    }

    /// Keeps a password muster generated, in the `--secrets-out` file (before it is sent).
    /// Returns whether it was kept somewhere.
    fn keep_generated_password(&self, key: &str, password: &Secret) -> Result<bool, VendorError> {
        self.scrubber
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(password);
        match &self.secrets {
            Some(file) => file
                .append(&self.target.name, key, password)
                .map(|_| true)
                .map_err(|e| VendorError::Protocol(format!("cannot write the secrets file: {e}"))),
            None => Ok(false),
        }
    }

    /// Whether the target was halted (then connectors stop starting rows).
    fn halted(&self) -> bool {
        self.http.halt.reason().is_some()
    }

    /// Runs `f` over `items` with the target's concurrency, skipping the rest once halted.
    async fn for_each<T, F, Fut>(&self, items: Vec<T>, f: F)
    where
        T: Send,
        F: Fn(T) -> Fut + Send + Sync,
        Fut: Future<Output = ()> + Send,
    {
        futures_util::stream::iter(items)
            .for_each_concurrent(self.target.concurrency, |item| {
                let go = !self.halted();
                // Boxed where it is made: a row's future is kilobytes (a connector's steps
                // nest the engine's), and the stream moves what it holds several times.
                let fut = go.then(|| Box::pin(f(item)));
                async move {
                    if let Some(fut) = fut {
                        fut.await
                    }
                }
            })
            .await
    }

    async fn settle_listed(
        &self,
        step: StepOf<'_>,
        listed: Option<&str>,
    ) -> Result<bool, RowError> {
        self.settle_from_listing(step, listed).await
    }

    async fn batch<B: Batch>(&self, batch: &B, ops: Vec<B::Op>) {
        self.run_batch(batch, ops).await
    }

    async fn rows<R: vendors::protocol::Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        jobs: Vec<Job>,
    ) {
        self.run_rows(rows, existing, jobs).await
    }
}

/// A run-wide request to stop (SIGINT, SIGTERM): every target stops starting requests at
/// once, lets those in flight finish for [`STOP_GRACE`], then cancels the rest.
#[derive(Debug, Clone)]
pub struct Interrupt {
    tx: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt {
            tx: Arc::new(tokio::sync::watch::channel(None).0),
        }
    }
}

impl Interrupt {
    /// Asks every target to stop, with `reason` (the first one given is kept).
    pub fn request(&self, reason: &str) {
        self.tx.send_if_modified(|r| {
            let first = r.is_none();
            if first {
                *r = Some(reason.to_string());
            }
            first
        });
    }

    /// Why the run was asked to stop, if it was.
    pub fn requested(&self) -> Option<String> {
        self.tx.borrow().clone()
    }

    /// Waits until the run is asked to stop; returns why.
    async fn wait(&self) -> String {
        let mut rx = self.tx.subscribe();
        let got = rx
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().unwrap_or_default());
        match got {
            Ok(reason) => reason,
            // The sender lives as long as `self`: never closed while waited on.
            Err(_) => std::future::pending().await,
        }
    }
}

/// How long requests in flight may finish once a target stops (deadline, interrupt) before
/// they are cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// Waits for the deadline or an interrupt; stops the target from starting requests (`halt`)
/// and gives those in flight [`STOP_GRACE`]; returns the reason once they are to be
/// cancelled.
async fn stopping(
    deadline: Option<tokio::time::Instant>,
    interrupt: &Interrupt,
    halt: &Halt,
) -> String {
    let reason = tokio::select! {
        () = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        } => "deadline reached".to_string(),
        r = interrupt.wait() => r,
    };
    halt.halt(reason.clone());
    tokio::time::sleep(STOP_GRACE).await;
    reason
}

/// One target's share of the run.
pub struct TargetWork {
    pub target: Target,
    pub credentials: Credentials,
    pub jobs: Vec<Job>,
}

/// Run-wide settings of the engine.
pub struct Options {
    pub run_id: String,
    pub dry_run: bool,
    pub mode: Mode,
    pub deadline: Option<Duration>,
    pub journal: Arc<Journal>,
    pub reporter: Arc<dyn Reporter>,
    pub secrets: Option<Arc<SecretsFile>>,
    pub purpose: Purpose,
    /// SIGINT/SIGTERM: stop starting requests, cancel those still in flight after a grace.
    pub interrupt: Interrupt,
    /// `--max-failures`: each target stops once more of its rows failed.
    pub max_failures: Option<FailureBudget>,
    /// The run's lease holder, when it leases its targets: each target's scope is leased
    /// too, once probed ([`scope`]).
    pub lease: Option<Leasing>,
    /// `--mode sync --prune`: connectors also remove the links the roster lacks (issue 28).
    pub prune: bool,
}

/// Submits every target's rows; returns each row's outcome (by index) and each target's stats.
pub async fn submit(
    work: Vec<TargetWork>,
    options: Options,
) -> Result<(HashMap<usize, Outcome>, Vec<TargetStats>), journal::Error> {
    let (outcomes, stats) = submit_rows(work, options).await?;
    Ok((outcomes.into_entries().collect(), stats))
}

/// [`submit`], each row's outcome kept compact ([`Outcomes`]): what an import of a million
/// rows takes.
pub async fn submit_rows(
    work: Vec<TargetWork>,
    options: Options,
) -> Result<(Outcomes, Vec<TargetStats>), journal::Error> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Compact)>();
    let journal = options.journal.clone();
    let run_id = options.run_id.clone();
    let journal_path = options.journal.path().to_path_buf();
    // One writer batches outcomes into the journal.
    let collector = tokio::spawn(async move {
        let mut all = Outcomes::new();
        let mut batch: Vec<(usize, Compact)> = Vec::new();
        loop {
            let got = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
            let closed = matches!(got, Ok(None));
            if let Ok(Some(item)) = got {
                batch.push(item);
                while batch.len() < 2_000 {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
            }
            if !batch.is_empty() {
                // On a blocking thread: the runtime's workers keep sending rows meanwhile.
                let (journal, run_id) = (journal.clone(), run_id.clone());
                let written = std::mem::take(&mut batch);
                let written = tokio::task::spawn_blocking(move || {
                    let full: Vec<(usize, Outcome)> =
                        written.iter().map(|(i, c)| (*i, c.outcome())).collect();
                    journal
                        .record_outcomes(&run_id, full.iter().map(|(i, o)| (*i, o)))
                        .map(|()| written)
                })
                .await
                .map_err(|join| journal::Error::Open {
                    path: journal_path.clone(),
                    message: format!("the journal writer failed: {join}"),
                })??;
                all.extend(written);
            }
            if closed {
                return Ok::<_, journal::Error>(all);
            }
        }
    });
    let deadline = options.deadline.map(|d| tokio::time::Instant::now() + d);
    let in_use = InUse::default();
    let mut tasks = Vec::new();
    for w in work {
        let tx = tx.clone();
        let opts = (
            options.run_id.clone(),
            options.dry_run,
            (options.mode, options.prune),
            options.journal.clone(),
            options.reporter.clone(),
            options.secrets.clone(),
            options.purpose.clone(),
        );
        let stop = (options.interrupt.clone(), options.max_failures);
        let scoping = (options.lease.clone(), in_use.clone());
        tasks.push(tokio::spawn(async move {
            run_target(w, opts, deadline, stop, scoping, tx).await
        }));
    }
    drop(tx);
    let mut stats = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(s)) => stats.push(s),
            Ok(Err(e)) => return Err(e),
            Err(join) => {
                return Err(journal::Error::Open {
                    path: options.journal.path().to_path_buf(),
                    message: format!("a target's task failed: {join}"),
                });
            }
        }
    }
    let outcomes = collector.await.map_err(|join| journal::Error::Open {
        path: options.journal.path().to_path_buf(),
        message: format!("the journal writer failed: {join}"),
    })??;
    Ok((outcomes, stats))
}

type TargetOpts = (
    String,
    bool,
    (Mode, bool),
    Arc<Journal>,
    Arc<dyn Reporter>,
    Option<Arc<SecretsFile>>,
    Purpose,
);

async fn run_target(
    work: TargetWork,
    (run_id, dry_run, (mode, prune), journal, reporter, secrets, purpose): TargetOpts,
    deadline: Option<tokio::time::Instant>,
    (interrupt, max_failures): (Interrupt, Option<FailureBudget>),
    (leasing, in_use): (Option<Leasing>, InUse),
    tx: mpsc::UnboundedSender<(usize, Compact)>,
) -> Result<TargetStats, journal::Error> {
    let started = tokio::time::Instant::now();
    let TargetWork {
        target,
        credentials,
        jobs,
    } = work;
    let name = target.name.clone();
    reporter.start(&name, jobs.len());
    let halt = Arc::new(Halt::new(deadline));
    let http = match Http::new(&target, halt.clone()) {
        Ok(h) => h,
        Err(e) => {
            let reason = format!("cannot build an HTTP client: {e}");
            for job in &jobs {
                let _ = tx.send((job.index, not_attempted(job.action, &reason).into()));
            }
            reporter.finish(&name);
            return Ok(TargetStats {
                target: name,
                vendor: Some(target.vendor),
                halted: Some(reason),
                ..TargetStats::default()
            });
        }
    };
    let watcher = (reporter.clone(), name.clone());
    http.watch(Arc::new(move |event| watcher.0.paced(&watcher.1, &event)));
    let ctx = Ctx {
        scrubber: std::sync::RwLock::new(scrubber_of(&credentials)),
        failed: Default::default(),
        failure_budget: max_failures.map(|b| (b.allowed(jobs.len()), b)),
        jobs: kept::Kept::of(&jobs),
        remarks: Default::default(),
        target: target.clone(),
        http,
        run_id,
        dry_run,
        mode,
        prune,
        journal,
        scoped: Default::default(),
        outcomes: tx.clone(),
        reporter: reporter.clone(),
        secrets,
    };
    let connector = vendors::connect(&target, credentials, &purpose);
    let result = {
        let work = async {
            connector.probe(&ctx).await?;
            // The account is known: the target's records are its platform's (issue 25).
            let _scope = ctx
                .enter_scope(connector.account(), leasing.as_ref(), &in_use)
                .await?;
            connector.run(&ctx, jobs).await
        };
        // Past the deadline or interrupted: no new request; those in flight get a grace,
        // then the connector's work is dropped, which cancels them (as safe as a kill: an
        // intent committed stays, and the next run settles it).
        tokio::select! {
            result = work => result,
            reason = stopping(deadline, &interrupt, &halt) => Err(VendorError::Unavailable(reason)),
        }
    };
    if let Err(e) = &result {
        if let VendorError::Journal(j) = e {
            return Err(journal::Error::Open {
                path: ctx.journal.path().to_path_buf(),
                message: j.to_string(),
            });
        }
        halt.halt(e.halt_reason());
    }
    let reason = halt
        .reason()
        .unwrap_or_else(|| "the connector ended without an outcome for this row".into());
    let done = |index: usize| {
        ctx.jobs
            .finished(index)
            .is_some_and(|f| f.load(Ordering::SeqCst))
    };
    // Rows left without an outcome whose request was sent and not answered: an intent of
    // this run's that the journal still holds (read once, only when a row is left).
    let in_flight: std::collections::HashSet<String> = if ctx.jobs.jobs().all(|(i, _, _)| done(i)) {
        Default::default()
    } else {
        ctx.journal
            .steps(ctx.journal_key())?
            .into_iter()
            .filter(|(_, s)| s.state == StepState::Intent && s.run_id == ctx.run_id)
            .map(|((key, _), _)| key)
            .collect()
    };
    for (index, action, row) in ctx.jobs.jobs() {
        if !done(index) {
            let mut outcome = not_attempted(action, &reason);
            // The job's key is its row's identity key (`plan::work`), found again here
            // rather than kept for every row.
            let key = identity_key(target.vendor, row);
            if key.is_some_and(|k| in_flight.contains(&k)) {
                // Sent, and stopped before the answer was read: the journal keeps its
                // intent, and the next run looks before it sends anything.
                outcome.error = Some(format!(
                    "not attempted: {reason}, with a request in flight; its outcome is unknown, and the next run settles it before sending anything"
                ));
            }
            ctx.finish(index, outcome);
        }
    }
    reporter.finish(&name);
    let c = &ctx.http.counters;
    Ok(TargetStats {
        target: name,
        vendor: Some(target.vendor),
        requests: c.requests.load(Ordering::Relaxed),
        rate_limited: c.rate_limited.load(Ordering::Relaxed),
        retries: c.retries.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        halted: halt
            .reason()
            .filter(|_| result.is_err() || ctx.halted())
            .map(|r| ctx.scrub(&r)),
    })
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a map of notes: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A scrubber of a target's credentials (the user name is no secret).
fn scrubber_of(credentials: &Credentials) -> Scrubber {
    Scrubber::new(credentials.token.iter().chain(&credentials.password))
}

/// What listing a target found (`list_users`).
#[derive(Debug, Clone)]
pub struct Listing {
    /// The platform's users; `None` when the platform cannot be listed (AROBS: `manual`),
    /// or was not asked to be ([`identify_targets`]).
    pub users: Option<Vec<PlatformUser>>,
    /// The account muster is logged in as, as its connector learned at probe
    /// (`Vendor::logged_in_as`).
    pub logged_in_as: Option<String>,
    /// Requests sent (probe and list).
    pub requests: u64,
}

impl From<Listing> for crate::plan::survey::Listed {
    fn from(l: Listing) -> Self {
        crate::plan::survey::Listed {
            users: l.users,
            logged_in_as: l.logged_in_as,
        }
    }
}

/// Probes `target` and lists its users: read-only requests only (`muster audit`, the plan
/// step of `--mode upsert|sync`, `muster apply`). `journal` is only the connector's context
/// (nothing is written to it: a read records no step).
pub async fn list_users(
    target: &Target,
    credentials: Credentials,
    journal: Arc<Journal>,
    want: &vendors::Want,
) -> Result<Listing, VendorError> {
    read_target(target, credentials, journal, Some(want)).await
}

/// Probes `target` (read-only) and, when `list` says what to read, lists its users.
async fn read_target(
    target: &Target,
    credentials: Credentials,
    journal: Arc<Journal>,
    list: Option<&vendors::Want>,
) -> Result<Listing, VendorError> {
    let halt = Arc::new(Halt::new(None));
    let http = Http::new(target, halt)
        .map_err(|e| VendorError::Unavailable(format!("cannot build an HTTP client: {e}")))?;
    let (tx, _rx) = mpsc::unbounded_channel();
    let scrubber = scrubber_of(&credentials);
    let ctx = Ctx {
        scrubber: std::sync::RwLock::new(scrubber.clone()),
        failed: Default::default(),
        failure_budget: None,
        target: target.clone(),
        http,
        run_id: String::new(),
        dry_run: true,
        mode: Mode::Create,
        prune: false,
        journal,
        scoped: Default::default(),
        outcomes: tx,
        jobs: kept::Kept::default(),
        remarks: Default::default(),
        reporter: Arc::new(Silent),
        secrets: None,
    };
    let connector = vendors::connect(target, credentials, &Purpose::Import);
    let hide = |e: VendorError| e.scrubbed(&scrubber);
    connector.probe(&ctx).await.map_err(hide)?;
    let users = match list {
        None => None,
        Some(want) => match connector.list_users(&ctx, want).await {
            Ok(users) => Some(users),
            Err(VendorError::Unsupported(_)) => None,
            Err(e) => return Err(hide(e)),
        },
    };
    Ok(Listing {
        users,
        logged_in_as: connector.logged_in_as(),
        requests: ctx.http.counters.requests.load(Ordering::Relaxed),
    })
}

/// Lists every target (read-only, one after another), each with what its roster's rows
/// want read ([`vendors::Want`]): each target's listing (users `None` where the platform
/// cannot be listed: AROBS), or why it could not be listed.
pub async fn list_targets<'a>(
    targets: impl IntoIterator<Item = (&'a Target, vendors::Want)>,
    credentials: &HashMap<String, Credentials>,
) -> Result<BTreeMap<String, Result<Listing, VendorError>>, journal::Error> {
    read_targets(targets.into_iter().map(|(t, w)| (t, Some(w))), credentials).await
}

/// Probes every target (read-only, one after another) for the account muster is logged in
/// as, without listing users: what protects that account when no listing is made (rows
/// asking to update or delete in `--mode create`).
pub async fn identify_targets<'a>(
    targets: impl IntoIterator<Item = &'a Target>,
    credentials: &HashMap<String, Credentials>,
) -> Result<BTreeMap<String, Result<Listing, VendorError>>, journal::Error> {
    read_targets(targets.into_iter().map(|t| (t, None)), credentials).await
}

async fn read_targets<'a>(
    targets: impl IntoIterator<Item = (&'a Target, Option<vendors::Want>)>,
    credentials: &HashMap<String, Credentials>,
) -> Result<BTreeMap<String, Result<Listing, VendorError>>, journal::Error> {
    // Nothing is journaled by a read: an in-memory journal serves as the connectors' context.
    let journal = Arc::new(Journal::open(std::path::Path::new(":memory:"))?);
    let mut out = BTreeMap::new();
    for (target, want) in targets {
        let creds = credentials.get(&target.name).cloned().unwrap_or_default();
        let listing = read_target(target, creds, journal.clone(), want.as_ref()).await;
        out.insert(target.name.clone(), listing);
    }
    Ok(out)
}

fn not_attempted(action: Action, reason: &str) -> Outcome {
    let mut o = Outcome::new(Status::NotAttempted, action);
    o.error = Some(format!("not attempted: {reason}"));
    o
}
