//! The `ordo` binary: `ordo dev`, `ordo run --config FILE`, `ordo bench`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;
use ordo_node::{NodeConfig, config::dev_keys};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ordo",
    version,
    about = "Ordo: an L2 sequencer with WebAssembly policies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a dev chain on embedded defaults (prefunded dev accounts, data in ./.ordo/dev).
    Dev(NodeArgs),
    /// Run a node from a config file.
    Run {
        /// TOML configuration file (see ordo.sample.toml).
        #[arg(long, env = "ORDO_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        args: NodeArgs,
    },
    /// Load-test any Ethereum JSON-RPC node.
    Bench(ordo_node::bench::BenchArgs),
}

/// Flags shared by `dev` and `run`; each overrides the config file.
#[derive(Args, Clone, Default)]
struct NodeArgs {
    /// Data folder.
    #[arg(long, env = "ORDO_DATADIR")]
    datadir: Option<PathBuf>,
    /// JSON-RPC HTTP + WebSocket address (port 0: any free port).
    #[arg(long, env = "ORDO_RPC_ADDR")]
    rpc_addr: Option<SocketAddr>,
    /// Chain id of the dev chain.
    #[arg(long, env = "ORDO_CHAIN_ID")]
    chain_id: Option<u64>,
    /// Milliseconds between blocks.
    #[arg(long, env = "ORDO_BLOCK_TIME")]
    block_time: Option<u64>,
    /// Gas limit of every block.
    #[arg(long, env = "ORDO_BLOCK_GAS_LIMIT")]
    block_gas_limit: Option<u64>,
    /// Minimum base fee in wei.
    #[arg(long, env = "ORDO_MIN_BASE_FEE")]
    min_base_fee: Option<u64>,
    /// geth-style genesis.json instead of the dev accounts.
    #[arg(long, env = "ORDO_GENESIS")]
    genesis: Option<PathBuf>,
    /// Log format: pretty or json.
    #[arg(long, env = "ORDO_LOG_FORMAT", default_value = "pretty")]
    log_format: String,
}

impl NodeArgs {
    fn apply(&self, mut cfg: NodeConfig) -> NodeConfig {
        if let Some(v) = &self.datadir {
            cfg.datadir = v.clone();
        }
        if let Some(v) = self.rpc_addr {
            cfg.rpc_addr = v;
        }
        if let Some(v) = self.chain_id {
            cfg.chain_id = v;
        }
        if let Some(v) = self.block_time {
            cfg.block_time_ms = v;
        }
        if let Some(v) = self.block_gas_limit {
            cfg.block_gas_limit = v;
        }
        if let Some(v) = self.min_base_fee {
            cfg.min_base_fee = v;
        }
        if let Some(v) = &self.genesis {
            cfg.genesis = Some(v.clone());
        }
        cfg
    }
}

fn init_tracing(format: &str) {
    let filter = EnvFilter::try_from_env("ORDO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn print_dev_accounts(cfg: &NodeConfig) -> eyre::Result<()> {
    if cfg.genesis.is_some() {
        return Ok(());
    }
    let keys = dev_keys()?;
    let mut out = String::from("\nAvailable accounts (10000 ETH each)\n");
    for (i, key) in keys.iter().enumerate() {
        out.push_str(&format!("({i}) {}\n", key.address()));
    }
    out.push_str("\nPrivate keys (dev only: never use these on a real network)\n");
    for (i, key) in keys.iter().enumerate() {
        out.push_str(&format!("({i}) {}\n", key.to_bytes()));
    }
    out.push_str(&format!("\nChain id: {}\n", cfg.chain_id));
    eprintln!("{out}");
    Ok(())
}

async fn run_node(cfg: NodeConfig, dev: bool) -> eyre::Result<()> {
    if dev {
        print_dev_accounts(&cfg)?;
    }
    let node = ordo_node::launch(cfg).await?;
    // Machine-readable line for scripts and tests (logs go to stderr).
    println!("ORDO_RPC_ADDR={}", node.rpc_addr);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    wait_for_signal().await?;
    tracing::info!(target: "ordo::node", "shutting down");
    node.stop().await
}

async fn wait_for_signal() -> eyre::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).wrap_err("installing SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Dev(args) => {
            init_tracing(&args.log_format);
            let cfg = args.apply(NodeConfig::default());
            runtime.block_on(run_node(cfg, true))
        }
        Command::Run { config, args } => {
            init_tracing(&args.log_format);
            let base = match &config {
                Some(path) => NodeConfig::from_file(path)?,
                None => NodeConfig::default(),
            };
            runtime.block_on(run_node(args.apply(base), false))
        }
        Command::Bench(args) => {
            init_tracing("pretty");
            runtime.block_on(ordo_node::bench::run(args))
        }
    }
}
