//! One file per subcommand: glue that calls the stages in order. `anyhow` lives here.

pub mod apply;
pub mod audit;
pub mod demo;
pub mod fields;
pub mod import;
pub mod journal;
pub mod report;
pub mod sandbox;
pub mod template;
pub mod validate;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::{Env, Exit};

/// Runs the subcommand of `cli`.
pub async fn dispatch(cli: Cli, env: &Env) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate(args) => validate::run(args, env),
        Command::Import(args) => import::run(args, env).await,
        Command::Template(args) => template::run(args),
        Command::Verify(args) => verify::run(args, env).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Demo(args) => demo::run(args, env).await,
        Command::Report(args) => report::run(args, env),
        Command::Audit(args) => audit::run(args, env).await,
        Command::Apply(args) => apply::run(args, env).await,
        Command::Journal(args) => journal::run(args, env),
        Command::Fields => fields::run(),
    }
}
