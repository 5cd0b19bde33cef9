//! Whose records a target's rows read and write (issue 25, item 2): the journal keeps the
//! step ledger by the platform's identity (the target's *scope*: vendor, URL, and the
//! account muster is logged in as), not by the target's name. The same name pointed at
//! another server, or logged in as another account, does not inherit the first one's
//! records, and two names for the same platform account share theirs, and a lease.
//!
//! The scope is known once the connector has probed the target (the account comes from
//! the probe); the engine then leases it, binds the name to it in the journal (a journal
//! from before scopes has its records under the name, adopted by the first binding), and
//! reads its ledger.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Target;
use crate::journal::lease::{self, Holder, LeaseError, Wait};
use crate::journal::{Ledger, StepState};
use crate::vendors::{STEP_USER, VendorError};

use super::Ctx;

/// The platform's identity a target's records are kept under in the journal: the vendor,
/// the URL without credentials, query or fragment, and the account (`Vendor::account`:
/// the login or email muster is logged in as, Motive's company). Never a secret, nor
/// anything made from one: an account the probe could not tell is said to be unknown
/// (then every target at that URL whose account is unknown shares one scope).
pub fn scope_of(target: &Target, account: Option<&str>) -> String {
    let url = match url::Url::parse(target.url.trim()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        // Not a URL: no request reaches it either; kept as written.
        Err(_) => target.url.trim().to_string(),
    };
    let url = url.trim_end_matches('/');
    let account = account
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("an account it did not tell");
    format!("{} {url} as {account}", target.vendor.key())
}

/// The run's lease holder, when the run leases its targets (an import that sends): once a
/// target is probed, the engine leases its scope too, with the same holder, renewed by the
/// run's heartbeat and released with the run's lease.
#[derive(Debug, Clone)]
pub struct Leasing {
    pub holder: Holder,
    pub ttl: Duration,
    pub wait: Wait,
}

/// What the engine knows of a target once its scope is known.
#[derive(Debug, Default)]
pub(super) struct Scoped {
    /// The scope: the journal's key of the target's records.
    pub scope: String,
    /// What the journal knew of the scope's steps when the target started.
    pub ledger: Ledger,
    /// The scope the target's name was bound to before, when it was another platform (or
    /// account), and the user ids it records there by identity key: never used, only said.
    pub elsewhere: Option<(String, HashMap<String, String>)>,
}

/// The scopes the targets of one run are working in: a second target of the run with the
/// same scope waits for the first (one lease, one token: the journal cannot tell them
/// apart).
pub(super) type InUse = Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

impl Ctx {
    /// The journal's key of this target's records: its scope once known, else its name.
    pub(super) fn journal_key(&self) -> &str {
        self.scoped
            .get()
            .map_or(self.target.name.as_str(), |s| s.scope.as_str())
    }

    /// Enters the target's scope, once probed (`account`: what the connector learned):
    /// leases it (as `leasing` says, unless a dry run), binds the target's name to it, and
    /// reads its ledger. Returns the guard that keeps other targets of this run out of the
    /// same scope until this one ends.
    pub(super) async fn enter_scope(
        &self,
        account: Option<String>,
        leasing: Option<&Leasing>,
        in_use: &InUse,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, VendorError> {
        let scope = scope_of(&self.target, account.as_deref());
        let gate = super::lock(in_use)
            .entry(scope.clone())
            .or_default()
            .clone();
        let guard = match gate.clone().try_lock_owned() {
            Ok(g) => g,
            Err(_) => {
                self.reporter.note(
                    &self.target.name,
                    &format!("waiting: another target of this run works in {scope}"),
                );
                gate.lock_owned().await
            }
        };
        if let Some(l) = leasing.filter(|_| !self.dry_run) {
            let name = self.target.name.clone();
            let note = |line: &str| self.reporter.note(&name, line);
            lease::acquire(
                &self.journal,
                vec![scope.clone()],
                &l.holder,
                l.ttl,
                l.wait,
                &note,
            )
            .await
            .map_err(|e| match e {
                LeaseError::Busy(..) => VendorError::Busy(format!(
                    "its platform account is busy: {e} (another target name for the same account)"
                )),
                LeaseError::Journal(j) => VendorError::Journal(j.to_string()),
            })?;
        }
        let journal_err = |e: crate::journal::Error| VendorError::Journal(e.to_string());
        let name = self.target.name.as_str();
        // A dry run writes nothing: it reads what a run would once it bound the name.
        let (bound_before, previous) = if self.dry_run {
            let before = self.journal.binding(name).map_err(journal_err)?;
            let previous = before.clone().filter(|b| *b != scope);
            (before.is_some(), previous)
        } else {
            let bound = self.journal.bind(name, &scope).map_err(journal_err)?;
            (true, bound.previous)
        };
        let mut ledger = self.journal.steps(&scope).map_err(journal_err)?;
        if !bound_before {
            // An unbound name's records (a journal from before scopes): what a run adopts.
            for (step, record) in self.journal.steps(name).map_err(journal_err)? {
                ledger.entry(step).or_insert(record);
            }
        }
        let elsewhere = match previous {
            Some(previous) => {
                let users = self
                    .journal
                    .steps(&previous)
                    .map_err(journal_err)?
                    .into_iter()
                    .filter(|((_, step), s)| step == STEP_USER && s.state == StepState::Done)
                    .filter_map(|((key, _), s)| Some((key, s.id?)))
                    .collect();
                Some((previous, users))
            }
            None => None,
        };
        let _ = self.scoped.set(Scoped {
            scope,
            ledger,
            elsewhere,
        });
        Ok(guard)
    }

    /// What a row's outcome says when the journal holds no record of its user in this
    /// scope but recorded one through the same target name on another platform: that id
    /// was not used.
    pub(super) fn recorded_elsewhere(&self, key: &str) -> Option<String> {
        let (previous, users) = self.scoped.get()?.elsewhere.as_ref()?;
        let id = users.get(key)?;
        Some(format!(
            "the journal's record of this user (id {id}) is stale: it was made through target {} on another platform ({previous}); not used here, the row was planned again from what this one lists",
            self.target.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VendorKind;

    #[test]
    fn the_scope_names_vendor_url_and_account_and_no_secret() {
        let at = |url: &str| Target::with_defaults("t", VendorKind::Traccar, url);
        let cases = [
            (
                "https://iot.example/api/",
                Some("Boss@fleet.test"),
                "traccar https://iot.example/api as Boss@fleet.test",
            ),
            (
                "https://admin:hunter22@iot.example/api?token=abcd1234#x",
                Some("boss@fleet.test"),
                "traccar https://iot.example/api as boss@fleet.test",
            ),
            (
                "http://127.0.0.1:9/api",
                None,
                "traccar http://127.0.0.1:9/api as an account it did not tell",
            ),
            (
                "http://127.0.0.1:9/api",
                Some("  "),
                "traccar http://127.0.0.1:9/api as an account it did not tell",
            ),
        ];
        for (url, account, want) in cases {
            assert_eq!(scope_of(&at(url), account), want, "{url}");
        }
        let motive = Target::with_defaults("m", VendorKind::Motive, "https://api.gomotive.com/v1");
        assert_eq!(
            scope_of(&motive, Some("company 1")),
            "motive https://api.gomotive.com/v1 as company 1"
        );
    }
}
