//! `muster verify`: for each AROBS row, log the manually made API user in and compare the
//! vehicles it can see with the roster's. Same workbook and journal as `import`.

use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::{ImportArgs, VerifyArgs};
use crate::pipeline;
use crate::vendors::Purpose;
use crate::vendors::arobs::Passwords;
use crate::{Env, Exit};

pub async fn run(args: VerifyArgs, env: &Env) -> anyhow::Result<Exit> {
    let passwords = match &args.secrets {
        Some(p) => Passwords::load(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => Passwords::default(),
    };
    let import_args = ImportArgs {
        input: args.input,
        out: args.out,
        journal: args.journal,
        quiet: args.quiet,
        json: args.json,
        allow_insecure_http: args.allow_insecure_http,
        notify_on: args.notify_on,
        ..ImportArgs::default()
    };
    let summary = pipeline::execute(import_args, env, Purpose::Verify(Arc::new(passwords))).await?;
    crate::notify::tell_ending(
        summary.notify.as_ref(),
        args.notify_on,
        summary.ending.as_ref(),
        args.allow_insecure_http,
    )
    .await;
    Ok(pipeline::exit_of(&summary))
}
