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
//!   Cost: one sync per batch plus at most 2·log2(batch) per rejected operation (a half
//!   whose sibling came back `true` is split without being sent).
//! - Exactly once: the journal holds the intent of each `ADD` (step `user`) before its
//!   batch is sent and its `key` once `GET /users` lists it; an intent left by a killed run
//!   is settled by the first `GET /users`. DRTrack itself refuses a second `ADD` of a login.
//! - Audit, upsert, sync (issue 9): `list_users` reports login, names and e-mail (all DRTrack
//!   lists). In `--mode upsert|sync` only those are compared, as the audit does; a `MODIFY`
//!   carries the listed fields that differ plus what the row sets that cannot be compared
//!   (branches, user group). A `DELETE` is journaled (step `delete`): a re-run finds the
//!   login gone and the step done, and sends nothing.

mod client;
mod plan;
pub mod rules;
mod sync;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::config::Credentials;
use crate::model::{Field, Outcome, VendorKind};
use crate::secret::Secret;
use crate::vendors::protocol::Engine;

use super::common::Fresh;
use super::{Job, Vendor, VendorError, generate_password};
use crate::model::PlatformUser;
use wire::{Directory, Listed, Method};

/// The journal step of a user made by `ADD`.
const STEP: &str = super::STEP_USER;
/// The journal step of a user removed by `DELETE` (its id: the user's `key`).
const STEP_DELETE: &str = "delete";

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
    /// The `GET /users` after each sync, shared by the batches whose syncs ended before it
    /// began (one whole-list read per sync would be O(n²) over a large run).
    confirmations: Fresh<Result<Arc<Directory>, String>>,
    /// The login muster authenticated as (lower-cased), once the probe logged in.
    me: std::sync::OnceLock<String>,
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

impl Drtrack {
    pub fn new(credentials: Credentials) -> Drtrack {
        Drtrack {
            credentials,
            token_generation: AtomicU64::new(0),
            login_lock: tokio::sync::Mutex::new(()),
            sync_calls: AtomicU64::new(0),
            accepted_groups: Mutex::new(HashSet::new()),
            confirmations: Fresh::default(),
            me: std::sync::OnceLock::new(),
        }
    }

    /// `PUT /users/sync` calls sent so far (retries of one call not counted).
    pub fn sync_calls(&self) -> u64 {
        self.sync_calls.load(Ordering::Relaxed)
    }
}

impl Vendor for Drtrack {
    /// `GET /users`: every user, keyed by lower-cased `userID`; DRTrack lists no
    /// branches, user group or active flag, so only login, names and e-mail are reported
    /// and every listed user is active.
    async fn list_users(
        &self,
        ctx: &impl Engine,
        _want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        let dir = self.directory(ctx).await?;
        let mut users: Vec<PlatformUser> = dir
            .by_login
            .into_iter()
            .map(|(key, u)| u.platform_user(key))
            .collect();
        users.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(users)
    }

    /// Logs in (`GET /auth`); the login it logged in with is the account muster acts as
    /// (a `userID` of `GET /users`).
    async fn probe(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        self.authenticate(ctx).await?;
        if let Some(login) = &self.credentials.username {
            let key = crate::model::normalise_key(login.expose());
            if !key.is_empty() {
                let _ = self.me.set(key);
            }
        }
        Ok(())
    }

    fn logged_in_as(&self) -> Option<String> {
        self.me.get().cloned()
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        let dir = self.directory(ctx).await?;
        let pending = self.plan(ctx, &dir, jobs).await?;
        let operations = pending.len();
        let size = ctx.target().batch_size.max(1);
        let mut batches: Vec<Vec<Pending>> = Vec::new();
        for p in pending {
            match batches.last_mut() {
                Some(b) if b.len() < size => b.push(p),
                _ => batches.push(vec![p]),
            }
        }
        let count = batches.len();
        let sync = sync::SyncBatch { drtrack: self };
        ctx.for_each(batches, |batch| ctx.batch(&sync, batch)).await;
        ctx.log(
            tracing::Level::INFO,
            &format!(
                "DRTrack: {} sync calls for {operations} operations in {count} batches",
                self.sync_calls()
            ),
        );
        Ok(())
    }
}

/// Whether an existing user already looks like the row, as far as `GET /users` shows:
/// only first name, last name and email can be compared. Unless `listed_only`, a row that
/// sets what the list cannot show (branches, user group, a passthrough) is never unchanged.
fn unchanged(job: &Job, user: &Listed, listed_only: bool) -> bool {
    let row = &job.row;
    if !listed_only
        && (row.get(Field::BranchIds).is_some()
            || row.get(Field::UserGroup).is_some()
            || row.get(Field::GroupId).is_some()
            || row.passthrough(VendorKind::Drtrack).next().is_some())
    {
        return false;
    }
    let same = |field: Field, have: Option<&str>| match row.get(field) {
        None => true,
        Some(want) => have.is_some_and(|h| crate::audit::same(field, want, h)),
    };
    same(Field::FirstName, user.first_name.as_deref())
        && same(Field::LastName, user.last_name.as_deref())
        && same(Field::Email, user.email.as_deref())
}

/// A random password that meets DRTrack's policy (digit, lower, upper, special; ≤ 40).
fn strong_password() -> Secret {
    let hex = generate_password();
    let hex = hex.expose();
    Secret::new(format!("Mx-{}7a{}", &hex[..12], &hex[12..24]))
}
