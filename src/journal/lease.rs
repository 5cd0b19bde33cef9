//! Leases: one run at a time per target (issue 26). A run that writes to a target holds a
//! lease on it in the journal, renewed by a heartbeat; a second run that needs the same
//! target refuses (exit 2) or waits (`--wait`). A lease whose holder stopped renewing it
//! is taken over once it expires; one whose holder is a process of this host that no
//! longer exists is taken over at once (a run killed and started again need not wait).
//!
//! The journal stores leases and checks them ([`Journal::take_leases`] and its kin); this
//! module owns who a holder is, when a lease is free, the waiting and the heartbeat. Read
//! only work (audit, `--dry-run`, `--plan-only`, report) takes no lease.

use std::sync::Arc;
use std::time::Duration;

use super::{Error, Journal};

/// How long a lease lasts without a renewal, unless the settings say otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Who holds a lease (or asks for one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Unique to one taking: tells two runs of one process apart (tests run in-process).
    pub token: String,
    /// The run the lease is for (the run id it will have, until it resumes another).
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    /// When the holder took the lease (RFC 3339).
    pub since: String,
}

impl Holder {
    /// This process, for the run `run_id`.
    pub fn me(run_id: &str) -> Holder {
        use rand::Rng;
        Holder {
            token: format!("{:016x}", rand::rng().random::<u64>()),
            run_id: run_id.to_string(),
            pid: std::process::id(),
            host: host(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// "run R (pid N on host H, since T)".
    pub fn describe(&self) -> String {
        format!(
            "run {} (pid {} on host {}, since {})",
            self.run_id, self.pid, self.host, self.since
        )
    }
}

/// A lease as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: Holder,
    /// When it expires unless renewed, in milliseconds since the epoch (the journal's clock).
    pub expires_ms: i64,
}

/// What a lease held by another means for a run that wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Its holder renews it: the target is busy.
    Live,
    /// Its holder stopped renewing it (crash, SIGKILL, a machine gone): free to take over.
    Expired,
    /// Its holder is a process of this host that no longer exists: free at once.
    Ended,
}

/// How `held` stands at `now_ms` for `me`.
pub fn standing(held: &Held, me: &Holder, now_ms: i64) -> Standing {
    let h = &held.holder;
    if h.host == me.host && h.pid != me.pid && !process_exists(h.pid) {
        Standing::Ended
    } else if held.expires_ms <= now_ms {
        Standing::Expired
    } else {
        Standing::Live
    }
}

/// A lease taken from a holder that no longer renewed it: the run says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    pub target: String,
    pub from: Held,
    pub why: Standing,
}

impl std::fmt::Display for TakenOver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = &self.from.holder;
        let why = match self.why {
            Standing::Ended => "has ended without releasing it".to_string(),
            _ => format!(
                "stopped renewing it (expired {})",
                chrono::DateTime::from_timestamp_millis(self.from.expires_ms)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        };
        write!(
            f,
            "target {}: taking over the lease of run {} (pid {} on host {}), which {why}",
            self.target, h.run_id, h.pid, h.host
        )
    }
}

/// What the leases `held` on the targets a run wants (`None`: no one holds it) mean for
/// `me` at `now_ms`: the leases taken over from holders that are gone, or the busy ones.
/// The one rule every journal store applies, inside its own transaction.
pub fn sort_out(
    held: Vec<(String, Option<Held>)>,
    me: &Holder,
    now_ms: i64,
) -> Result<Vec<TakenOver>, Vec<(String, Held)>> {
    let mut over = Vec::new();
    let mut busy = Vec::new();
    for (target, held) in held {
        let Some(held) = held.filter(|h| h.holder.token != me.token) else {
            continue;
        };
        match standing(&held, me, now_ms) {
            Standing::Live => busy.push((target, held)),
            why => over.push(TakenOver {
                target,
                from: held,
                why,
            }),
        }
    }
    if busy.is_empty() { Ok(over) } else { Err(busy) }
}

/// What [`Journal::take_leases`] found: every lease taken, or the targets that are busy
/// (then none was taken).
#[derive(Debug, Clone)]
pub enum Taking {
    Taken(Vec<TakenOver>),
    Busy(Vec<(String, Held)>),
}

/// How long a run waits for busy targets (`--wait[=DURATION]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Refuse at once (no `--wait`).
    #[default]
    No,
    /// Wait at most this long.
    For(Duration),
    /// `--wait` without a duration: until the targets are free.
    Forever,
}

/// A run cannot take its leases: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Every busy target, a line each.
    #[error("{}", busy_lines(.0, .1))]
    Busy(Vec<(String, Held)>, Wait),
    #[error(transparent)]
    Journal(#[from] Error),
}

