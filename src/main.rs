use std::process::ExitCode;

use clap::Parser;
use muster::{Cli, Env};

// Rows are made on one thread and dropped on another, a million small allocations a run;
// mimalloc keeps that cheap where the system allocator spends a tenth of validate's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            muster::say!("muster: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(muster::run(cli, &Env::process())) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            // One line: the message, then each cause it does not already say
            // ("cannot read config muster.toml: No such file or directory").
            let mut line = err.to_string();
            for cause in err.chain().skip(1) {
                let cause = cause.to_string();
                if !line.contains(&cause) {
                    line = format!("{line}: {cause}");
                }
            }
            muster::say!("muster: {line}");
            ExitCode::from(2)
        }
    }
}
