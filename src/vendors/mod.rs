//! The platforms' connectors: each turns roster rows into its platform's requests and reads
//! its replies. The trait is what the engine needs; dispatch over the five is an enum.
//! Connectors know the wire; they never touch sheets or progress bars.

pub mod arobs;
pub mod common;
pub mod drtrack;
pub mod listing;
pub mod motive;
pub mod pegasus;
pub mod protocol;
pub mod standing;
#[cfg(test)]
pub mod testing;
pub mod traccar;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{Credentials, Target};
use crate::http::SendError;
use crate::model::{Action, Field, PlatformUser, Problem, Row, VendorKind};
use crate::rules::{Columns, Rules};
use protocol::Engine;

/// What the stages before the engine need to know of a platform besides its rules
/// ([`check`]): each connector's folder says it in its `rules::PLATFORM`.
#[derive(Debug)]
pub struct Platform {
    /// The fields the platform holds unique besides the identity key: a second row with
    /// the same value is refused by the platform, so it is a duplicate here too.
    pub unique: &'static [Field],
    /// Whether a user is made in one request; otherwise in several steps (the user, then
    /// links or access), and a user made without its row complete is unfinished work.
    pub made_in_one_request: bool,
    /// A field the platform needs that the roster may give in another column:
    /// `(field, from)`: where the roster has no `field` column, or its cell is blank, the
    /// value of `from` is taken (DRTrack: `user_group` from `role`).
    pub taken_from: Option<(Field, Field)>,
    /// A field given a value on rows without a password and without the field: the
    /// value (the target's default for the field wins) and why (Pegasus: `send_email`,
    /// so the platform e-mails the login).
    pub without_password: Option<(Field, &'static str, &'static str)>,
}

/// The description of `vendor`'s platform ([`Platform`]).
pub fn platform(vendor: VendorKind) -> &'static Platform {
    match vendor {
        VendorKind::Traccar => &traccar::rules::PLATFORM,
        VendorKind::Motive => &motive::rules::PLATFORM,
        VendorKind::Pegasus => &pegasus::rules::PLATFORM,
        VendorKind::Drtrack => &drtrack::rules::PLATFORM,
        VendorKind::Arobs => &arobs::rules::PLATFORM,
    }
}

/// Adds `vendor`'s problems with the row: each platform's rules live in its folder
/// (`rules`), from its contract in `shared/vendors/*.md`.
///
/// `create` and `upsert` need every field the platform requires; `update` and `delete`
/// only need the identity key (the user already exists). Formats are checked whenever a
/// value is given.
pub fn check(vendor: VendorKind, rules: &mut Rules, action: Action) {
    let full = matches!(action, Action::Create | Action::Upsert);
    match vendor {
        VendorKind::Traccar => traccar::rules::check(rules, full),
        VendorKind::Motive => motive::rules::check(rules, full),
        VendorKind::Pegasus => pegasus::rules::check(rules, full),
        VendorKind::Drtrack => drtrack::rules::check(rules, full),
        VendorKind::Arobs => arobs::rules::check(rules, full),
    }
}

/// Every rule of `vendor` that `row`, sent as `action`, breaks ([`check`]): what a
/// connector asks before it plans a row the validation stage may not have seen (a row
/// handed to `run` directly, a resumed or applied one).
pub fn problems(vendor: VendorKind, row: &Row, action: Action) -> Vec<Problem> {
    let columns = Columns::of(&row.layout);
    let mut rules = Rules::new(row, &columns);
    check(vendor, &mut rules, action);
    rules.problems
}

/// One row to provision on a target.
#[derive(Debug, Clone)]
pub struct Job {
    /// The row's position in the input (its outcome is recorded under it).
    pub index: usize,
    pub row: Arc<Row>,
    pub action: Action,
    /// The row's identity on the platform, normalised (`identity_key`): the journal key.
    pub key: String,
}

/// What a listing is asked to read besides each user's fields (issue 28): the relationship
/// fields the roster's rows of the target carry (Traccar's `devices` costs one request per
/// user, so it is read only when the roster has the column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    pub relations: Vec<Field>,
}

impl Want {
    /// The relationship fields a listing may read.
    pub const RELATIONS: [Field; 6] = [
        Field::Devices,
        Field::Groups,
        Field::Company,
        Field::Apps,
        Field::BranchIds,
        Field::UserGroup,
    ];

