//! What a connector tells the engine about one write, and what the engine tells it back:
//! the vocabulary of the exactly-once protocol, which the engine (`submit::step`) alone
//! carries out (intent committed before the request, the outcome after; an unknown
//! outcome looked up before anything is sent again).
//!
//! A connector says how a reply reads ([`Verdict`]) and what a look-up found
//! ([`Lookup`]); both are pure, so they are table-tested without a server.

/// How a create's reply reads, as its connector says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It took effect; the id the reply names. Without one, the engine looks the user up
    /// and never sends the create again.
    Made(Option<String>),
    /// Refused because what it would make exists: maybe ours, from a create whose answer
    /// was lost, so the engine looks it up. `if_absent` is the reason when nobody holds it.
    Taken { reason: String, if_absent: String },
    /// Refused for another reason: nothing was made.
    Refused { reason: String },
    /// A 2xx the connector does not trust (Motive's test-mode 200): the engine looks the
    /// user up; unless it is found, the row fails with `reason` and the target halts with
    /// `halt`, since every further write would be lost too.
    Unconfirmed { reason: String, halt: String },
}

/// What a look-up by identity found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The platform holds it, with this id. `ours`: whether it carries muster's own mark
    /// (Motive's external id), `None` where nothing tells (Traccar, Pegasus: the engine
    /// then takes it as ours when an earlier create of it may have taken effect).
    Found { id: String, ours: Option<bool> },
    /// Nobody holds it.
    Absent,
    /// The look-up failed: whether it exists is unknown.
    CannotTell(String),
}

/// One step of a row, as the engine journals it: the row's identity key, the ledger step,
/// and the steps marked done with it (a row complete once its user is made).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub key: &'a str,
    pub name: &'a str,
    /// Steps committed done with this one, in the same commit, with their ids (`None`: the
    /// step's own id).
    pub also_done: &'a [(&'a str, Option<&'a str>)],
    /// What the step makes (`user`, `group`), for messages.
    pub noun: &'a str,
}

/// A create for the engine to carry out.
#[derive(Debug, Clone)]
pub struct Create<'a> {
    pub step: Step<'a>,
    pub request: crate::http::Request,
    /// An earlier create of it may have taken effect (an intent an earlier run left): a
    /// taken identity with nothing to tell whose it is then counts as muster's.
    pub maybe_ours: bool,
}

/// What the engine's create came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Made by muster (now, or by a create whose answer was lost); journaled done.
    Ours { id: String, status: Option<u16> },
    /// Someone else's: the identity is taken by a user muster did not make.
    Theirs {
        id: String,
        status: Option<u16>,
        reason: String,
    },
    /// Not made, or not known to be: `reason` says which. The intent stays in the journal
    /// when the outcome is unknown, so the next run looks before it sends.
    Failed { status: Option<u16>, reason: String },
}

/// When a write that is safe to repeat (update, delete, link, app access) got no readable
/// answer, whether its intent stays in the journal: a kept intent makes the next run
/// finish the row whatever a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepIntent {
    /// Cleared: the next run decides again from the platform's state.
    Never,
    /// Kept when the outcome is unknown, cleared when nothing was done.
    OnUnknown,
    /// Kept on any failure to get an answer.
    Always,
}

/// What the engine's repeatable write came to.
#[derive(Debug, Clone)]
pub enum Wrote {
    /// A 2xx: journaled done.
    Done(crate::http::Reply),
    /// The platform refused it (the reply, for the connector's reason); nothing was done.
    Refused(crate::http::Reply),
    /// No readable answer.
    Failed(crate::http::SendError),
}
