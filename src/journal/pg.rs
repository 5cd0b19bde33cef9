//! The journal in a shared PostgreSQL database (`--journal postgres://…`, issue 26): the
//! same records and guarantees as the SQLite file, for teams whose runs start on several
//! machines. Its tables are prefixed `muster_`, so the database may hold others.
//!
//! One connection, owned by a thread of its own that runs the calls in order: each call
//! is a closure sent to that thread with a channel for its answer. A sync call blocks
//! its caller until the answer comes (as a SQLite call blocks on its file); `commit`
//! awaits it without blocking the runtime. So the sync `postgres` client never runs
//! inside the async runtime (where it would panic), on a current-thread runtime too.
//!
//! Leases use the database's own locks: takers are serialised by a transaction-scoped
//! advisory lock, expiry is read from the database's clock (one clock for every machine),
//! and an intent is committed only while its target's lease row, locked `FOR SHARE` in
//! the intent's transaction, still carries this run's token: a take-over, which updates
//! that row, waits for the intent's commit, and no intent commits after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use postgres::{Client, GenericClient};
use tokio::sync::oneshot;

use super::lease::{self, Held, Holder, Standing, Taking};
use super::{
    Bound, Copied, Dump, DumpRow, DumpRun, DumpStep, Error, Fence, Ledger, RawRow, RunSummary,
    Step, StepState, StepWrite, StoredRow, StoredRowRef, fenced, lock, now, run_summary, ttl_ms,
};
use crate::model::{Outcome, RunInfo, TargetStats};
use crate::secret::Secret;

/// Where the shared journal is.
#[derive(Debug, Clone)]
pub struct PgAt {
    /// `postgres://user@host:port/db?…`, without a password.
    pub url: String,
    /// From the environment (`PGPASSWORD` or the variable the config names).
    pub password: Option<Secret>,
}

/// The PostgreSQL journal.
pub(super) struct Pg {
    /// The URL without its password, for messages.
    shown: PathBuf,
    jobs: mpsc::Sender<Job>,
    fence: Arc<Mutex<Option<Fence>>>,
}