    /// What the rows' columns ask for: each relationship field a row's layout maps.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Want {
        let mut relations = Vec::new();
        for row in rows {
            for f in Want::RELATIONS {
                if !relations.contains(&f) && row.layout.column_of(f).is_some() {
                    relations.push(f);
                }
            }
        }
        Want { relations }
    }

    /// Whether the listing is to read `field`.
    pub fn has(&self, field: Field) -> bool {
        self.relations.contains(&field)
    }

    /// The relationship fields the rows carry for `vendor` that its listing cannot show,
    /// so an audit cannot compare them (DRTrack lists neither branches nor user group):
    /// the audit's Summary says so rather than skipping them silently.
    pub fn not_comparable(&self, vendor: VendorKind) -> Vec<Field> {
        let (used, listed): (&[Field], &[Field]) = match vendor {
            VendorKind::Traccar => (&[Field::Devices], &[Field::Devices]),
            VendorKind::Motive => (&[Field::Groups], &[Field::Groups]),
            VendorKind::Pegasus => (
                &[Field::Company, Field::Apps],
                &[Field::Company, Field::Apps],
            ),
            VendorKind::Drtrack => (&[Field::BranchIds, Field::UserGroup], &[]),
            // Nothing of AROBS is listed: every row is `manual`.
            VendorKind::Arobs => (&[], &[]),
        };
        used.iter()
            .filter(|f| self.has(**f) && !listed.contains(f))
            .copied()
            .collect()
    }
}

/// Why a whole target stopped, or a connector-level failure.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Credentials rejected (probe or login): the target halts.
    #[error("credentials rejected: {0}")]
    Auth(String),
    /// The platform could not be reached or kept failing on a read every row depends on.
    #[error("platform unavailable: {0}")]
    Unavailable(String),
    /// An answer muster cannot understand.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// The platform (or this connector, so far) offers no way to do what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// The journal failed: continuing would risk creating twice.
    #[error("journal: {0}")]
    Journal(String),
    /// Another run holds the target's platform account (its scope's lease).
    #[error("{0}")]
    Busy(String),
}

impl VendorError {
    /// The reason written on rows the target did not attempt.
    pub fn halt_reason(&self) -> String {
        self.to_string()
    }

    /// The same error with every secret of `scrubber` hidden in its text (a platform may
    /// have echoed one).
    pub fn scrubbed(self, scrubber: &crate::secret::Scrubber) -> VendorError {
        let hide = |t: String| scrubber.scrub(&t).into_owned();
        match self {
            VendorError::Auth(t) => VendorError::Auth(hide(t)),
            VendorError::Unavailable(t) => VendorError::Unavailable(hide(t)),
            VendorError::Protocol(t) => VendorError::Protocol(hide(t)),
            VendorError::Unsupported(t) => VendorError::Unsupported(hide(t)),
            VendorError::Journal(t) => VendorError::Journal(t),
            VendorError::Busy(t) => VendorError::Busy(t),
        }
    }

    /// A failed read every row depends on.
    pub fn from_send(what: &str, e: SendError) -> VendorError {
        match e {
            SendError::Halted(reason) => VendorError::Unavailable(reason),
            // The detail names the endpoint and the cap.
            SendError::TooLarge { detail, .. } => VendorError::Protocol(detail),
            other => VendorError::Unavailable(format!("{what}: {other}")),
        }
    }
}

/// A connector's future, boxed (see [`Connector::probe`]).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One platform's connector.
pub trait Vendor {
    /// Checks the credentials with a read-only call before any write.
    fn probe(&self, ctx: &impl Engine) -> impl Future<Output = Result<(), VendorError>> + Send;

    /// The identity key (as `model::identity_key` makes it) of the account muster is
    /// logged in as, learned by [`Vendor::probe`]; `None` before the probe, or where the
    /// platform does not say (then only the target's `protect` list is protected).
    fn logged_in_as(&self) -> Option<String> {
        None
    }

    /// Which account of the platform muster works in, as the probe learned it, for the
    /// journal's scope (issue 25, item 2): the account logged in as where the platform
    /// tells it, else whatever else names the account (Motive's company). Never a secret,
    /// nor anything made from one.
    fn account(&self) -> Option<String> {
        self.logged_in_as()
    }

    /// Every user the platform holds, read-only (`muster audit`, `--mode upsert|sync`),
    /// with the relationships `want` asks for where the platform shows them.
    fn list_users(
        &self,
        ctx: &impl Engine,
        want: &Want,
    ) -> impl Future<Output = Result<Vec<PlatformUser>, VendorError>> + Send;

    /// Reads what exists once and hands every job to the engine as data: rows made one at
    /// a time to [`Engine::rows`] (the connector plans each, [`protocol::Rows`]), batches to
    /// [`Engine::batch`]. Rows left without an outcome become `not_attempted`.
    fn run(
        &self,
        ctx: &impl Engine,
        jobs: Vec<Job>,
    ) -> impl Future<Output = Result<(), VendorError>> + Send;
}

/// The five connectors.
pub enum Connector {
    Traccar(traccar::Traccar),
    Pegasus(pegasus::Pegasus),
    Arobs(arobs::Arobs),
    Motive(motive::Motive),
    Drtrack(drtrack::Drtrack),
}

