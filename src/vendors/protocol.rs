//! What a connector tells the engine about one write, and what the engine tells it back:
//! the vocabulary of the exactly-once protocol, which the engine (`submit::step`) alone
//! carries out (intent committed before the request, the outcome after; an unknown
//! outcome looked up before anything is sent again).
//!
//! A connector says how a reply reads ([`Verdict`]) and what a look-up found
//! ([`Lookup`]); both are pure, so they are table-tested without a server. What a connector
//! may ask of the engine is the [`Engine`] trait, which the engine implements.

use std::future::Future;
use std::sync::Arc;

use crate::config::Target;
use crate::http::{Http, Reply, Request, SendError};
use crate::model::{LedgerStep, Mode, Outcome, SideId, Status};
use crate::secret::Secret;

use super::{Job, VendorError};

/// A row-level stop: the target halted (the engine marks the row `not_attempted`), or the
/// journal failed (continuing would risk creating twice).
#[derive(Debug)]
pub enum RowError {
    Halted,
    Journal(VendorError),
}

impl From<VendorError> for RowError {
    fn from(e: VendorError) -> RowError {
        RowError::Journal(e)
    }
}

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

impl<'a> Step<'a> {
    /// Step `name` of the row (or shared thing) journaled under `key`, alone in its commit.
    pub fn of(key: &'a str, name: &'a str) -> Step<'a> {
        Step {
            key,
            name,
            also_done: &[],
            noun: "user",
        }
    }
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

/// What the engine offers a connector while it works on one target: the target, its HTTP
/// transport for reads, what the journal knew when the target started, and the writes of
/// the exactly-once protocol, which the engine alone journals. A connector depends on this
/// trait only; the engine (`submit::Ctx`) implements it, so no connector imports the engine,
/// the journal or progress.
pub trait Engine: Sync {
    /// The target being worked on.
    fn target(&self) -> &Target;
    /// The target's transport (limiter, retries, halt): for reads (probe, listing,
    /// look-ups). Writes are the engine's: a row's as its connector plans it
    /// ([`Engine::rows`]), a batch's ([`Engine::batch`]).
    fn http(&self) -> &Http;
    /// `--dry-run`: plan only, send nothing that changes the platform.
    fn dry_run(&self) -> bool;
    /// The run's mode (create, upsert, sync).
    fn mode(&self) -> Mode;
    /// `--mode sync --prune`: remove what the roster lacks, links too (issue 28).
    fn prune(&self) -> bool {
        false
    }
    /// What the journal knew of `step` for the row with identity `key` when the target
    /// started.
    fn ledger(&self, key: &str, step: &str) -> Option<&LedgerStep>;
    /// Whether `step` of `key` was recorded by this run (a resumed run's own work).
    fn made_by_this_run(&self, key: &str, step: &str) -> bool;
    /// Where the row with identity `key` stands ([`super::standing::standing`]): the
    /// ledger's user and `complete` records, checked against `listed`, the id the platform
    /// lists for `key`. A recorded id the listing does not show for `key` is stale (issue
    /// 25, item 2): the row is planned from the listing, and the engine adds why to the
    /// row's outcome. Connectors ask here, never read the user record's id themselves.
    fn standing(&self, key: &str, listed: Option<&str>) -> super::standing::Standing;
    /// Records a row's final outcome (the first one stands).
    fn finish(&self, index: usize, outcome: Outcome);
    /// Says what the target is waiting for, on the progress line.
    fn note(&self, message: &str);
    /// Writes a connector's log line at `level`, with every secret of the target hidden
    /// first (a line may carry what a platform sent back): connectors log only through
    /// here, never with `tracing` or `eprintln!` themselves.
    fn log(&self, level: tracing::Level, line: &str);
    /// Whether the target was halted (then connectors stop starting rows).
    fn halted(&self) -> bool;
    /// Keeps a password muster generated (in the `--secrets-out` file, before it is sent)
    /// and hides it in every text a platform sends back. Returns whether it was kept.
    fn keep_generated_password(&self, key: &str, password: &Secret) -> Result<bool, VendorError>;
    /// Runs `f` over `items` with the target's concurrency, skipping the rest once halted.
    fn for_each<T, F, Fut>(&self, items: Vec<T>, f: F) -> impl Future<Output = ()> + Send
    where
        T: Send,
        F: Fn(T) -> Fut + Send + Sync,
        Fut: Future<Output = ()> + Send;
    /// Settles a step whose earlier outcome the journal does not know (an intent) from what
    /// a listing read after that intent shows: `took_effect` is the id to journal it done
    /// with when the listing shows it took effect (the user listed after a create, gone
    /// after a delete), `None` when it shows it never happened (the intent is cleared).
    /// Returns whether the step is now done. Nothing is written on a dry run, or when the
    /// ledger holds no intent for the step.
    fn settle_listed(
        &self,
        step: Step<'_>,
        took_effect: Option<&str>,
    ) -> impl Future<Output = Result<bool, RowError>> + Send;
    /// Carries out a batch of operations sent together (DRTrack's `PUT /users/sync`): see
    /// [`Batch`]. Every operation ends in `Batch::succeed` or `Batch::fail`, unless the
    /// target halts first.
    fn batch<B: Batch>(&self, batch: &B, ops: Vec<B::Op>) -> impl Future<Output = ()> + Send;
    /// Carries out every row of `jobs` as `rows` plans it ([`Rows`]), with the target's
    /// concurrency, recording each row's outcome.
    fn rows<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        jobs: Vec<Job>,
    ) -> impl Future<Output = ()> + Send;
}

