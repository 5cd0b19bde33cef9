//! The journal: an embedded SQLite file recording every run, every row's outcome, and each
//! step's intent (before its request is sent) and result (after). It is what makes a run
//! killed at any moment safe to start again, and what `muster report` reads.
//!
//! Two kinds of records:
//! - `runs` and `rows`: the history of each run, one line per input row.
//! - `steps`: the ledger of what muster did on each platform, keyed by the platform's
//!   identity (its *scope*: vendor, URL and the account logged in as, see
//!   `submit::scope_of`), the row's identity key and the step (`user`, `link:12`,
//!   `group:ACME`, `app`). It outlives runs: a later run reads it to finish what an earlier
//!   one started. Keyed by scope, not by the target's name: the same name pointed at
//!   another server (or logged in as another account) does not inherit the records of the
//!   first (issue 25, item 2).
//! - `scopes`: the scope each target name was last bound to ([`Journal::bind`]), so what
//!   is read by a target's name (`steps`, `made_by_others`) reads its scope's records.
//!   Journals from before scopes recorded steps under the target's name: the first run
//!   that binds that name adopts them into the scope it binds (see [`Journal::bind`]).
//! - `leases`: which run holds each target now ([`lease`]): one run at a time per target
//!   name, and per scope (two names for the same platform account do not run at once).
//!
//! Never stores a password or token: rows are stored with their password cell blanked.

pub mod lease;
mod pg;
mod sqlite;

pub use pg::PgAt;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::model::{Field, Layout, Outcome, Row, RunInfo, TargetStats};

/// The journal cannot be used: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("journal: {0}")]
    Json(#[from] serde_json::Error),
    #[error("journal: {0}")]
    Lease(String),
    /// The shared database refused or failed (its message, never the password).
    #[error("journal: {0}")]
    Db(String),
    /// Another run took over this run's lease (it stopped renewing it for longer than the
    /// lease lasts): nothing more may be sent to the target.
    #[error(
        "journal: the lease on target {target} was taken over by {by}; this run sends nothing more to it"
    )]
    LeaseLost { target: String, by: String },
}

pub use crate::model::{LedgerStep as Step, StepState};
use lease::{Held, Holder, Taking};

/// A past run, for `muster report --list`.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub info: RunInfo,
    pub finished: bool,
    /// Per-target figures (requests, 429s, …), when the run finished.
    pub stats: Vec<TargetStats>,
    /// (status, count)
    pub counts: Vec<(String, u64)>,
}

/// A row as stored: where it came from and what happened.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub index: usize,
    pub source_file: String,
    pub sheet: String,
    pub line: u32,
    pub target: Option<String>,
    pub vendor: Option<String>,
    pub headers: Vec<String>,
    pub cells: Vec<String>,
    /// `None` when the run stopped before this row had an outcome.
    pub outcome: Option<Outcome>,
}

impl StoredRow {
    /// The layout the row was read with, as far as the journal keeps it: file, sheet and
    /// headers, and the field of each header that is a field's own name (as the columns of
    /// rows made from a platform's users are).
    pub fn layout(&self) -> Layout {
        let stem = Path::new(&self.source_file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Layout {
            file: self.source_file.clone(),
            sheet: self.sheet.clone(),
            is_workbook: self.sheet != stem,
            fields: self
                .headers
                .iter()
                .map(|h| Field::ALL.iter().copied().find(|f| f.name() == h))
                .collect(),
            headers: self.headers.clone(),
            ..Layout::default()
        }
    }

    /// The row with `layout` (this row's [`StoredRow::layout`], perhaps shared with rows
    /// of the same layout), and its outcome.
    pub fn into_row(self, layout: Arc<Layout>) -> (Row, Option<Outcome>) {
        let row = Row {
            index: self.index,
            layout,
            line: self.line,
            cells: self.cells.into(),
            errors: Vec::new(),
        };
        (row, self.outcome)
    }
}

/// A target's step ledger: every step recorded, by (identity key, step name).
pub type Ledger = HashMap<(String, String), Step>;

/// The journal: runs, rows, the step ledger and the leases, in one of two stores with the
/// same guarantees (an intent is committed before its request is sent, an outcome after):
/// the embedded SQLite file (the default) or a shared PostgreSQL database. Cheap to
/// share; each call is one short transaction, except [`Journal::commit`], whose writes
/// may be committed together with other tasks' pending writes (group commit).
pub struct Journal {
    store: Store,
}

/// Where the journal's records live.
enum Store {
    Sqlite(sqlite::Sqlite),
    Postgres(pg::Pg),
}

/// Where the journal is: `--journal`, `MUSTER_JOURNAL` or `journal` in muster.toml
/// (settings decide), a file or a PostgreSQL URL.
#[derive(Debug, Clone)]
pub enum JournalAt {
    File(PathBuf),
    Postgres(PgAt),
}

impl JournalAt {
    /// The file or the URL without its password, for messages.
    pub fn shown(&self) -> String {
        match self {
            JournalAt::File(p) => p.display().to_string(),
            JournalAt::Postgres(at) => at.url.clone(),
        }
    }

