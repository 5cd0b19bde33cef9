//! Where a row stands, decided once for every connector that makes a user in steps
//! (Traccar: user, then device links; Pegasus: group, user, then app access): from what the
//! journal's ledger says muster did, and from what the platform lists now. Pure, so the
//! decisions are table-tested without a server; the connector turns the decision into its
//! platform's steps, and the engine carries them out.

use crate::model::{Action, LedgerStep, Mode, StepState};

/// A row's user, as the ledger and a listing (read after any intent) show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The user's platform id: recorded by muster, or listed.
    pub user_id: Option<String>,
    /// Muster made it: the ledger records it done, or an intent the listing shows took effect.
    pub ours: bool,
    /// Muster made it and every step of its row is done (the ledger's `complete`).
    pub complete: bool,
    /// The ledger speaks of a user the platform no longer lists (deleted since, or another
    /// platform behind the same target name), or lists under another id: its step records
    /// are history, not state.
    pub forgotten: bool,
    /// The id the ledger records for the user when the listing does not show it for the
    /// row's identity (not listed, or listed under another id; issue 25, item 2): the
    /// record is stale, and the row is planned again from what the platform lists.
    pub stale: Option<String>,
    /// The id the platform lists for the row's identity, if any (for the stale note).
    pub listed: Option<String>,
    /// An intent whose user the listing shows: the create took effect, and the engine is to
    /// journal it done (the `Engine`'s `settle_listed`) before the row goes on.
    pub unsettled: bool,
}

/// Where the row stands: `user` is the ledger's record of the user step, `complete` whether
/// the ledger marks the row complete, `listed` the id the platform lists for the row's
/// identity.
pub fn standing(user: Option<&LedgerStep>, complete: bool, listed: Option<&str>) -> Standing {
    // A recorded id is used only when the listing shows it for this identity: an id the
    // platform does not list, or lists for someone else, is stale (another platform behind
    // the same target name, a server rebuilt): never sent, never trusted over the listing.
    let stale = user
        .filter(|s| s.state == StepState::Done)
        .and_then(|s| s.id.as_deref())
        .filter(|id| listed != Some(*id))
        .map(str::to_string);
    // A done record of a user the platform no longer lists (or lists otherwise) is history.
    let ours = user
        .filter(|s| s.state != StepState::Done || listed.is_some())
        .filter(|_| stale.is_none());
    let (user_id, made, unsettled) = match (ours, listed) {
        (Some(step), _) if step.state == StepState::Done => {
            (step.id.clone().or(listed.map(str::to_string)), true, false)
        }
        (Some(_), Some(id)) => (Some(id.to_string()), true, true),
        (_, Some(id)) => (Some(id.to_string()), false, false),
        (_, None) => (None, false, false),
    };
    Standing {
        user_id,
        ours: made,
        complete: ours.is_some() && complete,
        forgotten: user.is_some() && (listed.is_none() || stale.is_some()),
        unsettled,
        stale,
        listed: listed.map(str::to_string),
    }
}

impl Standing {
    /// What the row's outcome says when the ledger's id of its user was stale.
    pub fn stale_note(&self) -> Option<String> {
        let recorded = self.stale.as_deref()?;
        let lists = match &self.listed {
            Some(id) => format!("it lists this user as {id}"),
            None => "it does not list this user".to_string(),
        };
        Some(format!(
            "the journal's id {recorded} is not this user on the platform ({lists}); planned again from what it lists"
        ))
    }
}

/// What a row needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nobody holds the identity, and the row asks to change a user (update, delete).
    NoUser,
    /// The user exists and is left as it is.
    Exists(String),
    /// The user exists, and the row or the mode asks to bring it in line with the row.
    Update(String),
    /// Muster made the user, but not every step of its row: the missing steps are next.
    Finish(String),
    /// The user is to be made, then the row's other steps.
    Create,
}

