//! `muster template VENDOR|all`: an xlsx per vendor with headers, drop-downs, notes and an
//! example row.

use crate::Exit;
use crate::cli::TemplateArgs;

pub fn run(args: TemplateArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("template {} is not implemented yet", args.vendor)
}
