//! The journal in an embedded SQLite file (the default): one connection behind a mutex,
//! WAL, each call one short transaction, intents and outcomes group-committed from a
//! blocking thread ([`Sqlite::commit`]). Leases live in its `leases` table; the file is on
//! this machine, so this machine's clock is the leases' clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::lease::{self, Held, Holder, Standing, Taking};
use super::{
    Bound, Copied, Dump, DumpRow, DumpRun, DumpStep, Error, Fence, Ledger, RawRow, RunSummary,
    Step, StepState, StepWrite, StoredRow, StoredRowRef, fenced, lock, now, run_summary, ttl_ms,
};
use crate::model::{Outcome, RunInfo, TargetStats};

/// The SQLite journal.
pub(super) struct Sqlite {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    group: Arc<Mutex<Group>>,
    fence: Arc<Mutex<Option<Fence>>>,
}

/// Writes waiting for the group commit, and whether a committer is draining them.
#[derive(Default)]
struct Group {
    pending: Vec<Pending>,
    committing: bool,
}

/// One caller's writes and where its result goes.
struct Pending {
    run_id: String,
    target: String,
    writes: Vec<StepWrite>,
    reply: oneshot::Sender<Result<(), Error>>,
}

/// Most callers' writes committed in one transaction (bounds the time a waiter waits).
const GROUP_MAX: usize = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    info TEXT NOT NULL,
    stats TEXT,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rows (
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    source_file TEXT NOT NULL,
    sheet TEXT NOT NULL,
    line INTEGER NOT NULL,
    target TEXT,
    vendor TEXT,
    headers TEXT NOT NULL,
    cells TEXT NOT NULL,
    status TEXT,
    outcome TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS steps (
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    id TEXT,
    run_id TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (target, key, step)
);
CREATE TABLE IF NOT EXISTS plans (
    digest TEXT PRIMARY KEY,
    made TEXT NOT NULL,
    path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    name TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    target TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since TEXT NOT NULL,
    expires INTEGER NOT NULL
);
";

/// The tables a muster journal holds; a database with any other table is not one.
const TABLES: [&str; 6] = ["runs", "rows", "steps", "plans", "scopes", "leases"];

/// The steps' `target` that `?1` (a scope, or a target's name) reads: a name reads the scope
/// it was last bound to; an unbound name, the records a journal from before scopes kept
/// under it.
const RESOLVED: &str = "COALESCE((SELECT scope FROM scopes WHERE name = ?1), ?1)";

/// The tables of `conn` that are not a muster journal's (empty for a new file). A file
/// that is not a database at all fails here, before anything is written.
fn foreign_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut foreign = Vec::new();
    for name in names {
        let name = name?;
        if !TABLES.contains(&name.as_str()) && !name.starts_with("sqlite_") {
            foreign.push(name);
        }
    }
    Ok(foreign)
}

