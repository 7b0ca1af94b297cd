//! The `ordo-bench` binary: load-test any Ethereum JSON-RPC node (`ordo bench ARGS`), or
//! write a large state to load it against (`ordo bench state ARGS`). `ordo bench` runs this
//! executable (found next to `ordo`) with the same arguments.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Load-test any Ethereum JSON-RPC node.
#[derive(Parser)]
#[command(name = "ordo-bench", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: ordo_bench::BenchArgs,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Write a datadir (or a genesis.json) whose genesis holds many funded accounts and
    /// contracts with storage, for loads against a large state.
    State(ordo_bench::StateArgs),
}

fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    // The same log setup as `ordo` (ORDO_LOG, else RUST_LOG, else info; to stderr).
    let filter = EnvFilter::try_from_env("ORDO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        // The storage engine reports every table it ingests at info: too chatty here.
        .unwrap_or_else(|_| EnvFilter::new("info,lsm_tree=warn,fjall=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Some(Command::State(args)) = &cli.command {
        return ordo_bench::build_state(args);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(ordo_bench::run(cli.args))
}