/// A call, run on the connection's thread.
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// Advisory lock keys (arbitrary, muster's own): creating the tables, taking leases.
const SCHEMA_LOCK: i64 = 0x6d75_7374_0001;
const LEASE_LOCK: i64 = 0x6d75_7374_0002;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS muster_runs (
    seq BIGSERIAL,
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    info TEXT NOT NULL,
    stats TEXT,
    finished BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS muster_rows (
    run_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    source_file TEXT NOT NULL,
    sheet TEXT NOT NULL,
    line BIGINT NOT NULL,
    target TEXT,
    vendor TEXT,
    headers TEXT NOT NULL,
    cells TEXT NOT NULL,
    status TEXT,
    outcome TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS muster_steps (
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    id TEXT,
    run_id TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (target, key, step)
);
CREATE TABLE IF NOT EXISTS muster_plans (
    digest TEXT PRIMARY KEY,
    made TEXT NOT NULL,
    path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS muster_scopes (
    name TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS muster_leases (
    target TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    since TEXT NOT NULL,
    expires BIGINT NOT NULL
);
";

/// The steps' `target` that `$1` (a scope, or a target's name) reads: a name reads the scope
/// it was last bound to; an unbound name, the records a journal from before scopes kept
/// under it.
const RESOLVED: &str = "COALESCE((SELECT scope FROM muster_scopes WHERE name = $1), $1)";

/// A PostgreSQL error with the server's message (its `Display` alone says "db error").
fn db(e: postgres::Error) -> Error {
    let text = match e.as_db_error() {
        Some(d) => format!("{e}: {}", d.message()),
        None => match std::error::Error::source(&e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    };
    Error::Db(text)
}

/// TLS as `sslmode` asks (`prefer` by default: TLS when the server offers it), verified
/// against the platform's roots; rustls with ring, no OpenSSL.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_platform_verifier()
        .map_err(|e| e.to_string())?
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl Pg {
    /// Connects, creates the tables if needed, and starts the connection's thread.
    pub(super) fn open(at: &PgAt) -> Result<Pg, Error> {
        let shown = PathBuf::from(&at.url);
        let open_err = |message: String| Error::Open {
            path: shown.clone(),
            message,
        };
        // Never echo the password, should a message repeat what it was given.
        let scrub = |text: String| match &at.password {
            Some(p) if !p.is_empty() => text.replace(p.expose(), "***"),
            _ => text,
        };
        let mut config: postgres::Config = at
            .url
            .parse()
            .map_err(|e: postgres::Error| open_err(scrub(format!("not a PostgreSQL URL: {e}"))))?;
        if let Some(p) = &at.password {
            config.password(p.expose());
        }
        config.application_name("muster");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let tls = tls().map_err(|e| open_err(format!("TLS: {e}")))?;
        let (ready, answer) = mpsc::sync_channel::<Result<(), String>>(1);
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("journal-pg".into())
            .spawn(move || {
                let mut client = match config.connect(tls) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(format!("cannot connect: {}", db_text(e))));
                        return;
                    }
                };
                let schema = create_schema(&mut client);
                let failed = schema.is_err();
                let _ = ready.send(schema.map_err(|e| format!("cannot create the tables: {e}")));
                if failed {
                    return;
                }
                while let Ok(job) = inbox.recv() {
                    job(&mut client);
                }
            })
            .map_err(|e| open_err(format!("cannot start the journal's thread: {e}")))?;
        match answer.recv() {
            Ok(Ok(())) => Ok(Pg {
                shown,
                jobs,
                fence: Arc::new(Mutex::new(None)),
            }),
            Ok(Err(message)) => Err(open_err(scrub(message))),
            Err(_) => Err(open_err("the journal's connection ended".into())),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.shown
    }

    fn gone(&self) -> Error {
        Error::Open {
            path: self.shown.clone(),
            message: "the journal's connection ended".into(),
        }
    }

    /// Runs `f` on the connection's thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| self.gone())?;
        rx.recv().map_err(|_| self.gone())?
    }

    /// As [`Pg::call`], awaited.
    async fn call_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| self.gone())?;
        rx.await.map_err(|_| self.gone())?
    }

    fn fence(&self) -> Option<Fence> {
        lock(&self.fence).clone()
    }

    pub(super) fn record_plan(&self, digest: &str, made: &str, path: &str) -> Result<(), Error> {
        let (digest, made, path) = (digest.to_string(), made.to_string(), path.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO muster_plans (digest, made, path) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET made = EXCLUDED.made, path = EXCLUDED.path",
                &[&digest, &made, &path],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    pub(super) fn plan_made(&self, digest: &str) -> Result<Option<String>, Error> {
        let digest = digest.to_string();
        self.call(move |c| {
            Ok(c.query_opt(
                "SELECT made FROM muster_plans WHERE digest = $1",
                &[&digest],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
        })
    }

    pub(super) fn begin_run(&self, info: &RunInfo, fingerprint: &str) -> Result<(), Error> {
        let (id, fp, info) = (
            info.run_id.clone(),
            fingerprint.to_string(),
            serde_json::to_string(info)?,
        );
        self.call(move |c| {
            c.execute(
                "INSERT INTO muster_runs (id, fingerprint, info, finished) VALUES ($1, $2, $3, FALSE)",
                &[&id, &fp, &info],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    pub(super) fn unfinished_run(&self, fingerprint: &str) -> Result<Option<RunInfo>, Error> {
        let fp = fingerprint.to_string();
        let info: Option<String> = self.call(move |c| {
            Ok(c.query_opt(
                "SELECT info FROM muster_runs WHERE fingerprint = $1 AND NOT finished
                 ORDER BY seq DESC LIMIT 1",
                &[&fp],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
        })?;
        Ok(match info {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    pub(super) fn finish_run(
        &self,
        info: &RunInfo,
        stats: &[TargetStats],
        complete: bool,
    ) -> Result<(), Error> {
        let (id, info, stats) = (
            info.run_id.clone(),
            serde_json::to_string(info)?,
            serde_json::to_string(stats)?,
        );
        self.call(move |c| {
            c.execute(
                "UPDATE muster_runs SET finished = $4, info = $2, stats = $3 WHERE id = $1",
                &[&id, &info, &stats, &complete],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    pub(super) fn record_rows<'a>(
        &self,
        run_id: &str,
        rows: impl Iterator<Item = StoredRowRef<'a>>,
    ) -> Result<(), Error> {
        type Owned = (
            i64,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let mut owned: Vec<Owned> = Vec::new();
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
            owned.push((
                r.index as i64,
                r.source_file.to_string(),
                r.sheet.to_string(),
                i64::from(r.line),
                r.target.map(str::to_string),
                r.vendor.map(str::to_string),
                headers,
                serde_json::to_string(&r.cells)?,
            ));
        }
        let run_id = run_id.to_string();
        self.call(move |c| {
            let mut tx = c.transaction().map_err(db)?;
            let stmt = tx
                .prepare(
                    "INSERT INTO muster_rows (run_id, idx, source_file, sheet, line, target, vendor, headers, cells)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id, idx) DO NOTHING",
                )
                .map_err(db)?;
            for (idx, file, sheet, line, target, vendor, headers, cells) in &owned {
                tx.execute(
                    &stmt,
                    &[
                        &run_id, idx, file, sheet, line, target, vendor, headers, cells,
                    ],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
    }

    pub(super) fn record_outcomes<'a>(
        &self,
        run_id: &str,
        outcomes: impl Iterator<Item = (usize, &'a Outcome)>,
    ) -> Result<(), Error> {
        let owned = outcomes
            .map(|(i, o)| {
                Ok((
                    i as i64,
                    o.status.key().to_string(),
                    serde_json::to_string(o)?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let run_id = run_id.to_string();
        self.call(move |c| {
            let mut tx = c.transaction().map_err(db)?;
            let stmt = tx
                .prepare(
                    "UPDATE muster_rows SET status = $3, outcome = $4 WHERE run_id = $1 AND idx = $2",
                )
                .map_err(db)?;
            for (idx, status, outcome) in &owned {
                tx.execute(&stmt, &[&run_id, idx, status, outcome])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)
        })
    }

    pub(super) fn outcomes(&self, run_id: &str) -> Result<HashMap<usize, Outcome>, Error> {
        let run_id = run_id.to_string();
        let rows: Vec<(i64, String)> = self.call(move |c| {
            Ok(c.query(
                "SELECT idx, outcome FROM muster_rows WHERE run_id = $1 AND outcome IS NOT NULL",
                &[&run_id],
            )
            .map_err(db)?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        rows.into_iter()
            .map(|(i, json)| Ok((i as usize, serde_json::from_str(&json)?)))
            .collect()
    }

    pub(super) fn steps(&self, target: &str) -> Result<Ledger, Error> {
        let target = target.to_string();
        self.call(move |c| {
            Ok(c.query(
                &format!(
                    "SELECT key, step, state, id, run_id FROM muster_steps WHERE target = {RESOLVED}"
                ),
                &[&target],
            )
            .map_err(db)?
            .into_iter()
            .map(|r| {
                let state: String = r.get(2);
                (
                    (r.get(0), r.get(1)),
                    Step {
                        state: if state == "done" {
                            StepState::Done
                        } else {
                            StepState::Intent
                        },
                        id: r.get(3),
                        run_id: r.get(4),
                    },
                )
            })
            .collect())
        })
    }

    pub(super) fn made_by_others(
        &self,
        target: &str,
        run_id: &str,
    ) -> Result<HashMap<String, (String, String)>, Error> {
        let (target, run_id) = (target.to_string(), run_id.to_string());
        self.call(move |c| {
            Ok(c.query(
                &format!(
                    "SELECT key, run_id, updated FROM muster_steps
                     WHERE target = {RESOLVED} AND step = 'user' AND state = 'done' AND run_id <> $2"
                ),
                &[&target, &run_id],
            )
            .map_err(db)?
            .into_iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect())
        })
    }

    pub(super) fn binding(&self, name: &str) -> Result<Option<String>, Error> {
        let name = name.to_string();
        self.call(move |c| {
            Ok(
                c.query_opt("SELECT scope FROM muster_scopes WHERE name = $1", &[&name])
                    .map_err(db)?
                    .map(|r| r.get(0)),
            )
        })
    }

    pub(super) fn bind(&self, name: &str, scope: &str) -> Result<Bound, Error> {
        let (name, scope) = (name.to_string(), scope.to_string());
        self.call(move |c| {
            let mut tx = c.transaction().map_err(db)?;
            // Two runs binding the same name at once: one after the other.
            let before: Option<String> = tx
                .query_opt(
                    "SELECT scope FROM muster_scopes WHERE name = $1 FOR UPDATE",
                    &[&name],
                )
                .map_err(db)?
                .map(|r| r.get(0));
            let mut adopted = 0;
            if before.is_none() {
                // A record the scope already holds (made through another name) stands.
                adopted = tx
                    .execute(
                        "INSERT INTO muster_steps (target, key, step, state, id, run_id, updated)
                         SELECT $2, key, step, state, id, run_id, updated FROM muster_steps
                         WHERE target = $1 ON CONFLICT (target, key, step) DO NOTHING",
                        &[&name, &scope],
                    )
                    .map_err(db)?;
                tx.execute("DELETE FROM muster_steps WHERE target = $1", &[&name])
                    .map_err(db)?;
            }
            tx.execute(
                "INSERT INTO muster_scopes (name, scope, seen) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET scope = EXCLUDED.scope, seen = EXCLUDED.seen",
                &[&name, &scope, &now()],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(Bound {
                previous: before.filter(|b| *b != scope),
                adopted,
            })
        })
    }

    pub(super) fn intent(
        &self,
        run_id: &str,
        target: &str,
        key: &str,
        step: &str,
    ) -> Result<(), Error> {
        self.write(
            run_id,
            target,
            vec![StepWrite::Intent {
                key: key.to_string(),
                step: step.to_string(),
            }],
        )
    }

    pub(super) fn done(
        &self,
        run_id: &str,
        target: &str,
        key: &str,
        step: &str,
        id: Option<&str>,
    ) -> Result<(), Error> {
        self.write(
            run_id,
            target,
            vec![StepWrite::Done {
                key: key.to_string(),
                step: step.to_string(),
                id: id.map(str::to_string),
            }],
        )
    }

    pub(super) fn clear(&self, target: &str, key: &str, step: &str) -> Result<(), Error> {
        self.write(
            "",
            target,
            vec![StepWrite::Clear {
                key: key.to_string(),
                step: step.to_string(),
            }],
        )
    }

    /// Commits `writes` in one transaction, waiting for the answer.
    fn write(&self, run_id: &str, target: &str, writes: Vec<StepWrite>) -> Result<(), Error> {
        let (run_id, target, fence) = (run_id.to_string(), target.to_string(), self.fence());
        self.call(move |c| apply(c, &run_id, &target, &writes, fence.as_ref()))
    }

    pub(super) async fn commit(
        &self,
        run_id: &str,
        target: &str,
        writes: Vec<StepWrite>,
    ) -> Result<(), Error> {
        let (run_id, target, fence) = (run_id.to_string(), target.to_string(), self.fence());
        self.call_async(move |c| apply(c, &run_id, &target, &writes, fence.as_ref()))
            .await
    }

    pub(super) fn runs(&self) -> Result<Vec<RunSummary>, Error> {
        type Raw = (String, bool, Option<String>, Vec<(String, u64)>);
        let raw: Vec<Raw> = self.call(|c| {
            let runs = c
                .query(
                    "SELECT id, info, finished, stats FROM muster_runs ORDER BY seq DESC",
                    &[],
                )
                .map_err(db)?;
            let counts = c
                .prepare(
                    "SELECT COALESCE(status, 'unknown'), COUNT(*) FROM muster_rows
                     WHERE run_id = $1 GROUP BY 1 ORDER BY 1",
                )
                .map_err(db)?;
            let mut out = Vec::new();
            for r in runs {
                let id: String = r.get(0);
                let n = c
                    .query(&counts, &[&id])
                    .map_err(db)?
                    .into_iter()
                    .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
                    .collect();
                out.push((r.get(1), r.get(2), r.get(3), n));
            }
            Ok(out)
        })?;
        raw.into_iter()
            .map(|(info, finished, stats, counts)| {
                run_summary(&info, finished, stats.as_deref(), counts)
            })
            .collect()
    }

    pub(super) fn export(&self) -> Result<Dump, Error> {
        self.call(|c| {
            let runs = c
                .query(
                    "SELECT id, fingerprint, info, stats, finished FROM muster_runs ORDER BY seq",
                    &[],
                )
                .map_err(db)?
                .into_iter()
                .map(|r| DumpRun {
                    id: r.get(0),
                    fingerprint: r.get(1),
                    info: r.get(2),
                    stats: r.get(3),
                    finished: r.get(4),
                })
                .collect();
            let rows = c
                .query(
                    "SELECT run_id, idx, source_file, sheet, line, target, vendor, headers, cells, status, outcome
                     FROM muster_rows ORDER BY run_id, idx",
                    &[],
                )
                .map_err(db)?
                .into_iter()
                .map(|r| DumpRow {
                    run_id: r.get(0),
                    index: r.get(1),
                    source_file: r.get(2),
                    sheet: r.get(3),
                    line: r.get(4),
                    target: r.get(5),
                    vendor: r.get(6),
                    headers: r.get(7),
                    cells: r.get(8),
                    status: r.get(9),
                    outcome: r.get(10),
                })
                .collect();
            let steps = c
                .query(
                    "SELECT target, key, step, state, id, run_id, updated FROM muster_steps",
                    &[],
                )
                .map_err(db)?
                .into_iter()
                .map(|r| DumpStep {
                    target: r.get(0),
                    key: r.get(1),
                    step: r.get(2),
                    state: r.get(3),
                    id: r.get(4),
                    run_id: r.get(5),
                    updated: r.get(6),
                })
                .collect();
            let plans = c
                .query("SELECT digest, made, path FROM muster_plans", &[])
                .map_err(db)?
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let scopes = c
                .query("SELECT name, scope, seen FROM muster_scopes", &[])
                .map_err(db)?
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            Ok(Dump {
                runs,
                rows,
                steps,
                plans,
                scopes,
            })
        })
    }

    pub(super) fn import(&self, dump: &Dump) -> Result<Copied, Error> {
        let dump = dump.clone();
        self.call(move |c| {
            let mut tx = c.transaction().map_err(db)?;
            let mut copied = Copied::default();
            for r in &dump.runs {
                copied.runs += tx
                    .execute(
                        "INSERT INTO muster_runs (id, fingerprint, info, stats, finished)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                        &[&r.id, &r.fingerprint, &r.info, &r.stats, &r.finished],
                    )
                    .map_err(db)?;
            }
            for r in &dump.rows {
                copied.rows += tx
                    .execute(
                        "INSERT INTO muster_rows (run_id, idx, source_file, sheet, line, target, vendor, headers, cells, status, outcome)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (run_id, idx) DO NOTHING",
                        &[
                            &r.run_id, &r.index, &r.source_file, &r.sheet, &r.line, &r.target,
                            &r.vendor, &r.headers, &r.cells, &r.status, &r.outcome,
                        ],
                    )
                    .map_err(db)?;
            }
            for st in &dump.steps {
                copied.steps += tx
                    .execute(
                        "INSERT INTO muster_steps (target, key, step, state, id, run_id, updated)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (target, key, step) DO UPDATE SET state = EXCLUDED.state,
                             id = EXCLUDED.id, run_id = EXCLUDED.run_id, updated = EXCLUDED.updated
                         WHERE muster_steps.state = 'intent' AND EXCLUDED.state = 'done'",
                        &[
                            &st.target, &st.key, &st.step, &st.state, &st.id, &st.run_id,
                            &st.updated,
                        ],
                    )
                    .map_err(db)?;
            }
            for (digest, made, path) in &dump.plans {
                copied.plans += tx
                    .execute(
                        "INSERT INTO muster_plans (digest, made, path) VALUES ($1, $2, $3)
                         ON CONFLICT (digest) DO NOTHING",
                        &[digest, made, path],
                    )
                    .map_err(db)?;
            }
            // A name this journal binds already keeps its binding.
            for (name, scope, seen) in &dump.scopes {
                copied.scopes += tx
                    .execute(
                        "INSERT INTO muster_scopes (name, scope, seen) VALUES ($1, $2, $3)
                         ON CONFLICT (name) DO NOTHING",
                        &[name, scope, seen],
                    )
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(copied)
        })
    }

    pub(super) fn rows(&self, run_id: &str) -> Result<Vec<StoredRow>, Error> {
        let run_id = run_id.to_string();
        let rows = self.call(move |c| {
            c.query(
                "SELECT idx, source_file, sheet, line, target, vendor, headers, cells, outcome
                 FROM muster_rows WHERE run_id = $1 ORDER BY idx",
                &[&run_id],
            )
            .map_err(db)
        })?;
        rows.into_iter()
            .map(|r| {
                RawRow {
                    index: r.get(0),
                    source_file: r.get(1),
                    sheet: r.get(2),
                    line: u32::try_from(r.get::<_, i64>(3)).unwrap_or(u32::MAX),
                    target: r.get(4),
                    vendor: r.get(5),
                    headers: r.get(6),
                    cells: r.get(7),
                    outcome: r.get(8),
                }
                .decode()
            })
            .collect()
    }

    pub(super) fn take_leases(
        &self,
        targets: &[String],
        me: &Holder,
        ttl: Duration,
    ) -> Result<Taking, Error> {
        let (wanted, me2) = (targets.to_vec(), me.clone());
        let ttl = ttl_ms(ttl);
        let taking = self.call(move |c| {
            let (me, targets) = (me2, wanted);
            let mut tx = c.transaction().map_err(db)?;
            // One taker at a time, on every machine sharing the database.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LEASE_LOCK])
                .map_err(db)?;
            let now = clock_ms(&mut tx)?;
            let mut held = Vec::new();
            for t in &targets {
                held.push((t.clone(), held_lease(&mut tx, t, false)?));
            }
            let over = match lease::sort_out(held, &me, now) {
                Ok(over) => over,
                Err(busy) => return Ok(Taking::Busy(busy)),
            };
            let expires = now.saturating_add(ttl);
            for t in &targets {
                tx.execute(
                    "INSERT INTO muster_leases (target, token, run_id, pid, host, since, expires)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (target) DO UPDATE SET token = $2, run_id = $3, pid = $4,
                         host = $5, since = $6, expires = $7",
                    &[
                        t,
                        &me.token,
                        &me.run_id,
                        &i64::from(me.pid),
                        &me.host,
                        &me.since,
                        &expires,
                    ],
                )
                .map_err(db)?;
            }
            // A holder's leases expire together (see the SQLite store).
            tx.execute(
                "UPDATE muster_leases SET expires = $2 WHERE token = $1",
                &[&me.token, &expires],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(Taking::Taken(over))
        })?;
        if matches!(taking, Taking::Taken(_)) {
            fenced(&mut lock(&self.fence), &me.token, targets);
        }
        Ok(taking)
    }

    pub(super) fn renew_leases(&self, token: &str, ttl: Duration) -> Result<Vec<String>, Error> {
        let token = token.to_string();
        let ttl = ttl_ms(ttl);
        let guarded: Vec<String> = self
            .fence()
            .filter(|f| f.token == token)
            .map(|f| f.targets.into_iter().collect())
            .unwrap_or_default();
        self.call(move |c| {
            c.execute(
                "UPDATE muster_leases SET expires =
                     (extract(epoch from clock_timestamp()) * 1000)::bigint + $2
                 WHERE token = $1",
                &[&token, &ttl],
            )
            .map_err(db)?;
            let mut lost = Vec::new();
            for t in guarded {
                if held_lease(c, &t, false)?.is_none_or(|h| h.holder.token != token) {
                    lost.push(t);
                }
            }
            lost.sort();
            Ok(lost)
        })
    }

    pub(super) fn release_leases(&self, token: &str) -> Result<(), Error> {
        let t = token.to_string();
        self.call(move |c| {
            c.execute("DELETE FROM muster_leases WHERE token = $1", &[&t])
                .map_err(db)?;
            Ok(())
        })?;
        let mut fence = lock(&self.fence);
        if fence.as_ref().is_some_and(|f| f.token == token) {
            *fence = None;
        }
        Ok(())
    }

    pub(super) fn lease_run(&self, token: &str, run_id: &str) -> Result<(), Error> {
        let (token, run_id) = (token.to_string(), run_id.to_string());
        self.call(move |c| {
            c.execute(
                "UPDATE muster_leases SET run_id = $2 WHERE token = $1",
                &[&token, &run_id],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    pub(super) fn live_lease_of_run(
        &self,
        run_id: &str,
        me: &Holder,
    ) -> Result<Option<(String, Held)>, Error> {
        let (run_id, me) = (run_id.to_string(), me.clone());
        self.call(move |c| {
            let now = clock_ms(c)?;
            let targets: Vec<String> = c
                .query(
                    "SELECT target FROM muster_leases WHERE run_id = $1 AND token <> $2 ORDER BY target",
                    &[&run_id, &me.token],
                )
                .map_err(db)?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
            for t in targets {
                if let Some(held) = held_lease(c, &t, false)?
                    && lease::standing(&held, &me, now) == Standing::Live
                {
                    return Ok(Some((t, held)));
                }
            }
            Ok(None)
        })
    }
}

/// The message of a connection error, with its cause.
fn db_text(e: postgres::Error) -> String {
    match db(e) {
        Error::Db(text) => text,
        other => other.to_string(),
    }
}

/// Creates the tables, one creator at a time (two runs starting together on a new
/// database would otherwise both try).
fn create_schema(c: &mut Client) -> Result<(), Error> {
    let mut tx = c.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(db)?;
    tx.batch_execute(SCHEMA).map_err(db)?;
    tx.commit().map_err(db)
}

/// The database's clock, in milliseconds since the epoch: the leases' one clock.
fn clock_ms(c: &mut impl GenericClient) -> Result<i64, Error> {
    Ok(c.query_one(
        "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
        &[],
    )
    .map_err(db)?
    .get(0))
}

/// The lease on `target`, if anyone holds it; `share`: locked until the transaction ends
/// (a take-over waits for it).
fn held_lease(
    c: &mut impl GenericClient,
    target: &str,
    share: bool,
) -> Result<Option<Held>, Error> {
    let sql = if share {
        "SELECT token, run_id, pid, host, since, expires FROM muster_leases WHERE target = $1 FOR SHARE"
    } else {
        "SELECT token, run_id, pid, host, since, expires FROM muster_leases WHERE target = $1"
    };
    Ok(c.query_opt(sql, &[&target]).map_err(db)?.map(|r| Held {
        holder: Holder {
            token: r.get(0),
            run_id: r.get(1),
            pid: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
            host: r.get(3),
            since: r.get(4),
        },
        expires_ms: r.get(5),
    }))
}

/// Applies one caller's writes in one transaction: an intent only while the target's
/// lease (when this handle leased it) is still this run's.
fn apply(
    c: &mut Client,
    run_id: &str,
    target: &str,
    writes: &[StepWrite],
    fence: Option<&Fence>,
) -> Result<(), Error> {
    let mut tx = c.transaction().map_err(db)?;
    if let Some(f) = fence.filter(|f| f.guards(target))
        && writes.iter().any(|w| matches!(w, StepWrite::Intent { .. }))
    {
        match held_lease(&mut tx, target, true)? {
            Some(h) if h.holder.token == f.token => {}
            other => {
                return Err(Error::LeaseLost {
                    target: target.to_string(),
                    by: other.map_or_else(
                        || "no run (it was released)".into(),
                        |h| h.holder.describe(),
                    ),
                });
            }
        }
    }
    let now = now();
    for w in writes {
        match w {
            StepWrite::Intent { key, step } => tx.execute(
                "INSERT INTO muster_steps (target, key, step, state, id, run_id, updated)
                 VALUES ($1, $2, $3, 'intent', NULL, $4, $5)
                 ON CONFLICT (target, key, step) DO UPDATE SET state = 'intent',
                     run_id = EXCLUDED.run_id, updated = EXCLUDED.updated
                 WHERE muster_steps.state <> 'done'",
                &[&target, key, step, &run_id, &now],
            ),
            StepWrite::Done { key, step, id } => tx.execute(
                "INSERT INTO muster_steps (target, key, step, state, id, run_id, updated)
                 VALUES ($1, $2, $3, 'done', $4, $5, $6)
                 ON CONFLICT (target, key, step) DO UPDATE SET state = 'done', id = EXCLUDED.id,
                     run_id = EXCLUDED.run_id, updated = EXCLUDED.updated",
                &[&target, key, step, id, &run_id, &now],
            ),
            StepWrite::Clear { key, step } => tx.execute(
                "DELETE FROM muster_steps WHERE target = $1 AND key = $2 AND step = $3 AND state = 'intent'",
                &[&target, key, step],
            ),
        }
        .map_err(db)?;
    }
    tx.commit().map_err(db)
}