/// How long opening a journal tries again while SQLite says it is busy.
const OPEN_BUSY_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `f` again while SQLite says the database is busy or locked, for up to
/// [`OPEN_BUSY_FOR`]. Runs that start together open the journal together: switching a new
/// file to WAL, one connection's read lock can stand in the way of another's switch, and
/// SQLite then fails one of them at once ("database is locked") instead of waiting, to
/// avoid a deadlock; its busy timeout does not apply. Trying again after the other's switch
/// is done succeeds.
fn patiently<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < OPEN_BUSY_FOR =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Sqlite {
    /// Opens (creating if needed) the journal at `path`, and its folder.
    pub(super) fn open(path: &Path) -> Result<Sqlite, Error> {
        let open_err = |message: String| Error::Open {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create folder: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        // First: two runs starting together both open the file, and switching it to WAL
        // or creating the tables waits for the other's lock instead of failing with
        // "database is locked" (issue 26).
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        // Before anything is written (even the WAL switch changes the file): a database
        // that holds tables of its own is someone else's.
        let foreign = patiently(|| foreign_tables(&conn))
            .map_err(|e| open_err(format!("not a muster journal: {e}")))?;
        if !foreign.is_empty() {
            return Err(open_err(format!(
                "not a muster journal: it holds other tables ({}); nothing was written to it",
                foreign.join(", ")
            )));
        }
        // WAL + NORMAL: a committed transaction survives the process being killed.
        patiently(|| conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(|e| open_err(e.to_string()))?;
        patiently(|| conn.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(|e| open_err(e.to_string()))?;
        patiently(|| conn.execute_batch(SCHEMA))
            .map_err(|e| open_err(format!("not a muster journal: {e}")))?;
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            group: Arc::new(Mutex::new(Group::default())),
            fence: Arc::new(Mutex::new(None)),
        })
    }

    /// Records a plan written by `--plan-only` by the digest of what `apply` acts on.
    pub(super) fn record_plan(&self, digest: &str, made: &str, path: &str) -> Result<(), Error> {
        self.conn().execute(
            "INSERT OR REPLACE INTO plans (digest, made, path) VALUES (?1, ?2, ?3)",
            params![digest, made, path],
        )?;
        Ok(())
    }

    /// When the plan with `digest` was recorded, if it was.
    pub(super) fn plan_made(&self, digest: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT made FROM plans WHERE digest = ?1",
                params![digest],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Records a new run.
    pub(super) fn begin_run(&self, info: &RunInfo, fingerprint: &str) -> Result<(), Error> {
        self.conn().execute(
            "INSERT INTO runs (id, fingerprint, info, finished) VALUES (?1, ?2, ?3, 0)",
            params![info.run_id, fingerprint, serde_json::to_string(info)?],
        )?;
        Ok(())
    }

    /// The newest unfinished run with this fingerprint (same command, same input files).
    pub(super) fn unfinished_run(&self, fingerprint: &str) -> Result<Option<RunInfo>, Error> {
        let info: Option<String> = self
            .conn()
            .query_row(
                "SELECT info FROM runs WHERE fingerprint = ?1 AND finished = 0 ORDER BY rowid DESC LIMIT 1",
                params![fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match info {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    /// Stores a run's final info and per-target figures. `complete`: every row got a final
    /// outcome; an incomplete run (deadline, halted target) is what the next identical run
    /// resumes.
    pub(super) fn finish_run(
        &self,
        info: &RunInfo,
        stats: &[TargetStats],
        complete: bool,
    ) -> Result<(), Error> {
        self.conn().execute(
            "UPDATE runs SET finished = ?4, info = ?2, stats = ?3 WHERE id = ?1",
            params![
                info.run_id,
                serde_json::to_string(info)?,
                serde_json::to_string(stats)?,
                complete
            ],
        )?;
        Ok(())
    }

    /// Stores the rows of a run (once, at its start), in one transaction.
    pub(super) fn record_rows<'a>(
        &self,
        run_id: &str,
        rows: impl Iterator<Item = StoredRowRef<'a>>,
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO rows (run_id, idx, source_file, sheet, line, target, vendor, headers, cells)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut last_headers: Option<(*const Vec<String>, String)> = None;
            for r in rows {
                let ptr = r.headers as *const Vec<String>;
                let headers = match &last_headers {
                    Some((p, json)) if *p == ptr => json.clone(),
                    _ => {
                        let json = serde_json::to_string(r.headers)?;
                        last_headers = Some((ptr, json.clone()));
                        json
                    }
                };
                stmt.execute(params![
                    run_id,
                    r.index as i64,
                    r.source_file,
                    r.sheet,
                    r.line,
                    r.target,
                    r.vendor,
                    headers,
                    serde_json::to_string(&r.cells)?,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores many rows' outcomes in one transaction.
    pub(super) fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl Iterator<Item = (usize, &'a Outcome)>,
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE rows SET status = ?3, outcome = ?4 WHERE run_id = ?1 AND idx = ?2",
            )?;
            for (idx, o) in outcomes {
                stmt.execute(params![
                    run_id,
                    idx as i64,
                    o.status.key(),
                    serde_json::to_string(o)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The outcomes already recorded for a run, by row index.
    pub(super) fn outcomes(&self, run_id: &str) -> Result<HashMap<usize, Outcome>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT idx, outcome FROM rows WHERE run_id = ?1 AND outcome IS NOT NULL")?;
        let mut out = HashMap::new();
        let rows = stmt.query_map(params![run_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (idx, json) = row?;
            out.insert(idx as usize, serde_json::from_str(&json)?);
        }
        Ok(out)
    }

    /// Every step recorded for `target`, by (key, step).
    pub(super) fn steps(&self, target: &str) -> Result<Ledger, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT key, step, state, id, run_id FROM steps WHERE target = {RESOLVED}"
        ))?;
        let rows = stmt.query_map(params![target], |r| {
            let state: String = r.get(2)?;
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                Step {
                    state: if state == "done" {
                        StepState::Done
                    } else {
                        StepState::Intent
                    },
                    id: r.get(3)?,
                    run_id: r.get(4)?,
                },
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (k, v) = row?;
            out.insert(k, v);
        }
        Ok(out)
    }

    /// The users of `target` that a run other than `run_id` made (their `user` step is
    /// done), by identity key: (that run's id, when it recorded the user). A report says
    /// so of a row it finds already there (issue 26: not "already taken").
    pub(super) fn made_by_others(
        &self,
        target: &str,
        run_id: &str,
    ) -> Result<HashMap<String, (String, String)>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT key, run_id, updated FROM steps
             WHERE target = {RESOLVED} AND step = 'user' AND state = 'done' AND run_id != ?2"
        ))?;
        let rows = stmt.query_map(params![target, run_id], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// See [`super::Journal::binding`].
    pub(super) fn binding(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT scope FROM scopes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// See [`super::Journal::bind`].
    pub(super) fn bind(&self, name: &str, scope: &str) -> Result<Bound, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before: Option<String> = tx
            .query_row(
                "SELECT scope FROM scopes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let mut adopted = 0;
        if before.is_none() {
            // A record the scope already holds (made through another name) stands.
            adopted = tx.execute(
                "INSERT OR IGNORE INTO steps (target, key, step, state, id, run_id, updated)
                 SELECT ?2, key, step, state, id, run_id, updated FROM steps WHERE target = ?1",
                params![name, scope],
            )? as u64;
            tx.execute("DELETE FROM steps WHERE target = ?1", params![name])?;
        }
        tx.execute(
            "INSERT INTO scopes (name, scope, seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET scope = ?2, seen = ?3",
            params![name, scope, now()],
        )?;
        tx.commit()?;
        Ok(Bound {
            previous: before.filter(|b| b != scope),
            adopted,
        })
    }

    /// Records that a step's request is about to be sent. Committed before it is sent.
    pub(super) fn intent(
        &self,
        run_id: &str,
        target: &str,
        key: &str,
        step: &str,
    ) -> Result<(), Error> {
        let conn = self.conn();
        let fence = lock(&self.fence).clone();
        check_fence(&conn, fence.as_ref(), target)?;
        put_intent(&conn, run_id, target, key, step, &now())
    }

    /// Records that a step is done, with the id it made.
    pub(super) fn done(
        &self,
        run_id: &str,
        target: &str,
        key: &str,
        step: &str,
        id: Option<&str>,
    ) -> Result<(), Error> {
        let conn = self.conn();
        put_done(&conn, run_id, target, key, step, id, &now())
    }

    /// Forgets a step whose request is known to have done nothing (refused, not sent).
    pub(super) fn clear(&self, target: &str, key: &str, step: &str) -> Result<(), Error> {
        let conn = self.conn();
        put_clear(&conn, target, key, step)
    }

    /// Commits `writes` (in order, in one transaction) for `target`, together with every
    /// other caller's writes pending at the same moment: one commit for many rows instead
    /// of one per row. Returns once they are committed (an intent is then safe to act on).
    /// The commit runs on a blocking thread (`spawn_blocking`), never on the async
    /// runtime's workers; must be called within a tokio runtime.
    pub(super) async fn commit(
        &self,
        run_id: &str,
        target: &str,
        writes: Vec<StepWrite>,
    ) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut group = lock(&self.group);
            group.pending.push(Pending {
                run_id: run_id.to_string(),
                target: target.to_string(),
                writes,
                reply,
            });
            !std::mem::replace(&mut group.committing, true)
        };
        if start {
            let (conn, group, fence) = (self.conn.clone(), self.group.clone(), self.fence.clone());
            // The committer drains the queue until it finds it empty; whoever queues while
            // it commits is in its next transaction. Its result reaches every waiter through
            // its channel, so the join handle is not needed.
            drop(tokio::task::spawn_blocking(move || {
                drain(&conn, &group, &fence)
            }));
        }
        match answer.await {
            Ok(result) => result,
            // The committer ended without answering: only a panic in SQLite does that.
            Err(_) => Err(Error::Open {
                path: self.path.clone(),
                message: "the journal's writer stopped before committing".into(),
            }),
        }
    }

    /// Past runs, newest first.
    pub(super) fn runs(&self) -> Result<Vec<RunSummary>, Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, info, finished, stats FROM runs ORDER BY rowid DESC")?;
        let runs: Vec<(String, String, bool, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut counts_stmt = conn.prepare(
            "SELECT COALESCE(status, 'unknown'), COUNT(*) FROM rows WHERE run_id = ?1 GROUP BY 1 ORDER BY 1",
        )?;
        let mut out = Vec::new();
        for (id, info, finished, stats) in runs {
            let counts = counts_stmt
                .query_map(params![id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?;
            out.push(run_summary(&info, finished, stats.as_deref(), counts)?);
        }
        Ok(out)
    }

    /// Takes the leases of `targets` for `me`, all or none, in one transaction: a target
    /// is free when no one holds it, `me` holds it, or its holder's lease is expired or
    /// its process is gone ([`lease::standing`]; those are taken over and returned).
    /// Otherwise nothing is taken and the busy targets are returned with their holders.
    pub(super) fn take_leases(
        &self,
        targets: &[String],
        me: &Holder,
        ttl: std::time::Duration,
    ) -> Result<Taking, Error> {
        let mut conn = self.conn();
        // IMMEDIATE: the write lock from the start, so two runs reading "free" at once
        // cannot both take it (a deferred read-then-write would fail instead of waiting).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = clock_ms();
        let held = targets
            .iter()
            .map(|t| Ok((t.clone(), held_lease(&tx, t)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let over = match lease::sort_out(held, me, now) {
            Ok(over) => over,
            Err(busy) => return Ok(Taking::Busy(busy)),
        };
        let expires = now.saturating_add(ttl_ms(ttl));
        for target in targets {
            tx.prepare_cached(
                "INSERT INTO leases (target, token, run_id, pid, host, since, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (target) DO UPDATE SET token = ?2, run_id = ?3, pid = ?4,
                     host = ?5, since = ?6, expires = ?7",
            )?
            .execute(params![
                target, me.token, me.run_id, me.pid, me.host, me.since, expires
            ])?;
        }
        // A holder's leases expire together: one taken later (a target's scope, once
        // probed) must not outlive the others, or a run that took over one would find the
        // stalled holder's run still live by another.
        tx.prepare_cached("UPDATE leases SET expires = ?2 WHERE token = ?1")?
            .execute(params![me.token, expires])?;
        tx.commit()?;
        fenced(&mut lock(&self.fence), &me.token, targets);
        Ok(Taking::Taken(over))
    }

    /// Renews the leases `token` holds for `ttl` from now; returns the targets it leased
    /// that another run has taken over since.
    pub(super) fn renew_leases(
        &self,
        token: &str,
        ttl: std::time::Duration,
    ) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let expires = clock_ms().saturating_add(ttl_ms(ttl));
        conn.prepare_cached("UPDATE leases SET expires = ?2 WHERE token = ?1")?
            .execute(params![token, expires])?;
        let fence = lock(&self.fence).clone();
        let mut lost = Vec::new();
        if let Some(f) = fence.filter(|f| f.token == token) {
            for target in &f.targets {
                if held_lease(&conn, target)?.is_none_or(|h| h.holder.token != token) {
                    lost.push(target.clone());
                }
            }
        }
        lost.sort();
        Ok(lost)
    }

    /// Releases every lease `token` holds.
    pub(super) fn release_leases(&self, token: &str) -> Result<(), Error> {
        self.conn()
            .prepare_cached("DELETE FROM leases WHERE token = ?1")?
            .execute(params![token])?;
        let mut fence = lock(&self.fence);
        if fence.as_ref().is_some_and(|f| f.token == token) {
            *fence = None;
        }
        Ok(())
    }

    /// Records the run the leases of `token` are for.
    pub(super) fn lease_run(&self, token: &str, run_id: &str) -> Result<(), Error> {
        self.conn()
            .prepare_cached("UPDATE leases SET run_id = ?2 WHERE token = ?1")?
            .execute(params![token, run_id])?;
        Ok(())
    }

    /// A live lease held for the run `run_id` by anyone but `token`, with its target: that
    /// run is still going, and `--resume` must not attach to it.
    pub(super) fn live_lease_of_run(
        &self,
        run_id: &str,
        me: &Holder,
    ) -> Result<Option<(String, Held)>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT target FROM leases WHERE run_id = ?1 AND token != ?2 ORDER BY target",
        )?;
        let targets: Vec<String> = stmt
            .query_map(params![run_id, me.token], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let now = clock_ms();
        for target in targets {
            if let Some(held) = held_lease(&conn, &target)?
                && lease::standing(&held, me, now) == Standing::Live
            {
                return Ok(Some((target, held)));
            }
        }
        Ok(None)
    }

    /// The rows of a run in input order.
    pub(super) fn export(&self) -> Result<Dump, Error> {
        let conn = self.conn();
        let runs = conn
            .prepare("SELECT id, fingerprint, info, stats, finished FROM runs ORDER BY rowid")?
            .query_map([], |r| {
                Ok(DumpRun {
                    id: r.get(0)?,
                    fingerprint: r.get(1)?,
                    info: r.get(2)?,
                    stats: r.get(3)?,
                    finished: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let rows = conn
            .prepare(
                "SELECT run_id, idx, source_file, sheet, line, target, vendor, headers, cells, status, outcome
                 FROM rows ORDER BY run_id, idx",
            )?
            .query_map([], |r| {
                Ok(DumpRow {
                    run_id: r.get(0)?,
                    index: r.get(1)?,
                    source_file: r.get(2)?,
                    sheet: r.get(3)?,
                    line: r.get(4)?,
                    target: r.get(5)?,
                    vendor: r.get(6)?,
                    headers: r.get(7)?,
                    cells: r.get(8)?,
                    status: r.get(9)?,
                    outcome: r.get(10)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let steps = conn
            .prepare("SELECT target, key, step, state, id, run_id, updated FROM steps")?
            .query_map([], |r| {
                Ok(DumpStep {
                    target: r.get(0)?,
                    key: r.get(1)?,
                    step: r.get(2)?,
                    state: r.get(3)?,
                    id: r.get(4)?,
                    run_id: r.get(5)?,
                    updated: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let plans = conn
            .prepare("SELECT digest, made, path FROM plans")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let scopes = conn
            .prepare("SELECT name, scope, seen FROM scopes")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(Dump {
            runs,
            rows,
            steps,
            plans,
            scopes,
        })
    }

    pub(super) fn import(&self, dump: &Dump) -> Result<Copied, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut copied = Copied::default();
        for r in &dump.runs {
            copied.runs += tx.execute(
                "INSERT OR IGNORE INTO runs (id, fingerprint, info, stats, finished) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.id, r.fingerprint, r.info, r.stats, r.finished],
            )? as u64;
        }
        for r in &dump.rows {
            copied.rows += tx.execute(
                "INSERT OR IGNORE INTO rows (run_id, idx, source_file, sheet, line, target, vendor, headers, cells, status, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    r.run_id, r.index, r.source_file, r.sheet, r.line, r.target, r.vendor,
                    r.headers, r.cells, r.status, r.outcome
                ],
            )? as u64;
        }
        for st in &dump.steps {
            copied.steps += tx.execute(
                "INSERT INTO steps (target, key, step, state, id, run_id, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (target, key, step) DO UPDATE SET state = ?4, id = ?5, run_id = ?6, updated = ?7
                 WHERE steps.state = 'intent' AND ?4 = 'done'",
                params![st.target, st.key, st.step, st.state, st.id, st.run_id, st.updated],
            )? as u64;
        }
        for (digest, made, path) in &dump.plans {
            copied.plans += tx.execute(
                "INSERT OR IGNORE INTO plans (digest, made, path) VALUES (?1, ?2, ?3)",
                params![digest, made, path],
            )? as u64;
        }
        // A name this journal binds already keeps its binding.
        for (name, scope, seen) in &dump.scopes {
            copied.scopes += tx.execute(
                "INSERT OR IGNORE INTO scopes (name, scope, seen) VALUES (?1, ?2, ?3)",
                params![name, scope, seen],
            )? as u64;
        }
        tx.commit()?;
        Ok(copied)
    }

    pub(super) fn rows(&self, run_id: &str) -> Result<Vec<StoredRow>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT idx, source_file, sheet, line, target, vendor, headers, cells, outcome
             FROM rows WHERE run_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![run_id], |r| {
            Ok(RawRow {
                index: r.get(0)?,
                source_file: r.get(1)?,
                sheet: r.get(2)?,
                line: r.get(3)?,
                target: r.get(4)?,
                vendor: r.get(5)?,
                headers: r.get(6)?,
                cells: r.get(7)?,
                outcome: r.get(8)?,
            })
        })?;
        rows.map(|r| r?.decode()).collect()
    }
}

/// The journal's clock for leases: milliseconds since the epoch. The SQLite file is on
/// this machine, so this machine's clock is the one every holder reads.
fn clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The lease on `target`, if anyone holds it.
fn held_lease(conn: &Connection, target: &str) -> Result<Option<Held>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT token, run_id, pid, host, since, expires FROM leases WHERE target = ?1",
        )?
        .query_row(params![target], |r| {
            Ok(Held {
                holder: Holder {
                    token: r.get(0)?,
                    run_id: r.get(1)?,
                    pid: r.get(2)?,
                    host: r.get(3)?,
                    since: r.get(4)?,
                },
                expires_ms: r.get(5)?,
            })
        })
        .optional()?)
}

fn put_intent(
    conn: &Connection,
    run_id: &str,
    target: &str,
    key: &str,
    step: &str,
    now: &str,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT INTO steps (target, key, step, state, id, run_id, updated)
         VALUES (?1, ?2, ?3, 'intent', NULL, ?4, ?5)
         ON CONFLICT (target, key, step) DO UPDATE SET state = 'intent', run_id = ?4, updated = ?5
         WHERE steps.state != 'done'",
    )?
    .execute(params![target, key, step, run_id, now])?;
    Ok(())
}

fn put_done(
    conn: &Connection,
    run_id: &str,
    target: &str,
    key: &str,
    step: &str,
    id: Option<&str>,
    now: &str,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT INTO steps (target, key, step, state, id, run_id, updated)
         VALUES (?1, ?2, ?3, 'done', ?4, ?5, ?6)
         ON CONFLICT (target, key, step) DO UPDATE SET state = 'done', id = ?4, run_id = ?5, updated = ?6",
    )?
    .execute(params![target, key, step, id, run_id, now])?;
    Ok(())
}

fn put_clear(conn: &Connection, target: &str, key: &str, step: &str) -> Result<(), Error> {
    conn.prepare_cached(
        "DELETE FROM steps WHERE target = ?1 AND key = ?2 AND step = ?3 AND state = 'intent'",
    )?
    .execute(params![target, key, step])?;
    Ok(())
}

/// Refuses an intent for `target` when this handle leased it and the lease is no longer
/// its own: another run took it over, so this one may send nothing more there.
fn check_fence(conn: &Connection, fence: Option<&Fence>, target: &str) -> Result<(), Error> {
    let Some(fence) = fence.filter(|f| f.guards(target)) else {
        return Ok(());
    };
    let held = held_lease(conn, target)?;
    match held {
        Some(h) if h.holder.token == fence.token => Ok(()),
        other => Err(Error::LeaseLost {
            target: target.to_string(),
            by: other.map_or_else(
                || "no run (it was released)".into(),
                |h| h.holder.describe(),
            ),
        }),
    }
}

/// Applies one caller's writes inside an open transaction. `fenced`: the targets whose
/// lease this transaction has already checked. One check a target is enough: the
/// transaction reads one snapshot, and its commit fails should another run have changed
/// a lease since that read (SQLite refuses a write from a stale snapshot).
fn apply<'p>(
    tx: &Transaction<'_>,
    p: &'p Pending,
    now: &str,
    fence: Option<&Fence>,
    fenced: &mut Vec<&'p str>,
) -> Result<(), Error> {
    if !fenced.contains(&p.target.as_str())
        && p.writes
            .iter()
            .any(|w| matches!(w, StepWrite::Intent { .. }))
    {
        check_fence(tx, fence, &p.target)?;
        fenced.push(&p.target);
    }
    for w in &p.writes {
        match w {
            StepWrite::Intent { key, step } => {
                put_intent(tx, &p.run_id, &p.target, key, step, now)?
            }
            StepWrite::Done { key, step, id } => {
                put_done(tx, &p.run_id, &p.target, key, step, id.as_deref(), now)?
            }
            StepWrite::Clear { key, step } => put_clear(tx, &p.target, key, step)?,
        }
    }
    Ok(())
}

/// The group committer (on a blocking thread): commits what is pending, answers its
/// callers, and repeats until nothing is pending.
fn drain(conn: &Mutex<Connection>, group: &Mutex<Group>, fence: &Mutex<Option<Fence>>) {
    // Should the committer unwind (a panic inside SQLite), the next caller starts a new
    // one, and those whose writes were queued get an error instead of waiting for ever.
    struct Unwind<'a>(&'a Mutex<Group>);
    impl Drop for Unwind<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let mut g = lock(self.0);
                g.committing = false;
                g.pending.clear();
            }
        }
    }
    let _unwind = Unwind(group);
    loop {
        let batch = {
            let mut g = lock(group);
            if g.pending.is_empty() {
                g.committing = false;
                return;
            }
            let n = g.pending.len().min(GROUP_MAX);
            g.pending.drain(..n).collect::<Vec<_>>()
        };
        let now = now();
        let fence = lock(fence).clone();
        let fence = fence.as_ref();
        let mut conn = lock(conn);
        let together = conn.transaction().map_err(Error::from).and_then(|tx| {
            let mut fenced = Vec::new();
            batch
                .iter()
                .try_for_each(|p| apply(&tx, p, &now, fence, &mut fenced))?;
            tx.commit().map_err(Error::from)
        });
        match together {
            Ok(()) => {
                drop(conn);
                for p in batch {
                    let _ = p.reply.send(Ok(()));
                }
            }
            // Something failed (and the transaction was rolled back): commit each caller's
            // writes on its own, so each gets its own result and no one's failure is another's.
            Err(_) => {
                for p in batch {
                    let alone = conn.transaction().map_err(Error::from).and_then(|tx| {
                        apply(&tx, &p, &now, fence, &mut Vec::new())?;
                        tx.commit().map_err(Error::from)
                    });
                    let _ = p.reply.send(alone);
                }
            }
        }
    }
}