    /// The journal's file, when it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            JournalAt::File(p) => Some(p),
            JournalAt::Postgres(_) => None,
        }
    }
}

/// Calls the same method of whichever store the journal has.
macro_rules! on_store {
    ($journal:expr, $s:ident => $call:expr) => {
        match &$journal.store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

/// The leases this journal handle holds: an intent for one of these targets is committed
/// only while the lease is still this holder's (a run that lost its lease sends no more).
#[derive(Debug, Clone)]
struct Fence {
    token: String,
    targets: HashSet<String>,
}

/// The fence after `token` took the leases of `targets`: a holder that takes more leases
/// (a target's scope, once probed) keeps guarding those it took before.
fn fenced(fence: &mut Option<Fence>, token: &str, targets: &[String]) {
    match fence {
        Some(f) if f.token == token => f.targets.extend(targets.iter().cloned()),
        _ => {
            *fence = Some(Fence {
                token: token.to_string(),
                targets: targets.iter().cloned().collect(),
            })
        }
    }
}

impl Fence {
    /// Whether this fence guards `target`.
    fn guards(&self, target: &str) -> bool {
        self.targets.contains(target)
    }
}

/// One change of the step ledger, for [`Journal::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepWrite {
    /// As [`Journal::intent`]: the step's request is about to be sent.
    Intent { key: String, step: String },
    /// As [`Journal::done`]: the platform confirmed the step; `id` is what it made.
    Done {
        key: String,
        step: String,
        id: Option<String>,
    },
    /// As [`Journal::clear`]: the step's request is known to have done nothing.
    Clear { key: String, step: String },
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("at", &self.path()).finish()
    }
}

