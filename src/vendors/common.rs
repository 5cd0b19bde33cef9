//! Small helpers HTTP connectors use the same way: sending a read of a row while counting
//! its attempts, with the row-level stop (`RowError`) when the target halts.
//! Also [`Fresh`]: one read of a platform's whole user list shared by every row that needs
//! a list read after its own write (the check after a lost answer, DRTrack's confirmation);
//! and [`SingleFlight`]: a value one task computes for all (a Pegasus company's group).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::http::{Reply, Request, SendError};
use crate::model::Outcome;
use crate::vendors::protocol::Engine;

use super::protocol::RowError;

/// Sends a row's request, counting its attempts in `out`; a halted target stops the row.
pub async fn send(
    ctx: &impl Engine,
    req: Request,
    out: &mut Outcome,
) -> Result<Result<Reply, SendError>, RowError> {
    counted(ctx.http().send(req).await, out)
}

/// Counts a call's attempts in `out`; a halted target stops the row.
pub fn counted(
    result: Result<Reply, SendError>,
    out: &mut Outcome,
) -> Result<Result<Reply, SendError>, RowError> {
    match result {
        Ok(r) => {
            out.attempts += r.attempts;
            Ok(Ok(r))
        }
        Err(SendError::Halted(_)) => Err(RowError::Halted),
        Err(e) => {
            out.attempts += e.attempts();
            Ok(Err(e))
        }
    }
}

/// Coalesces reads that must each begin after their caller asked: a row whose create got
/// no answer needs a list read that started after that create, but it need not have one of
/// its own. Callers arriving while no read is waiting to start form a round; the round's
/// first caller (its leader) waits until no other read is under way, closes the round and
/// reads once for all of them. Callers arriving after the round closed form the next
/// round. So at most one read runs at a time, at most one round waits, and every caller
/// gets a read that began after it asked: with n rows checking at once the platform sees
/// about two list reads, not n (a whole-list read per lost answer is O(n²) over a run).
pub struct Fresh<V: Clone> {
    /// The round still open to joiners (its read has not begun).
    open: Mutex<Option<Arc<Round<V>>>>,
    /// Held by the leader whose read is under way.
    reading: tokio::sync::Mutex<()>,
}

/// One round: its value, published by its leader.
struct Round<V> {
    value: watch::Sender<Option<V>>,
}

impl<V: Clone> Default for Fresh<V> {
    fn default() -> Fresh<V> {
        Fresh {
            open: Mutex::new(None),
            reading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<V: Clone> std::fmt::Debug for Fresh<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fresh")
    }
}

impl<V: Clone> Fresh<V> {
    /// A value from a `read` that began after this call: this caller's own, or that of
    /// the round it joined. A leader that stops before publishing (its task was cancelled)
    /// leaves its joiners to read for themselves.
    pub async fn read<F, Fut>(&self, read: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let (round, leader) = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            match open.as_ref() {
                Some(round) => (round.clone(), false),
                None => {
                    let round = Arc::new(Round {
                        value: watch::channel(None).0,
                    });
                    *open = Some(round.clone());
                    (round, true)
                }
            }
        };
        if !leader {
            let mut rx = round.value.subscribe();
            drop(round);
            let published = match rx.wait_for(Option::is_some).await {
                Ok(v) => v.clone(),
                Err(_) => None,
            };
            if let Some(v) = published {
                return v;
            }
            // The leader went away without a value: read alone.
            let _one_at_a_time = self.reading.lock().await;
            return read().await;
        }
        // Closes the round even when this task is cancelled before its read, so the round's
        // joiners are not left waiting on a value that never comes.
        let lead = Lead { fresh: self, round };
        let _one_at_a_time = self.reading.lock().await;
        // Whoever asks from now on needs a later read than this one.
        lead.close();
        let v = read().await;
        lead.round.value.send_replace(Some(v.clone()));
        v
    }
}

/// The leader's hold on its round (see [`Fresh::read`]).
struct Lead<'a, V: Clone> {
    fresh: &'a Fresh<V>,
    round: Arc<Round<V>>,
}

impl<V: Clone> Lead<'_, V> {
    /// Takes the round out of `open`, if it is still there.
    fn close(&self) {
        let mut open = self
            .fresh
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if open.as_ref().is_some_and(|r| Arc::ptr_eq(r, &self.round)) {
            *open = None;
        }
    }
}

impl<V: Clone> Drop for Lead<'_, V> {
    fn drop(&mut self) {
        self.close();
    }
}

/// Guards a value so only one task computes it (Pegasus groups, shared look-ups).
#[derive(Debug, Default)]
pub struct SingleFlight<V: Clone> {
    slots: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<V>>>>,
}

impl<V: Clone> SingleFlight<V> {
    pub fn new() -> SingleFlight<V> {
        SingleFlight {
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`: computed by the first caller, awaited by the others. A failed
    /// computation is not cached, so a later caller tries again.
    pub async fn get_or_try<E, F, Fut>(&self, key: &str, f: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key.to_string()).or_default().clone()
        };
        cell.get_or_try_init(f).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A read that counts itself and says which read it was and how many asks preceded it.
    async fn counted_read(reads: &AtomicUsize, asked: &AtomicUsize) -> (usize, usize) {
        let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
        let seen = asked.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        (n, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn callers_at_once_share_reads_and_each_gets_one_begun_after_it_asked() {
        let fresh = Arc::new(Fresh::<(usize, usize)>::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        // (when the caller asks, in ms)
        for at in [0u64, 0, 0, 10, 50, 50, 150, 400] {
            let (fresh, reads, asked) = (fresh.clone(), reads.clone(), asked.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(at)).await;
                let mine = asked.fetch_add(1, Ordering::SeqCst) + 1;
                let (n, seen) = fresh.read(|| counted_read(&reads, &asked)).await;
                (mine, n, seen)
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        for (mine, _, seen) in &got {
            assert!(seen >= mine, "a read that began after the ask: {got:?}");
        }
        // 0 ms: the first reads alone (the others asked in the same instant join it or the
        // next round); 10-50 ms: one round after it; 150 ms: the next; 400 ms: alone.
        assert!(reads.load(Ordering::SeqCst) <= 5, "{got:?}");
        assert!(reads.load(Ordering::SeqCst) >= 3, "{got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_that_goes_away_leaves_its_joiners_to_read_alone() {
        let fresh = Arc::new(Fresh::<u32>::default());
        // A reader that holds the lock, so the next round waits with a leader and a joiner.
        let busy = {
            let fresh = fresh.clone();
            tokio::spawn(async move {
                fresh
                    .read(|| async {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let leader = {
            let fresh = fresh.clone();
            tokio::spawn(async move { fresh.read(|| async { 2 }).await })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let joiner = {
            let fresh = fresh.clone();
            tokio::spawn(async move { fresh.read(|| async { 3 }).await })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        leader.abort();
        assert_eq!(busy.await.unwrap(), 1);
        assert_eq!(joiner.await.unwrap(), 3);
    }
}
