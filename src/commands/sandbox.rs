//! `muster sandbox`: serve the simulators on loopback until interrupted.
//!
//! The first line on stdout is exactly `listening on http://ADDR` (scripts and tests read
//! it); the lines after it tell a person how to point muster at the sandbox.

use std::io::Write;

use anyhow::Context;

use crate::Exit;
use crate::cli::{FaultArgs, SandboxArgs};
use crate::config::Rate;
use crate::sandbox::{Options, Sandbox};

/// The flags as the sandbox takes them; a share outside 0..1 or a rate that does not
/// parse is an error naming the flag.
pub fn options(faults: &FaultArgs) -> anyhow::Result<Options> {
    for (flag, p) in [
        ("--error-rate", faults.error_rate),
        ("--timeout-rate", faults.timeout_rate),
        ("--drop-rate", faults.drop_rate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            anyhow::bail!("{flag} {p}: must be a share between 0 and 1 (e.g. 0.05)");
        }
    }
    let rate = match &faults.rate {
        None => None,
        Some(text) => match Rate::parse(text).map_err(|m| anyhow::anyhow!("--rate {m}"))? {
            Rate::Unlimited => None,
            rate => Some(rate),
        },
    };
    Ok(Options {
        latency_ms: faults.latency_ms,
        error_rate: faults.error_rate,
        timeout_rate: faults.timeout_rate,
        drop_rate: faults.drop_rate,
        rate,
        drtrack_atomic: faults.drtrack_atomic,
        seed: faults.seed,
        ..Options::default()
    })
}

/// Starts the sandbox, writes the config if asked, prints how to use it, serves until
/// Ctrl-C, then stops gracefully.
pub async fn run(args: SandboxArgs) -> anyhow::Result<Exit> {
    let mut options = options(&args.faults)?;
    if let Some(path) = &args.arobs_users {
        options.arobs_users = crate::sandbox::arobs::read_users(path)
            .map_err(|m| anyhow::anyhow!("--arobs-users {m}"))?;
    }
    options
        .platform_users
        .extend(crate::sandbox::seed::traccar_users(args.seed_users));
    let arobs_users = options.arobs_users.len();
    let sandbox = Sandbox::start(&args.listen, options)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(path) = &args.write_config {
        std::fs::write(path, sandbox.config_toml())
            .with_context(|| format!("cannot write the config {}", path.display()))?;
    }
    let url = sandbox.url();
    let mut text = format!("listening on {url}\n");
    text.push_str("\nThe sandbox accepts these credentials (sandbox-only values):\n");
    for (var, value) in Sandbox::credentials() {
        text.push_str(&format!("  export {var}='{value}'\n"));
    }
    match &args.write_config {
        Some(path) => text.push_str(&format!(
            "\nTargets traccar, motive, pegasus, drtrack and arobs are in {}:\n  muster import ROSTER --config {}\n",
            path.display(),
            path.display()
        )),
        None => text.push_str(
            "\nWrite a config whose targets point here with --write-config muster.toml.\n",
        ),
    }
    if let Some(path) = &args.arobs_users {
        text.push_str(&format!(
            "AROBS: {arobs_users} API users from {} (try `muster verify ROSTER --config ...`).\n",
            path.display()
        ));
    }
    if args.seed_users > 0 {
        text.push_str(&format!(
            "Traccar: {} users held from the start (--seed-users).\n",
            args.seed_users
        ));
    }
    text.push_str(&format!(
        "Counters: {url}/_sandbox/stats\nPress Ctrl-C to stop.\n"
    ));
    let mut out = crate::report::stdout::Stdout::new();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    drop(out);
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    sandbox.stop().await;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_options() {
        let faults = FaultArgs {
            latency_ms: 5,
            error_rate: 0.1,
            timeout_rate: 0.02,
            drop_rate: 0.01,
            rate: Some("50/s".into()),
            drtrack_atomic: true,
            seed: Some(3),
        };
        let o = options(&faults).unwrap();
        assert_eq!(o.rate.and_then(Rate::per_second), Some(50.0));
        assert_eq!((o.latency_ms, o.seed), (5, Some(3)));
        let none = FaultArgs {
            rate: Some("none".into()),
            ..FaultArgs::default()
        };
        assert!(options(&none).unwrap().rate.is_none());
    }

    #[test]
    fn bad_flags_are_named() {
        let cases = [
            (
                FaultArgs {
                    error_rate: 1.5,
                    ..FaultArgs::default()
                },
                "--error-rate 1.5: must be a share between 0 and 1 (e.g. 0.05)",
            ),
            (
                FaultArgs {
                    drop_rate: -0.5,
                    ..FaultArgs::default()
                },
                "--drop-rate -0.5: must be a share between 0 and 1 (e.g. 0.05)",
            ),
            (
                FaultArgs {
                    rate: Some("fast".into()),
                    ..FaultArgs::default()
                },
                "--rate \"fast\" is not a rate like \"10/s\" or \"600/min\"",
            ),
        ];
        for (faults, want) in cases {
            assert_eq!(options(&faults).unwrap_err().to_string(), want);
        }
    }
}
