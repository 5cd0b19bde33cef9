//! `muster import`: the provisioning pipeline (`pipeline`) on the roster files, and the
//! exit code of its outcome.

use crate::cli::ImportArgs;
use crate::pipeline;
use crate::{Env, Exit};

pub async fn run(args: ImportArgs, env: &Env) -> anyhow::Result<Exit> {
    let summary = pipeline::import(args, env).await?;
    Ok(pipeline::exit_of(&summary))
}