impl Journal {
    /// Opens (creating if needed) the SQLite journal at `path`, and its folder.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        Ok(Journal {
            store: Store::Sqlite(sqlite::Sqlite::open(path)?),
        })
    }

    /// Opens the journal `at` says: the SQLite file (created if needed) or the shared
    /// PostgreSQL database (its tables created if needed).
    pub fn open_at(at: &JournalAt) -> Result<Journal, Error> {
        Ok(Journal {
            store: match at {
                JournalAt::File(path) => Store::Sqlite(sqlite::Sqlite::open(path)?),
                JournalAt::Postgres(pg) => Store::Postgres(pg::Pg::open(pg)?),
            },
        })
    }

    /// Where the journal is: the file, or the database's URL without its password.
    pub fn path(&self) -> &Path {
        on_store!(self, s => s.path())
    }

    /// Records a plan written by `--plan-only` by the digest of what `apply` acts on.
    pub fn record_plan(&self, digest: &str, made: &str, path: &str) -> Result<(), Error> {
        on_store!(self, s => s.record_plan(digest, made, path))
    }

    /// When the plan with `digest` was recorded, if it was.
    pub fn plan_made(&self, digest: &str) -> Result<Option<String>, Error> {
        on_store!(self, s => s.plan_made(digest))
    }

    /// Records a new run.
    pub fn begin_run(&self, info: &RunInfo, fingerprint: &str) -> Result<(), Error> {
        on_store!(self, s => s.begin_run(info, fingerprint))
    }

    /// The newest unfinished run with this fingerprint (same command, same input files).
    pub fn unfinished_run(&self, fingerprint: &str) -> Result<Option<RunInfo>, Error> {
        on_store!(self, s => s.unfinished_run(fingerprint))
    }

    /// Stores a run's final info and per-target figures. `complete`: every row got a final
    /// outcome; an incomplete run (deadline, halted target) is what the next identical run
    /// resumes.
    pub fn finish_run(
        &self,
        info: &RunInfo,
        stats: &[TargetStats],
        complete: bool,
    ) -> Result<(), Error> {
        on_store!(self, s => s.finish_run(info, stats, complete))
    }

    /// Stores the rows of a run (once, at its start), in one transaction; rows already
    /// stored are kept as they are.
    pub fn record_rows<'a>(
        &self,
        run_id: &str,
        rows: impl Iterator<Item = StoredRowRef<'a>>,
    ) -> Result<(), Error> {
        on_store!(self, s => s.record_rows(run_id, rows))
    }

    /// Stores many rows' outcomes in one transaction.
    pub fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl Iterator<Item = (usize, &'a Outcome)>,
    ) -> Result<(), Error> {
        on_store!(self, s => s.record_outcomes(run_id, outcomes))
    }

    /// The outcomes already recorded for a run, by row index.
    pub fn outcomes(&self, run_id: &str) -> Result<HashMap<usize, Outcome>, Error> {
        on_store!(self, s => s.outcomes(run_id))
    }

    /// Every step recorded for `target`, by (key, step): a scope, or a target's name (then
    /// the scope the name was last bound to, or the records kept under the name by a
    /// journal from before scopes).
    pub fn steps(&self, target: &str) -> Result<Ledger, Error> {
        on_store!(self, s => s.steps(target))
    }

    /// Binds the target `name` to `scope` (the platform's identity this run found at
    /// probe): what is read by the name from now on is the scope's. The first binding of a
    /// name adopts the records a journal from before scopes kept under the name (they were
    /// made through that name, and a run checks each recorded id against the platform's
    /// listing before it uses it). A later binding to another scope adopts nothing: the
    /// previous scope's records stay where they are, and are returned as `previous`.
    pub fn bind(&self, name: &str, scope: &str) -> Result<Bound, Error> {
        on_store!(self, s => s.bind(name, scope))
    }

    /// The scope the target `name` is bound to, if it is (read only: a dry run binds
    /// nothing).
    pub fn binding(&self, name: &str) -> Result<Option<String>, Error> {
        on_store!(self, s => s.binding(name))
    }

    /// The users of `target` that a run other than `run_id` made (their `user` step is
    /// done), by identity key: (that run's id, when it recorded the user). A report says
    /// so of a row it finds already there (issue 26: not "already taken").
    pub fn made_by_others(
        &self,
        target: &str,
        run_id: &str,
    ) -> Result<HashMap<String, (String, String)>, Error> {
        on_store!(self, s => s.made_by_others(target, run_id))
    }

    /// Records that a step's request is about to be sent. Committed before it is sent.
    pub fn intent(&self, run_id: &str, target: &str, key: &str, step: &str) -> Result<(), Error> {
        on_store!(self, s => s.intent(run_id, target, key, step))
    }

    /// Records that a step is done, with the id it made.
    pub fn done(
        &self,
        run_id: &str,
        target: &str,
        key: &str,
        step: &str,
        id: Option<&str>,
    ) -> Result<(), Error> {
        on_store!(self, s => s.done(run_id, target, key, step, id))
    }

    /// Forgets a step whose request is known to have done nothing (refused, not sent).
    pub fn clear(&self, target: &str, key: &str, step: &str) -> Result<(), Error> {
        on_store!(self, s => s.clear(target, key, step))
    }

    /// Commits `writes` (in order, in one transaction) for `target`, possibly together
    /// with other callers' writes pending at the same moment. Returns once they are
    /// committed (an intent is then safe to act on). Never blocks the async runtime's
    /// workers; must be called within a tokio runtime.
    pub async fn commit(
        &self,
        run_id: &str,
        target: &str,
        writes: Vec<StepWrite>,
    ) -> Result<(), Error> {
        on_store!(self, s => s.commit(run_id, target, writes).await)
    }

    /// Past runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunSummary>, Error> {
        on_store!(self, s => s.runs())
    }

    /// The rows of a run in input order.
    pub fn rows(&self, run_id: &str) -> Result<Vec<StoredRow>, Error> {
        on_store!(self, s => s.rows(run_id))
    }

    /// Takes the leases of `targets` for `me`, all or none, in one transaction: a target
    /// is free when no one holds it, `me` holds it, or its holder's lease is expired or
    /// its process is gone ([`lease::standing`]; those are taken over and returned).
    /// Otherwise nothing is taken and the busy targets are returned with their holders.
    /// Once taken, an intent for one of these targets is committed only while the lease
    /// is still `me`'s. Every lease `me` holds then expires with these: a holder's leases
    /// expire together.
    pub fn take_leases(
        &self,
        targets: &[String],
        me: &Holder,
        ttl: std::time::Duration,
    ) -> Result<Taking, Error> {
        on_store!(self, s => s.take_leases(targets, me, ttl))
    }

    /// Renews the leases `token` holds for `ttl` from now; returns the targets it leased
    /// that another run has taken over since.
    pub fn renew_leases(
        &self,
        token: &str,
        ttl: std::time::Duration,
    ) -> Result<Vec<String>, Error> {
        on_store!(self, s => s.renew_leases(token, ttl))
    }

    /// Releases every lease `token` holds.
    pub fn release_leases(&self, token: &str) -> Result<(), Error> {
        on_store!(self, s => s.release_leases(token))
    }

    /// Records the run the leases of `token` are for.
    pub fn lease_run(&self, token: &str, run_id: &str) -> Result<(), Error> {
        on_store!(self, s => s.lease_run(token, run_id))
    }

    /// Everything this journal holds but its leases, for a copy.
    pub fn export(&self) -> Result<Dump, Error> {
        on_store!(self, s => s.export())
    }

    /// Adds `dump` (another journal's history) in one transaction: what this journal
    /// already holds is kept, except that a step it holds as an intent becomes done when
    /// the dump knows it is.
    pub fn import(&self, dump: &Dump) -> Result<Copied, Error> {
        on_store!(self, s => s.import(dump))
    }

    /// A live lease held for the run `run_id` by anyone but `me`, with its target: that
    /// run is still going, and `--resume` must not attach to it.
    pub fn live_lease_of_run(
        &self,
        run_id: &str,
        me: &Holder,
    ) -> Result<Option<(String, Held)>, Error> {
        on_store!(self, s => s.live_lease_of_run(run_id, me))
    }
}