/// What a row that is not a delete needs next, given where it stands.
pub fn next(action: Action, mode: Mode, s: &Standing) -> Next {
    match &s.user_id {
        Some(id) if s.ours && !s.complete => Next::Finish(id.clone()),
        Some(id) => {
            let update = matches!(action, Action::Update | Action::Upsert)
                || matches!(mode, Mode::Upsert | Mode::Sync);
            if update {
                Next::Update(id.clone())
            } else {
                Next::Exists(id.clone())
            }
        }
        None if action == Action::Update => Next::NoUser,
        None => Next::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(state: StepState, id: Option<&str>) -> LedgerStep {
        LedgerStep {
            state,
            id: id.map(str::to_string),
            run_id: "r1".into(),
        }
    }

    #[test]
    fn standing_reads_the_ledger_against_the_listing() {
        use StepState::{Done, Intent};
        let done = step(Done, Some("7"));
        let done_without_id = step(Done, None);
        let intent = step(Intent, None);
        // (ledger user step, ledger complete, listed id) → (user id, ours, complete,
        // forgotten, unsettled)
        type Want = (Option<&'static str>, bool, bool, bool, bool);
        type Case<'a> = (&'a str, Option<&'a LedgerStep>, bool, Option<&'a str>, Want);
        let cases: Vec<Case> = vec![
            ("new", None, false, None, (None, false, false, false, false)),
            (
                "someone else's",
                None,
                false,
                Some("9"),
                (Some("9"), false, false, false, false),
            ),
            (
                "ours, complete",
                Some(&done),
                true,
                Some("7"),
                (Some("7"), true, true, false, false),
            ),
            (
                "ours, links missing",
                Some(&done),
                false,
                Some("7"),
                (Some("7"), true, false, false, false),
            ),
            (
                "ours, id read from the list",
                Some(&done_without_id),
                false,
                Some("7"),
                (Some("7"), true, false, false, false),
            ),
            (
                "ours, deleted since",
                Some(&done),
                true,
                None,
                (None, false, false, true, false),
            ),
            (
                "ours by the ledger, another user's id on the platform",
                Some(&done),
                true,
                Some("9"),
                (Some("9"), false, false, true, false),
            ),
            (
                "intent, took effect",
                Some(&intent),
                false,
                Some("8"),
                (Some("8"), true, false, false, true),
            ),
            (
                "intent, never happened",
                Some(&intent),
                false,
                None,
                (None, false, false, true, false),
            ),
        ];
        for (name, user, complete, listed, want) in cases {
            let s = standing(user, complete, listed);
            let got = (
                s.user_id.as_deref(),
                s.ours,
                s.complete,
                s.forgotten,
                s.unsettled,
            );
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_recorded_id_the_listing_does_not_show_for_the_row_is_stale() {
        let done = |id: &str| step(StepState::Done, Some(id));
        // (ledger id, listed id) → stale id, and the note the row's outcome gets.
        let cases = [
            ("7", Some("7"), None, None),
            (
                "1000",
                Some("7"),
                Some("1000"),
                Some(
                    "the journal's id 1000 is not this user on the platform (it lists this user as 7); planned again from what it lists",
                ),
            ),
            (
                "1000",
                None,
                Some("1000"),
                Some(
                    "the journal's id 1000 is not this user on the platform (it does not list this user); planned again from what it lists",
                ),
            ),
        ];
        for (recorded, listed, stale, note) in cases {
            let user = done(recorded);
            let s = standing(Some(&user), false, listed);
            assert_eq!(s.stale.as_deref(), stale, "{recorded} {listed:?}");
            assert_eq!(s.stale_note().as_deref(), note, "{recorded} {listed:?}");
            // A stale record is never the user muster made: the row is planned from the
            // listing alone.
            if stale.is_some() {
                assert_eq!(
                    (s.ours, s.forgotten, s.user_id.as_deref()),
                    (false, true, listed)
                );
                assert_eq!(
                    next(Action::Create, Mode::Create, &s),
                    match listed {
                        Some(id) => Next::Exists(id.to_string()),
                        None => Next::Create,
                    }
                );
            }
        }
        // Without a recorded id (done, the id read from the list) or with an intent,
        // nothing is stale.
        assert_eq!(
            standing(Some(&step(StepState::Done, None)), false, Some("7")).stale,
            None
        );
        assert_eq!(
            standing(Some(&step(StepState::Intent, None)), false, Some("7")).stale,
            None
        );
    }

    #[test]
    fn next_follows_the_action_and_the_mode() {
        let new = standing(None, false, None);
        let theirs = standing(None, false, Some("9"));
        let partial = standing(Some(&step(StepState::Done, Some("7"))), false, Some("7"));
        let complete = standing(Some(&step(StepState::Done, Some("7"))), true, Some("7"));
        let cases = [
            (
                "create, new",
                Action::Create,
                Mode::Create,
                &new,
                Next::Create,
            ),
            (
                "upsert, new",
                Action::Upsert,
                Mode::Create,
                &new,
                Next::Create,
            ),
            (
                "update, new",
                Action::Update,
                Mode::Create,
                &new,
                Next::NoUser,
            ),
            (
                "create, theirs",
                Action::Create,
                Mode::Create,
                &theirs,
                Next::Exists("9".into()),
            ),
            (
                "create, theirs, mode upsert",
                Action::Create,
                Mode::Upsert,
                &theirs,
                Next::Update("9".into()),
            ),
            (
                "create, theirs, mode sync",
                Action::Create,
                Mode::Sync,
                &theirs,
                Next::Update("9".into()),
            ),
            (
                "update, theirs",
                Action::Update,
                Mode::Create,
                &theirs,
                Next::Update("9".into()),
            ),
            (
                "create, partial",
                Action::Create,
                Mode::Create,
                &partial,
                Next::Finish("7".into()),
            ),
            (
                "update, partial",
                Action::Update,
                Mode::Upsert,
                &partial,
                Next::Finish("7".into()),
            ),
            (
                "create, complete",
                Action::Create,
                Mode::Create,
                &complete,
                Next::Exists("7".into()),
            ),
            (
                "upsert, complete",
                Action::Upsert,
                Mode::Create,
                &complete,
                Next::Update("7".into()),
            ),
        ];
        for (name, action, mode, s, want) in cases {
            assert_eq!(next(action, mode, s), want, "{name}");
        }
    }
}