/// What one send of a batch came to, as its connector reads the reply.
#[derive(Debug)]
pub enum BatchReply {
    /// The platform says every operation took effect.
    Accepted,
    /// The platform says at least one did not (`detail`: what it said, when it said more
    /// than no). The engine splits the batch to find which.
    Rejected(Option<String>),
    /// No answer: any of it may or may not have taken effect.
    Unknown(String),
    /// Nothing is known to have been done (retries ran out before an answer).
    NotDone(SendError),
    /// The target halted (credentials rejected, deadline): the intents stay for the next run.
    Halted,
}

/// Why an operation of a batch ended failed, for its connector to word.
pub enum BatchFailure<'a, S> {
    /// The batch was accepted, but the read after it does not show this operation.
    Unconfirmed,
    /// The platform rejected the operation sent on its own (`detail`: what it said); `seen`
    /// is the read after that send, for hints.
    Rejected {
        detail: Option<&'a str>,
        seen: &'a S,
    },
    /// `sends` sends went unanswered, and the read after the last shows no effect.
    NoAnswer { sends: u32, detail: &'a str },
    /// Nothing was done: the send ended without an answer.
    NotDone(&'a SendError),
}

/// A step a platform takes in batches (DRTrack's `PUT /users/sync`), as its connector
/// describes it. The engine ([`Engine::batch`]) carries it out: intents journaled before the
/// first send; after each send, a read ([`Batch::read_after`]) says which operations took
/// effect, and those are journaled done; a rejected batch is split in halves until each
/// failing operation stands alone; an unanswered one is sent again (up to the target's
/// retries) for what the read does not show.
pub trait Batch: Sync {
    /// One operation (a row's create, update or delete) with its outcome so far.
    type Op: Send;
    /// What a read after a send shows.
    type Seen: Send + Sync;
    /// The row identity key and the journal step of `op`, when it has one (a create or a
    /// delete; an update is repeatable and needs no intent).
    fn journal_step<'a>(&self, op: &'a Self::Op) -> Option<(&'a str, &'a str)>;
    /// Sends `ops` as one batch, counting attempts in their outcomes.
    fn send(
        &self,
        engine: &impl Engine,
        ops: &mut [Self::Op],
    ) -> impl Future<Output = BatchReply> + Send;
    /// Reads what the platform holds, in a read that begins after the caller's send ended.
    /// `Err`: why it could not be read (the target halts; the intents stay).
    fn read_after(
        &self,
        engine: &impl Engine,
    ) -> impl Future<Output = Result<Arc<Self::Seen>, String>> + Send;
    /// Whether `seen` shows `op` took effect (`accepted`: the batch it was sent in was
    /// accepted): its final status and the id journaled with its step.
    fn took_effect(
        &self,
        seen: &Self::Seen,
        op: &Self::Op,
        accepted: bool,
    ) -> Option<(Status, Option<String>)>;
    /// The row index and outcome of an operation that took effect.
    fn succeeded(&self, op: Self::Op, status: Status, id: Option<String>) -> (usize, Outcome);
    /// The row index and outcome of an operation that failed.
    fn failed(&self, op: Self::Op, why: BatchFailure<'_, Self::Seen>) -> (usize, Outcome);
}

/// A row as its connector planned it from what exists (the listing, the ledger, the row):
/// data, which the engine carries out ([`Engine::rows`]). Planning sends nothing.
#[derive(Debug)]
pub struct RowPlan<W> {
    /// The row so far: its outcome when nothing is to be sent, its user id when known.
    pub out: Outcome,
    /// Steps an interrupted run left without an outcome, settled before anything is sent
    /// from what the listing shows ([`Engine::settle_listed`]): the step, and the id it took
    /// effect with (`None`: it never did).
    pub settle: Vec<(String, Option<String>)>,
    /// What the user's write needs made first, shared with other rows.
    pub shared: Option<Shared>,
    /// The write of the user itself.
    pub user: UserStep,
    /// What follows once the user is there.
    pub then: Then<W>,
}

impl<W> RowPlan<W> {
    /// A row with nothing to send: `out` is its outcome.
    pub fn done(out: Outcome) -> RowPlan<W> {
        RowPlan {
            out,
            settle: Vec::new(),
            shared: None,
            user: UserStep::Nothing,
            then: Then::Nothing,
        }
    }
}

/// Something a row's user needs made first and shares with other rows (Pegasus: its
/// company's group): made at most once per run, by whichever row asks first, through the
/// engine's create under its own journal key; every row asking for it gets its id (or its
/// failure), and [`Rows::use_shared`] puts that id in the user's request.
#[derive(Debug)]
pub struct Shared {
    /// Its journal key (`group:North`), which is also what rows share it by.
    pub key: String,
    /// Its ledger step (`group`) and what it is (`group`), for messages.
    pub step: &'static str,
    pub noun: &'static str,
    /// How a message names it: `group "North"`.
    pub what: String,
    /// What a look-up finds it by (the group's name).
    pub find: String,
    /// Its id when the platform or the ledger already has it: nothing is made.
    pub known: Option<String>,
    /// Its create; `Err`: why it cannot be made.
    pub create: Result<Request, String>,
    /// The kind of side id the row records once it has it (`None`: none).
    pub side: Option<&'static str>,
}

/// The write of a row's user.
#[derive(Debug)]
pub enum UserStep {
    /// Nothing to write: the user is there (its id in the plan's outcome), or the row
    /// ends here.
    Nothing,
    /// Made exactly once through the engine's create (step `user`). `generated`: the
    /// password muster made for it, kept before the request is sent. `complete`: nothing
    /// follows, so the row is complete in the same commit.
    Create {
        request: Request,
        generated: Option<Secret>,
        complete: bool,
        /// An earlier run's create of it may have taken effect: a taken identity with
        /// nothing to tell whose it is then counts as muster's.
        maybe_ours: bool,
    },
    /// A repeatable write of the listed user (update, delete, deactivation), journaled as
    /// step `name` done with `id`; `done` is the row's status once it takes effect.
    Write {
        name: String,
        request: Request,
        keep: KeepIntent,
        id: String,
        done: Status,
    },
}

/// What follows a row's user: the relationships the row wants (`W`, the connector's:
/// Traccar's device ids).
#[derive(Debug)]
pub enum Then<W> {
    Nothing,
    /// A user made now (it has no relationships yet): each wanted one is made without a
    /// read ([`Rows::make`]), then the row is complete.
    Make(W),
    /// A user already there: what it is linked to is read first and brought in line with
    /// the row ([`Rows::align`]). `finish`: muster made the user and its row is unfinished,
    /// so the row is complete once every step is done.
    Align {
        wanted: W,
        finish: bool,
    },
    /// A user muster made (an earlier run's create, settled from the listing) with nothing
    /// left to do: the row is marked complete, and `created`.
    Finish,
}

/// A step that needs the row's user (a device link, app access): a repeatable write.
#[derive(Debug)]
pub struct Dependent {
    /// The ledger step (`link:7`).
    pub name: String,
    pub request: Request,
    pub keep: KeepIntent,
    /// The id journaled with the step done, unless its reply names one
    /// ([`Rows::done_id`]).
    pub id: String,
    /// The kind of side id the row's outcome records, with that id, once it is done
    /// (`None`: nothing, as for an unlink).
    pub side: Option<&'static str>,
    /// How a message names it (`device 7`).
    pub what: String,
}

/// What [`Rows::align`] found: the user's relationships read, and the steps that bring
/// them in line with the row.
#[derive(Debug, Default)]
pub struct Aligned {
    /// Steps an interrupted run left unanswered, settled from the read (as
    /// [`RowPlan::settle`]).
    pub settle: Vec<(String, Option<String>)>,
    /// What the user already has of what the row wants, for its outcome.
    pub kept: Vec<SideId>,
    /// The writes still to send.
    pub steps: Vec<Dependent>,
}

/// A platform whose rows are made one at a time, in steps (Traccar: the user, then one
/// request per device link), as its connector describes it; the engine carries every row
/// out ([`Engine::rows`]): it settles, sends, journals and words the row's outcome, as
/// [`Batch`] does for a platform that takes rows in batches.
pub trait Rows: Sync {
    /// What the connector read of the platform before the rows (its listing).
    type Existing: Sync;
    /// What a row wants of its user's relationships (Traccar: device ids).
    type Wanted: Send + Sync;
    /// What the listing cannot tell of a row, read before it is planned ([`Rows::recheck`]).
    type Extra: Default + Send;
    /// What a row's relationships are, in a message: "user 7 created, but {WHAT} failed".
    const WHAT: &'static str = "";
    /// What a re-run does about them, in the same message.
    const RERUN: &'static str = "";
    /// The target's first create goes alone until one is confirmed made, so that a create
    /// the platform answers without saving anything (Motive's test mode) is found by one
    /// row, not by every row in flight.
    const FIRST_CREATE_ALONE: bool = false;
    /// A row's dependent steps wait in a queue of their own, so the users of the next rows
    /// are made while they wait for a slower limit (Pegasus: `/apps`, 20 a minute).
    const DEFER_DEPENDENTS: bool = false;

    /// Sends one of the row's writes (a connector with a session adds its login).
    fn send(
        &self,
        engine: &impl Engine,
        request: Request,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send {
        engine.http().send(request)
    }

    /// Reads what `plan` needs beyond the listing (Motive: a user the ledger says muster
    /// made, which the listing lacks, is looked up): what it found and the attempts it took.
    fn recheck(
        &self,
        _engine: &impl Engine,
        _existing: &Self::Existing,
        _job: &Job,
    ) -> impl Future<Output = Result<(Self::Extra, u32), RowError>> + Send {
        async { Ok((Self::Extra::default(), 0)) }
    }
    /// Plans `job` from `existing`, `extra` and what `engine` knows (its ledger, mode, dry
    /// run). Pure: sends nothing.
    fn plan(
        &self,
        engine: &impl Engine,
        existing: &Self::Existing,
        job: &Job,
        extra: Self::Extra,
    ) -> RowPlan<Self::Wanted>;
    /// How a create's reply reads.
    fn classify(&self, engine: &impl Engine, job: &Job, reply: &Reply) -> Verdict;
    /// Looks the row's user up by its identity, to settle an unknown outcome: what it
    /// found and the attempts it took.
    fn lookup(
        &self,
        engine: &impl Engine,
        job: &Job,
    ) -> impl Future<Output = Result<(Lookup, u32), RowError>> + Send;
    /// Why the platform refused a write, for the row's message.
    fn reason(&self, job: &Job, reply: &Reply) -> String;
    /// The row's outcome when its create found the identity taken by a user muster did not
    /// make (`status`: the create's answer; `None` when a look-up after a lost answer found
    /// it). By default the row fails with `reason`.
    fn theirs(&self, out: &mut Outcome, id: String, status: Option<u16>, reason: String) {
        let _ = id;
        out.status = Status::Failed;
        out.http_status = status.or(out.http_status);
        out.error = Some(reason);
    }
    /// How the create of a [`Shared`] thing reads.
    fn classify_shared(&self, reply: &Reply) -> Verdict {
        let _ = reply;
        Verdict::Refused {
            reason: "this platform shares nothing between rows".into(),
        }
    }
    /// Looks a [`Shared`] thing up (by [`Shared::find`]), to settle an unknown outcome.
    fn lookup_shared(
        &self,
        _engine: &impl Engine,
        _shared: &Shared,
    ) -> impl Future<Output = Result<Lookup, RowError>> + Send {
        async {
            Ok(Lookup::CannotTell(
                "this platform shares nothing between rows".into(),
            ))
        }
    }
    /// Puts the id of the shared thing the user needs into the user's request.
    fn use_shared(&self, _request: &mut Request, _id: &str) {}
    /// Waits for what paces a dependent step beyond the request's own limiter, before it is
    /// sent (Pegasus: the `/apps` per-minute window).
    fn before_dependent(
        &self,
        _engine: &impl Engine,
        _existing: &Self::Existing,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Counts a dependent step's attempts beyond its first against that pace.
    fn after_dependent(
        &self,
        _existing: &Self::Existing,
        _retries: u32,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// The id a dependent step is journaled done with: `planned` ([`Dependent::id`])
    /// unless its reply names one.
    fn done_id(&self, planned: &str, reply: &Reply) -> String {
        let _ = reply;
        planned.to_string()
    }
    /// The steps that give user `user_id`, made just now, what the row wants.
    fn make(
        &self,
        _existing: &Self::Existing,
        _job: &Job,
        _user_id: &str,
        _wanted: &Self::Wanted,
    ) -> Vec<Dependent> {
        Vec::new()
    }
    /// Reads what user `user_id` has now and plans what brings it in line with `wanted`
    /// (attempts counted in `out`). `Ok(Err)`: why the read failed.
    fn align(
        &self,
        _engine: &impl Engine,
        _existing: &Self::Existing,
        _job: &Job,
        _user_id: &str,
        _wanted: &Self::Wanted,
        _out: &mut Outcome,
    ) -> impl Future<Output = Result<Result<Aligned, String>, RowError>> + Send {
        async { Ok(Ok(Aligned::default())) }
    }
}