/// What [`Journal::bind`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound {
    /// The scope the name was bound to before, when it was another.
    pub previous: Option<String>,
    /// Steps recorded under the name (a journal from before scopes) adopted into the scope.
    pub adopted: u64,
}

/// A row to store, borrowed from the run's rows.
pub struct StoredRowRef<'a> {
    pub index: usize,
    pub source_file: &'a str,
    pub sheet: &'a str,
    pub line: u32,
    pub target: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub headers: &'a Vec<String>,
    /// Cells with the password blanked.
    pub cells: Vec<&'a str>,
}

/// A journal's whole history as stored, for `muster journal copy`: runs oldest first,
/// their rows, the step ledger and the plans (leases are not history: not copied).
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub runs: Vec<DumpRun>,
    pub rows: Vec<DumpRow>,
    pub steps: Vec<DumpStep>,
    /// (digest, made, path)
    pub plans: Vec<(String, String, String)>,
    /// Target names and the scope each was bound to: (name, scope, when).
    pub scopes: Vec<(String, String, String)>,
}

/// A run as stored (its info and stats are JSON text).
#[derive(Debug, Clone)]
pub struct DumpRun {
    pub id: String,
    pub fingerprint: String,
    pub info: String,
    pub stats: Option<String>,
    pub finished: bool,
}

/// A row as stored (headers, cells and outcome are JSON text).
#[derive(Debug, Clone)]
pub struct DumpRow {
    pub run_id: String,
    pub index: i64,
    pub source_file: String,
    pub sheet: String,
    pub line: i64,
    pub target: Option<String>,
    pub vendor: Option<String>,
    pub headers: String,
    pub cells: String,
    pub status: Option<String>,
    pub outcome: Option<String>,
}

/// A step of the ledger as stored.
#[derive(Debug, Clone)]
pub struct DumpStep {
    pub target: String,
    pub key: String,
    pub step: String,
    /// `intent` or `done`.
    pub state: String,
    pub id: Option<String>,
    pub run_id: String,
    pub updated: String,
}

/// What a copy added: runs, rows, steps and plans the destination did not hold (what it
/// held is kept; an intent it held becomes done when the copy knows it is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub runs: u64,
    pub rows: u64,
    pub steps: u64,
    pub plans: u64,
    /// Target names bound to a platform's identity (issue 25).
    pub scopes: u64,
}

