//! The `ordo-bench` binary: load-test any Ethereum JSON-RPC node (`ordo bench ARGS`), or
//! write a large state to load it against (`ordo bench state ARGS`), or time blocks on a
//! datadir's state alone (`ordo bench blocks ARGS`). `ordo bench` runs this
//! executable (found next to `ordo`) with the same arguments.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Load-test any Ethereum JSON-RPC node.
/// The node's allocator (see its `main.rs`), so that `ordo bench blocks` times the stages
/// as the node runs them: glibc's malloc gives each block's buffers back to the kernel and
/// faults them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Append blocks of transfers to a datadir's state with no node, timing each stage of
    /// each block (execution, root, staging, commit).
    Blocks(ordo_bench::BlocksArgs),
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
    match &cli.command {
        Some(Command::State(args)) => return ordo_bench::build_state(args),
        Some(Command::Blocks(args)) => return ordo_bench::run_blocks(args),
        None => {}
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(ordo_bench::run(cli.args))
}
