//! `muster import`: the provisioning pipeline (`pipeline`) on the roster files, the
//! webhook told how it ended (`notify`), and the exit code of its outcome.

use crate::cli::ImportArgs;
use crate::pipeline;
use crate::{Env, Exit};

pub async fn run(args: ImportArgs, env: &Env) -> anyhow::Result<Exit> {
    let (notify_on, insecure) = (args.notify_on, args.allow_insecure_http);
    let summary = pipeline::import(args, env).await?;
    crate::notify::tell_ending(
        summary.notify.as_ref(),
        notify_on,
        summary.ending.as_ref(),
        insecure,
    )
    .await;
    Ok(pipeline::exit_of(&summary))
}
