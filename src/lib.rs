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
pub mod http;
pub mod input;
pub mod journal;
pub mod mapping;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod report;
pub mod roster;
pub mod rules;
pub mod sandbox;
pub mod secret;
pub mod settings;
pub mod submit;
pub mod suggest;
pub mod validate;
pub mod vendors;

/// `eprintln!` that never panics. When standard error's reader has gone (`muster import
/// roster.csv 2>&1 | head`), the message is dropped and the run goes on to its own end and
/// exit code; `eprintln!` would panic there. clippy.toml bans `eprintln!` and its kin.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// [`say!`] without the line break (`eprint!`).
#[macro_export]
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub use cli::Cli;
pub use env::Env;

/// How a run ended when it could run (exit 2 is an `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row succeeded.
    Success = 0,
    /// Some rows are invalid or failed; the workbook says which.
    RowsFailed = 1,
    /// Interrupted (SIGINT, SIGTERM): the workbook says which rows were left; running the
    /// same command again finishes them.
    Interrupted = 130,
}

/// Runs one command line. `Err` means "could not run" (exit 2).
pub async fn run(cli: Cli, env: &Env) -> anyhow::Result<Exit> {
    commands::dispatch(cli, env).await
}