/// A run's summary from its stored text (both stores keep runs as JSON).
fn run_summary(
    info: &str,
    finished: bool,
    stats: Option<&str>,
    counts: Vec<(String, u64)>,
) -> Result<RunSummary, Error> {
    Ok(RunSummary {
        info: serde_json::from_str(info)?,
        finished,
        stats: match stats {
            Some(s) => serde_json::from_str(s)?,
            None => Vec::new(),
        },
        counts,
    })
}

/// A row as both stores keep it: its JSON columns still text.
struct RawRow {
    index: i64,
    source_file: String,
    sheet: String,
    line: u32,
    target: Option<String>,
    vendor: Option<String>,
    headers: String,
    cells: String,
    outcome: Option<String>,
}

impl RawRow {
    fn decode(self) -> Result<StoredRow, Error> {
        Ok(StoredRow {
            index: self.index as usize,
            source_file: self.source_file,
            sheet: self.sheet,
            line: self.line,
            target: self.target,
            vendor: self.vendor,
            headers: serde_json::from_str(&self.headers)?,
            cells: serde_json::from_str(&self.cells)?,
            outcome: match self.outcome {
                Some(o) => Some(serde_json::from_str(&o)?),
                None => None,
            },
        })
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn ttl_ms(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a store inconsistent: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::lease::Standing;
    use super::*;
    use crate::model::{Action, Status};
    use rusqlite::Connection;

    /// Runs starting together open a new journal together: each open succeeds (SQLite
    /// fails one of two connections switching a new file to WAL at once with "database is
    /// locked" rather than waiting, to avoid a deadlock; the open tries again).
    #[test]
    fn runs_opening_a_new_journal_together_all_open_it() {
        for round in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("j.db");
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        Journal::open(&path).map(|_| ())
                    })
                })
                .collect();
            for open in opens {
                let opened = open.join().unwrap();
                assert!(opened.is_ok(), "round {round}: {:?}", opened.err());
            }
        }
    }

    fn info(id: &str) -> RunInfo {
        RunInfo {
            run_id: id.into(),
            command: "import".into(),
            command_line: "muster import x.csv".into(),
            started: chrono::Utc::now(),
            ended: None,
            dry_run: false,
            version: "0".into(),
            inputs: vec![],
            skipped_sheets: vec![],
        }
    }

    #[test]
    fn steps_survive_reopening_and_done_is_never_downgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        {
            let j = Journal::open(&path).unwrap();
            j.intent("r1", "t", "a@x", "user").unwrap();
            j.done("r1", "t", "a@x", "user", Some("42")).unwrap();
            // A stale intent after done must not hide the id.
            j.intent("r2", "t", "a@x", "user").unwrap();
            j.intent("r1", "t", "b@x", "user").unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let steps = j.steps("t").unwrap();
        let a = &steps[&("a@x".to_string(), "user".to_string())];
        assert_eq!(a.state, StepState::Done);
        assert_eq!(a.id.as_deref(), Some("42"));
        let b = &steps[&("b@x".to_string(), "user".to_string())];
        assert_eq!(b.state, StepState::Intent);
        j.clear("t", "b@x", "user").unwrap();
        assert_eq!(j.steps("t").unwrap().len(), 1);
    }

    #[test]
    fn a_foreign_database_is_refused_before_anything_is_written_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("theirs.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Journal::open(&path).unwrap_err().to_string();
        assert!(err.contains("not a muster journal"), "{err}");
        assert!(err.contains("invoices"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is as it was"
        );
        assert!(!dir.path().join("theirs.db-wal").exists());
        // A file that is no database at all.
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not sqlite at all, not even close\n").unwrap();
        assert!(Journal::open(&text).is_err());
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "hello, this is not sqlite at all, not even close\n"
        );
        // A journal of its own reopens.
        let ours = dir.path().join("j.db");
        Journal::open(&ours)
            .unwrap()
            .record_plan("d", "now", "p.xlsx")
            .unwrap();
        assert_eq!(
            Journal::open(&ours)
                .unwrap()
                .plan_made("d")
                .unwrap()
                .as_deref(),
            Some("now")
        );
    }

    fn write(kind: &str, key: &str, step: &str, id: Option<&str>) -> StepWrite {
        let (key, step) = (key.to_string(), step.to_string());
        match kind {
            "intent" => StepWrite::Intent { key, step },
            "done" => StepWrite::Done {
                key,
                step,
                id: id.map(str::to_string),
            },
            _ => StepWrite::Clear { key, step },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commits_keep_each_callers_writes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let j = Arc::new(Journal::open(&path).unwrap());
        // Many callers at once share commits; each caller's writes apply in its order.
        let mut tasks = Vec::new();
        for i in 0..64 {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("u{i}@x");
                let id = i.to_string();
                j.commit("r1", "t", vec![write("intent", &key, "user", None)])
                    .await
                    .unwrap();
                let writes = match i % 4 {
                    // done, then a stale intent: done stays
                    0 => vec![
                        write("done", &key, "user", Some(&id)),
                        write("intent", &key, "user", None),
                    ],
                    // refused: the intent is forgotten
                    1 => vec![write("clear", &key, "user", None)],
                    // user and complete in one commit
                    _ => vec![
                        write("done", &key, "user", Some(&id)),
                        write("done", &key, "complete", Some(&id)),
                    ],
                };
                j.commit("r1", "t", writes).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Read back through another connection: the commits are in the file.
        let steps = Journal::open(&path).unwrap().steps("t").unwrap();
        for i in 0..64 {
            let key = format!("u{i}@x");
            let user = steps.get(&(key.clone(), "user".to_string()));
            let complete = steps.get(&(key.clone(), "complete".to_string()));
            match i % 4 {
                0 => {
                    let user = user.unwrap();
                    assert_eq!(
                        (user.state, user.id.clone()),
                        (StepState::Done, Some(i.to_string()))
                    );
                    assert!(complete.is_none());
                }
                1 => assert!(user.is_none() && complete.is_none(), "{key}"),
                _ => {
                    assert_eq!(user.unwrap().state, StepState::Done, "{key}");
                    assert_eq!(complete.unwrap().id, Some(i.to_string()), "{key}");
                }
            }
        }
    }

    #[tokio::test]
    async fn group_commit_works_on_a_current_thread_runtime_and_after_a_blocking_write() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.db")).unwrap();
        j.intent("r1", "t", "a@x", "user").unwrap();
        j.commit("r1", "t", vec![write("done", "a@x", "user", Some("7"))])
            .await
            .unwrap();
        j.done("r1", "t", "a@x", "complete", Some("7")).unwrap();
        let steps = j.steps("t").unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[&("a@x".to_string(), "user".to_string())]
                .id
                .as_deref(),
            Some("7")
        );
    }

    #[test]
    fn a_copy_carries_and_counts_the_names_bindings_once() {
        let dir = tempfile::tempdir().unwrap();
        let from = Journal::open(&dir.path().join("a.db")).unwrap();
        from.done("r1", "fleet", "a@x", "user", Some("1000"))
            .unwrap();
        from.bind("fleet", "traccar https://a.test/api as boss")
            .unwrap();
        let to = Journal::open(&dir.path().join("b.db")).unwrap();
        let dump = from.export().unwrap();
        assert_eq!(dump.scopes.len(), 1);
        let copied = to.import(&dump).unwrap();
        assert_eq!((copied.steps, copied.scopes), (1, 1));
        assert_eq!(
            to.binding("fleet").unwrap().as_deref(),
            Some("traccar https://a.test/api as boss")
        );
        let again = to.import(&dump).unwrap();
        assert_eq!((again.steps, again.scopes), (0, 0), "held already");
    }

    #[test]
    fn a_name_reads_its_scope_and_the_first_binding_adopts_the_names_old_records() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.db")).unwrap();
        let key = |k: &str| (k.to_string(), "user".to_string());
        // A journal from before scopes: records under the target's name.
        j.done("r1", "fleet", "a@x", "user", Some("1000")).unwrap();
        assert_eq!(
            j.steps("fleet").unwrap()[&key("a@x")].id.as_deref(),
            Some("1000")
        );
        // The first binding adopts them: read by the name or by the scope, and only once.
        let bound = j
            .bind("fleet", "traccar https://a.test/api as boss")
            .unwrap();
        assert_eq!(
            bound,
            Bound {
                previous: None,
                adopted: 1
            }
        );
        for by in ["fleet", "traccar https://a.test/api as boss"] {
            assert_eq!(
                j.steps(by).unwrap()[&key("a@x")].id.as_deref(),
                Some("1000"),
                "{by}"
            );
        }
        assert_eq!(
            j.bind("fleet", "traccar https://a.test/api as boss")
                .unwrap(),
            Bound::default()
        );
        // The name pointed elsewhere: it reads the other scope's records (none), and says
        // which scope it read before; the first scope keeps its own.
        let bound = j
            .bind("fleet", "traccar https://b.test/api as boss")
            .unwrap();
        assert_eq!(
            bound,
            Bound {
                previous: Some("traccar https://a.test/api as boss".into()),
                adopted: 0
            }
        );
        assert!(j.steps("fleet").unwrap().is_empty());
        assert!(j.made_by_others("fleet", "r9").unwrap().is_empty());
        assert_eq!(
            j.steps("traccar https://a.test/api as boss").unwrap().len(),
            1
        );
        // A record written under the name now (an older muster sharing the file) is not
        // adopted by a later binding: that name was bound already.
        j.done("r2", "fleet", "b@x", "user", Some("5")).unwrap();
        assert_eq!(
            j.bind("fleet", "traccar https://b.test/api as boss")
                .unwrap()
                .adopted,
            0
        );
    }

    #[test]
    fn leases_taken_later_with_the_same_token_are_fenced_with_the_first() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let a = Journal::open(&path).unwrap();
        let ra = holder("run-a", "ops-1");
        let long = Duration::from_secs(60);
        a.take_leases(&["fleet".to_string()], &ra, long).unwrap();
        a.take_leases(&["scope-1".to_string()], &ra, long).unwrap();
        a.intent("run-a", "scope-1", "k", "user").unwrap();
        // Both expire and are taken over: neither takes an intent from a any more.
        a.renew_leases(&ra.token, Duration::ZERO).unwrap();
        let rb = holder("run-b", "ops-2");
        let b = Journal::open(&path).unwrap();
        let both = ["fleet".to_string(), "scope-1".to_string()];
        assert!(matches!(
            b.take_leases(&both, &rb, long).unwrap(),
            Taking::Taken(_)
        ));
        for target in &both {
            let err = a.intent("run-a", target, "k2", "user").unwrap_err();
            assert!(matches!(err, Error::LeaseLost { .. }), "{target}: {err}");
        }
        assert_eq!(a.renew_leases(&ra.token, long).unwrap(), both.to_vec());
    }

    #[test]
    fn a_holder_s_leases_expire_together_so_its_run_is_taken_over_whole() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let a = Journal::open(&path).unwrap();
        let ra = holder("run-a", "ops-1");
        let long = Duration::from_secs(60);
        // The run's target name, whose lease would have expired by now, then its scope,
        // once probed: the name's lease lasts as long as the scope's.
        a.take_leases(&["fleet".to_string()], &ra, Duration::ZERO)
            .unwrap();
        a.take_leases(&["scope-1".to_string()], &ra, long).unwrap();
        let b = Journal::open(&path).unwrap();
        let rb = holder("run-b", "ops-2");
        match b.take_leases(&["fleet".to_string()], &rb, long).unwrap() {
            Taking::Busy(busy) => assert_eq!(busy[0].1.holder.run_id, "run-a"),
            other => panic!("{other:?}"),
        }
        // Once a stops renewing, both are free: the run it took over is not still live.
        a.renew_leases(&ra.token, Duration::ZERO).unwrap();
        assert!(matches!(
            b.take_leases(&["fleet".to_string()], &rb, long).unwrap(),
            Taking::Taken(over) if over.len() == 1
        ));
        assert_eq!(b.live_lease_of_run("run-a", &rb).unwrap(), None);
    }

    fn holder(run: &str, host: &str) -> Holder {
        let mut h = Holder::me(run);
        h.host = host.into();
        h
    }

    #[test]
    fn leases_are_taken_all_or_none_and_taken_over_once_expired() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let a = Journal::open(&path).unwrap();
        let b = Journal::open(&path).unwrap();
        let (ra, rb) = (holder("run-a", "ops-1"), holder("run-b", "ops-2"));
        let both = ["motive".to_string(), "pegasus".to_string()];
        let long = Duration::from_secs(60);
        assert!(matches!(
            a.take_leases(&both[1..], &ra, long).unwrap(),
            Taking::Taken(over) if over.is_empty()
        ));
        // b needs both; pegasus is busy, so b takes neither.
        match b.take_leases(&both, &rb, long).unwrap() {
            Taking::Busy(busy) => {
                assert_eq!(busy.len(), 1);
                assert_eq!(busy[0].0, "pegasus");
                assert_eq!(busy[0].1.holder.run_id, "run-a");
                assert_eq!(busy[0].1.holder.host, "ops-1");
            }
            other => panic!("{other:?}"),
        }
        let c = holder("run-c", "ops-3");
        assert!(matches!(
            b.take_leases(&both[..1], &c, long).unwrap(),
            Taking::Taken(_)
        ));
        b.release_leases(&c.token).unwrap();
        // a stops renewing: once its lease expired, b takes it over and says from whom.
        a.renew_leases(&ra.token, Duration::ZERO).unwrap();
        match b.take_leases(&both, &rb, long).unwrap() {
            Taking::Taken(over) => {
                assert_eq!(over.len(), 1);
                assert_eq!(over[0].target, "pegasus");
                assert_eq!(over[0].why, Standing::Expired);
            }
            other => panic!("{other:?}"),
        }
        // a may record what it already sent, but no new intent for pegasus.
        a.done("run-a", "pegasus", "u1", "user", Some("1")).unwrap();
        let err = a.intent("run-a", "pegasus", "u2", "user").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "journal: the lease on target pegasus was taken over by run run-b (pid"
            ),
            "{err}"
        );
        assert_eq!(a.renew_leases(&ra.token, long).unwrap(), vec!["pegasus"]);
        // b's own intents go through; released, the targets are free for a again.
        b.intent("run-b", "pegasus", "u2", "user").unwrap();
        b.release_leases(&rb.token).unwrap();
        assert!(matches!(
            a.take_leases(&both, &ra, long).unwrap(),
            Taking::Taken(over) if over.is_empty()
        ));
    }

    #[tokio::test]
    async fn a_group_committed_intent_is_refused_once_the_lease_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let a = Journal::open(&path).unwrap();
        let ra = holder("run-a", "ops-1");
        let long = std::time::Duration::from_secs(60);
        a.take_leases(&["t".to_string()], &ra, long).unwrap();
        a.commit("run-a", "t", vec![write("intent", "k1", "user", None)])
            .await
            .unwrap();
        a.renew_leases(&ra.token, std::time::Duration::ZERO)
            .unwrap();
        let rb = holder("run-b", "ops-2");
        Journal::open(&path)
            .unwrap()
            .take_leases(&["t".to_string()], &rb, long)
            .unwrap();
        let err = a
            .commit("run-a", "t", vec![write("intent", "k2", "user", None)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LeaseLost { .. }), "{err}");
        // Outcomes of what was sent are still recorded.
        a.commit("run-a", "t", vec![write("done", "k1", "user", Some("9"))])
            .await
            .unwrap();
        let steps = a.steps("t").unwrap();
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn unfinished_run_is_found_by_fingerprint_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.db")).unwrap();
        j.begin_run(&info("run-1"), "fp").unwrap();
        assert_eq!(j.unfinished_run("fp").unwrap().unwrap().run_id, "run-1");
        assert!(j.unfinished_run("other").unwrap().is_none());
        let headers = vec!["email".to_string()];
        j.record_rows(
            "run-1",
            [StoredRowRef {
                index: 0,
                source_file: "x.csv",
                sheet: "x",
                line: 2,
                target: Some("t"),
                vendor: Some("traccar"),
                headers: &headers,
                cells: vec!["a@x"],
            }]
            .into_iter(),
        )
        .unwrap();
        let o = Outcome::new(Status::Created, Action::Create);
        j.record_outcomes("run-1", [(0usize, &o)].into_iter())
            .unwrap();
        assert_eq!(j.outcomes("run-1").unwrap()[&0].status, Status::Created);
        j.finish_run(&info("run-1"), &[], true).unwrap();
        assert!(j.unfinished_run("fp").unwrap().is_none());
        let runs = j.runs().unwrap();
        assert_eq!(runs[0].counts, vec![("created".to_string(), 1)]);
        assert_eq!(j.rows("run-1").unwrap()[0].cells, vec!["a@x"]);
    }
}
