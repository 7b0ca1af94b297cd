//! The `ordo-bench` binary: load-test any Ethereum JSON-RPC node. `ordo bench ARGS` runs
//! this executable (found next to `ordo`) with the same arguments.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Load-test any Ethereum JSON-RPC node.
#[derive(Parser)]
#[command(name = "ordo-bench", version)]
struct Cli {
    #[command(flatten)]
    args: ordo_bench::BenchArgs,
}

fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    // The same log setup as `ordo` (ORDO_LOG, else RUST_LOG, else info; to stderr).
    let filter = EnvFilter::try_from_env("ORDO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(ordo_bench::run(cli.args))
}
