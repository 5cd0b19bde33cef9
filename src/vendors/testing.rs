//! An engine for connectors' table tests of row planning: it knows a target, a mode and a
//! ledger, records what a connector finishes and hands over to settle, and refuses to send
//! (planning sends nothing; a dry run is planning).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::config::Target;
use crate::http::{Halt, Http};
use crate::model::{LedgerStep, Mode, Outcome, StepState, VendorKind};
use crate::secret::Secret;

use super::VendorError;
use super::protocol::RowError;
use super::protocol::{Batch, Engine, Step};

/// A planning-only engine (see the module's doc).
pub struct Planner {
    target: Target,
    http: Http,
    pub mode: Mode,
    pub dry_run: bool,
    ledger: HashMap<(String, String), LedgerStep>,
    /// Outcomes the connector recorded, by row index.
    pub finished: Mutex<HashMap<usize, Outcome>>,
    /// Steps the connector handed over to settle ([`Engine::settle_listed`]), as
    /// `key:step` and what took effect.
    pub settled: Mutex<Vec<(String, Option<String>)>>,
}

/// The run id of a [`Planner`]'s ledger steps recorded by "this run".
pub const THIS_RUN: &str = "this-run";

impl Planner {
    /// A planner of a dry run (nothing is sent) in `mode`.
    pub fn new(vendor: VendorKind, mode: Mode) -> Planner {
        let target = Target::with_defaults("t", vendor, "http://127.0.0.1:9");
        let http = Http::new(&target, Arc::new(Halt::new(None))).expect("an HTTP client");
        Planner {
            target,
            http,
            mode,
            dry_run: true,
            ledger: HashMap::new(),
            finished: Mutex::new(HashMap::new()),
            settled: Mutex::new(Vec::new()),
        }
    }

    /// The ledger records `step` of `key` in `state`, by run `run_id` (done with the id
    /// `KEY-id`).
    pub fn with_step(self, key: &str, step: &str, state: StepState, run_id: &str) -> Planner {
        let id = (state == StepState::Done).then(|| format!("{key}-id"));
        self.with_step_id(key, step, state, run_id, id.as_deref())
    }

    /// The ledger records `step` of `key` in `state`, by run `run_id`, with `id`.
    pub fn with_step_id(
        mut self,
        key: &str,
        step: &str,
        state: StepState,
        run_id: &str,
        id: Option<&str>,
    ) -> Planner {
        let id = id.map(str::to_string);
        self.ledger.insert(
            (key.to_string(), step.to_string()),
            LedgerStep {
                state,
                id,
                run_id: run_id.to_string(),
            },
        );
        self
    }
}

const NO_SENDING: &str = "a planning test sends nothing";

impl Engine for Planner {
    fn target(&self) -> &Target {
        &self.target
    }
    fn http(&self) -> &Http {
        &self.http
    }
    fn dry_run(&self) -> bool {
        self.dry_run
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    fn ledger(&self, key: &str, step: &str) -> Option<&LedgerStep> {
        self.ledger.get(&(key.to_string(), step.to_string()))
    }
    fn made_by_this_run(&self, key: &str, step: &str) -> bool {
        Engine::ledger(self, key, step).is_some_and(|s| s.run_id == THIS_RUN)
    }
    fn standing(&self, key: &str, listed: Option<&str>) -> super::standing::Standing {
        super::standing::standing(
            Engine::ledger(self, key, super::STEP_USER),
            Engine::ledger(self, key, super::STEP_COMPLETE).is_some(),
            listed,
        )
    }
    fn finish(&self, index: usize, outcome: Outcome) {
        self.finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(index)
            .or_insert(outcome);
    }
    fn note(&self, _: &str) {}
    fn log(&self, _: tracing::Level, _: &str) {}
    fn halted(&self) -> bool {
        false
    }
    fn keep_generated_password(&self, _: &str, _: &Secret) -> Result<bool, VendorError> {
        Ok(false)
    }
    async fn for_each<T, F, Fut>(&self, items: Vec<T>, f: F)
    where
        T: Send,
        F: Fn(T) -> Fut + Send + Sync,
        Fut: Future<Output = ()> + Send,
    {
        for item in items {
            f(item).await
        }
    }
    async fn settle_listed(&self, step: Step<'_>, took: Option<&str>) -> Result<bool, RowError> {
        self.settled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                format!("{}:{}", step.key, step.name),
                took.map(str::to_string),
            ));
        Ok(took.is_some())
    }
    async fn batch<B: Batch>(&self, _: &B, _: Vec<B::Op>) {
        panic!("{NO_SENDING}")
    }
    async fn rows<R: super::protocol::Rows>(&self, _: &R, _: &R::Existing, _: Vec<super::Job>) {
        panic!("{NO_SENDING}")
    }
}

/// A rule test: the row's cells and the messages expected, in order.
pub type Case<'a> = (&'a [(crate::model::Field, &'a str)], &'a [&'a str]);

/// The messages a rule test expects, in order.
pub type Expected<'a> = &'a [&'a str];

/// Runs one vendor's rules ([`super::check`]) on a row made of `cells` and returns the
/// messages.
pub fn messages_for(
    vendor: VendorKind,
    action: crate::model::Action,
    cells: &[(crate::model::Field, &str)],
) -> Vec<String> {
    let row = crate::rules::testing::row(cells);
    crate::rules::testing::messages(&super::problems(vendor, &row, action))
}

/// A plan's user step in a line, for connectors' plan tests: `nothing`, `create POST /users`
/// (` (complete)` when the row is complete with it), or `update: PUT /users/7 -> updated`.
pub fn user_step(user: &super::protocol::UserStep) -> String {
    use super::protocol::UserStep;
    match user {
        UserStep::Nothing => "nothing".to_string(),
        UserStep::Create {
            request, complete, ..
        } => format!(
            "create {} {}{}",
            request.method,
            request.path,
            if *complete { " (complete)" } else { "" }
        ),
        UserStep::Write {
            name,
            request,
            done,
            ..
        } => format!("{name}: {} {} -> {done}", request.method, request.path),
    }
}