fn busy_lines(busy: &[(String, Held)], wait: &Wait) -> String {
    let advice = match wait {
        Wait::No => "wait for it, or pass --wait".to_string(),
        Wait::For(d) => format!("waited {} s for it; try again later", d.as_secs_f64()),
        Wait::Forever => "wait for it".to_string(),
    };
    busy.iter()
        .map(|(target, held)| {
            format!(
                "target {target} is being imported by {}; {advice}",
                held.holder.describe()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The leases a run holds; renewed in the background, released when dropped (also when
/// the run stops with an error).
pub struct Lease {
    journal: Arc<Journal>,
    me: Holder,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("me", &self.me).finish()
    }
}

impl Lease {
    /// Takes the leases of `targets` for `me` (all or none), waiting as `wait` says while
    /// another run holds one; `note` hears of each wait and take-over. Starts the heartbeat
    /// (every third of `ttl`). Must be called within a tokio runtime.
    pub async fn take(
        journal: Arc<Journal>,
        targets: Vec<String>,
        me: Holder,
        ttl: Duration,
        wait: Wait,
        note: &(dyn Fn(&str) + Sync),
    ) -> Result<Lease, LeaseError> {
        acquire(&journal, targets, &me, ttl, wait, note).await?;
        let heartbeat = tokio::spawn(beat(journal.clone(), me.token.clone(), ttl));
        Ok(Lease {
            journal,
            me,
            heartbeat,
        })
    }

    /// The run the leases are for, once the run is known (a resumed run keeps its id).
    pub fn set_run(&mut self, run_id: &str) -> Result<(), Error> {
        self.me.run_id = run_id.to_string();
        self.journal.lease_run(&self.me.token, run_id)
    }

    /// Who holds these leases.
    pub fn holder(&self) -> &Holder {
        &self.me
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if let Err(e) = self.journal.release_leases(&self.me.token) {
            // Not fatal: the lease expires by itself.
            crate::say!("muster: warning: could not release the run's leases: {e}");
        }
    }
}

/// Takes the leases of `targets` for `me` (all or none), waiting as `wait` says while
/// another run holds one; `note` hears of each wait and take-over. Without a heartbeat of
/// its own: a holder that already has a [`Lease`] takes more with the same token (a
/// target's scope, once probed), which that lease's heartbeat renews and its drop
/// releases. Must be called within a tokio runtime.
pub async fn acquire(
    journal: &Arc<Journal>,
    targets: Vec<String>,
    me: &Holder,
    ttl: Duration,
    wait: Wait,
    note: &(dyn Fn(&str) + Sync),
) -> Result<(), LeaseError> {
    let started = tokio::time::Instant::now();
    let poll = (ttl / 10).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut told = false;
    loop {
        let (j, t, m) = (journal.clone(), targets.clone(), me.clone());
        let taking = tokio::task::spawn_blocking(move || j.take_leases(&t, &m, ttl))
            .await
            .map_err(|e| Error::Lease(format!("taking the leases failed: {e}")))??;
        let busy = match taking {
            Taking::Taken(over) => {
                for o in &over {
                    note(&o.to_string());
                }
                return Ok(());
            }
            Taking::Busy(busy) => busy,
        };
        let give_up = match wait {
            Wait::No => true,
            Wait::For(d) => started.elapsed() >= d,
            Wait::Forever => false,
        };
        if give_up {
            return Err(LeaseError::Busy(busy, wait));
        }
        if !told {
            for (target, held) in &busy {
                note(&format!(
                    "target {target} is being imported by {}; waiting",
                    held.holder.describe()
                ));
            }
            told = true;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Renews the leases of `token` every third of `ttl`; says once when one was taken over
/// (the journal then refuses that target's next intent: the run sends nothing more there).
async fn beat(journal: Arc<Journal>, token: String, ttl: Duration) {
    let mut warned = false;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let (j, t) = (journal.clone(), token.clone());
        let renewed = tokio::task::spawn_blocking(move || j.renew_leases(&t, ttl)).await;
        match renewed {
            Ok(Ok(lost)) if !lost.is_empty() && !warned => {
                warned = true;
                crate::say!(
                    "muster: warning: the lease on {} was taken over by another run; nothing more is sent there",
                    lost.join(", ")
                );
            }
            Ok(Err(e)) => tracing::warn!("renewing the run's leases: {e}"),
            _ => {}
        }
    }
}

/// This machine's name (as `hostname` prints it), or "unknown".
pub fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether a process with `pid` exists on this host (a zombie counts: it is not reaped yet).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(host: &str, pid: u32, expires_ms: i64) -> Held {
        Held {
            holder: Holder {
                token: "t".into(),
                run_id: "20261206-040000-ab12".into(),
                pid,
                host: host.into(),
                since: "2026-12-06T04:00:00Z".into(),
            },
            expires_ms,
        }
    }

    #[test]
    fn a_lease_is_live_until_it_expires_or_its_process_on_this_host_is_gone() {
        let me = Holder::me("r");
        // Another host: only the clock counts.
        assert_eq!(
            standing(&held("elsewhere", 1, 2_000), &me, 1_000),
            Standing::Live
        );
        assert_eq!(
            standing(&held("elsewhere", 1, 2_000), &me, 2_000),
            Standing::Expired
        );
        // This host, this process (another run in-process): the clock.
        assert_eq!(
            standing(&held(&me.host, me.pid, 2_000), &me, 1_000),
            Standing::Live
        );
        // This host, a process that is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert_eq!(
            standing(&held(&me.host, gone, i64::MAX), &me, 1_000),
            Standing::Ended
        );
    }

    #[test]
    fn the_refusal_names_run_pid_host_and_start() {
        let e = LeaseError::Busy(vec![("motive".into(), held("ops-2", 4242, 0))], Wait::No);
        assert_eq!(
            e.to_string(),
            "target motive is being imported by run 20261206-040000-ab12 (pid 4242 on host ops-2, since 2026-12-06T04:00:00Z); wait for it, or pass --wait"
        );
        let over = TakenOver {
            target: "motive".into(),
            from: held("ops-2", 4242, 0),
            why: Standing::Expired,
        };
        assert_eq!(
            over.to_string(),
            "target motive: taking over the lease of run 20261206-040000-ab12 (pid 4242 on host ops-2), which stopped renewing it (expired 1970-01-01T00:00:00Z)"
        );
    }
}
