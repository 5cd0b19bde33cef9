//! `muster sandbox`: serve the simulators on loopback until interrupted.

use crate::Exit;
use crate::cli::SandboxArgs;

pub async fn run(args: SandboxArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("sandbox on {} is not implemented yet", args.listen)
}
