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
            muster::say!("muster: {err}");
            for cause in err.chain().skip(1) {
                muster::say!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
