//! muster: provision users on fleet-telematics platforms from spreadsheets, exactly once.
//!
//! The pipeline runs one way: read (`input`) → map (`mapping`) → validate (`validate`) →
//! plan (`plan`) → submit (`submit`, `journal`) → report (`report`). `run` is the whole
//! program, callable in-process by tests.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env;
pub mod input;
pub mod journal;
pub mod mapping;
pub mod model;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod secret;
pub mod submit;
pub mod validate;
pub mod vendors;

pub use cli::Cli;
pub use env::Env;

/// How a run ended when it could run (exit 2 is an `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row succeeded.
    Success = 0,
    /// Some rows are invalid or failed; the workbook says which.
    RowsFailed = 1,
}

/// Runs one command line. `Err` means "could not run" (exit 2).
pub async fn run(cli: Cli, env: &Env) -> anyhow::Result<Exit> {
    commands::dispatch(cli, env).await
}