/// What the run asks of the connectors.
#[derive(Debug, Clone, Default)]
pub enum Purpose {
    /// Provision the rows (`muster import`).
    #[default]
    Import,
    /// AROBS: log each API user in and compare its vehicles (`muster verify`), with the
    /// passwords given outside the roster.
    Verify(Arc<arobs::Passwords>),
}

/// The connector for `target`.
pub fn connect(target: &Target, credentials: Credentials, purpose: &Purpose) -> Connector {
    match target.vendor {
        VendorKind::Traccar => Connector::Traccar(traccar::Traccar::new(credentials)),
        VendorKind::Pegasus => Connector::Pegasus(pegasus::Pegasus::new(credentials)),
        VendorKind::Arobs => Connector::Arobs(arobs::Arobs::new(match purpose {
            Purpose::Verify(p) => Some(p.clone()),
            Purpose::Import => None,
        })),
        VendorKind::Motive => Connector::Motive(motive::Motive::new(credentials)),
        VendorKind::Drtrack => Connector::Drtrack(drtrack::Drtrack::new(credentials)),
    }
}

impl Connector {
    /// Boxed here, where the engine is still a type parameter: the future's `Send` is then
    /// proven from the trait's bounds once, not re-derived from each connector's body at
    /// the engine's `tokio::spawn` (which rustc cannot do for higher-ranked closures).
    pub fn probe<'a, E: Engine>(&'a self, ctx: &'a E) -> BoxFuture<'a, Result<(), VendorError>> {
        match self {
            Connector::Traccar(c) => Box::pin(c.probe(ctx)),
            Connector::Pegasus(c) => Box::pin(c.probe(ctx)),
            Connector::Arobs(c) => Box::pin(c.probe(ctx)),
            Connector::Motive(c) => Box::pin(c.probe(ctx)),
            Connector::Drtrack(c) => Box::pin(c.probe(ctx)),
        }
    }

    /// The account muster is logged in as, once probed ([`Vendor::logged_in_as`]).
    pub fn logged_in_as(&self) -> Option<String> {
        match self {
            Connector::Traccar(c) => c.logged_in_as(),
            Connector::Pegasus(c) => c.logged_in_as(),
            Connector::Arobs(c) => c.logged_in_as(),
            Connector::Motive(c) => c.logged_in_as(),
            Connector::Drtrack(c) => c.logged_in_as(),
        }
    }

    /// Which account muster works in, once probed ([`Vendor::account`]).
    pub fn account(&self) -> Option<String> {
        match self {
            Connector::Traccar(c) => c.account(),
            Connector::Pegasus(c) => c.account(),
            Connector::Arobs(c) => c.account(),
            Connector::Motive(c) => c.account(),
            Connector::Drtrack(c) => c.account(),
        }
    }

    pub fn list_users<'a, E: Engine>(
        &'a self,
        ctx: &'a E,
        want: &'a Want,
    ) -> BoxFuture<'a, Result<Vec<PlatformUser>, VendorError>> {
        match self {
            Connector::Traccar(c) => Box::pin(c.list_users(ctx, want)),
            Connector::Pegasus(c) => Box::pin(c.list_users(ctx, want)),
            Connector::Arobs(c) => Box::pin(c.list_users(ctx, want)),
            Connector::Motive(c) => Box::pin(c.list_users(ctx, want)),
            Connector::Drtrack(c) => Box::pin(c.list_users(ctx, want)),
        }
    }

    pub fn run<'a, E: Engine>(
        &'a self,
        ctx: &'a E,
        jobs: Vec<Job>,
    ) -> BoxFuture<'a, Result<(), VendorError>> {
        match self {
            Connector::Traccar(c) => Box::pin(c.run(ctx, jobs)),
            Connector::Pegasus(c) => Box::pin(c.run(ctx, jobs)),
            Connector::Arobs(c) => Box::pin(c.run(ctx, jobs)),
            Connector::Motive(c) => Box::pin(c.run(ctx, jobs)),
            Connector::Drtrack(c) => Box::pin(c.run(ctx, jobs)),
        }
    }
}

/// The ledger step a connector marks done once it has made the row's user (with the id).
/// DRTrack's one request makes the whole row; Traccar, Motive and Pegasus make a user in
/// more than one step and mark the row [`STEP_COMPLETE`] after the last.
pub const STEP_USER: &str = "user";
/// The ledger step marked done once every step of the row is (user, device links, app
/// access). A user muster made whose row has no `complete` is unfinished: the next run
/// hands it to its connector, whatever a listing shows (see `commands::import`).
pub const STEP_COMPLETE: &str = "complete";

/// A random password of 16 bytes, hex.
pub fn generate_password() -> crate::secret::Secret {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    crate::secret::Secret::new(hex::encode(bytes))
}
