//! The `ordo` binary: `ordo dev`, `ordo run --config FILE`, `ordo bench`, `ordo plugin`,
//! `ordo verify`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;
use ordo_node::{NodeConfig, config::dev_keys};
use tracing_subscriber::EnvFilter;

/// Every block allocates and frees megabytes (its state overlay, trie updates, receipts);
/// glibc's malloc gave them back to the kernel and page-faulted them in again block after
/// block (a fifth of the builder thread's time at 10M accounts). mimalloc keeps them. It is
/// built without transparent huge pages (`no_thp`): each first touch of a huge page zeroes
/// 2 MiB in the fault, which took a fifth of the builder's time again (execution of a
/// 1,000-transfer block at 10M accounts: p50 18 ms with them, 9-10 ms without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Load-test any Ethereum JSON-RPC node (runs `ordo-bench`, which sits next to `ordo`).
    #[command(disable_help_flag = true)]
    Bench {
        /// Passed through to `ordo-bench` (`ordo bench --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<std::ffi::OsString>,
    },
    /// Write and load plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Rebuild the chain from its batches (on L1, or a node's) and check every block.
    Verify(VerifyArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Encrypted keystores for the sequencer and batcher keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Replica groups (high availability).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The rollup's contracts on L1.
    #[command(subcommand)]
    L1(L1Command),
    /// Withdraw to L1: initiate on L2, prove and finalize on L1.
    #[command(subcommand)]
    Withdraw(WithdrawCommand),
    /// Import an Ethereum chain (a geth genesis file and an RLP export of its blocks): every
    /// block is executed under the file's fork rules and must match its header. Serve it
    /// with `ordo run --datadir DIR --no-sequencing`.
    Import {
        /// The chain's geth-style genesis.json (its `config` holds the fork schedule).
        #[arg(long)]
        genesis: PathBuf,
        /// The blocks, RLP-encoded one after another (`geth export`'s format).
        chain: PathBuf,
        /// Data folder to import into (created; an earlier import of the same chain goes on).
        #[arg(long)]
        datadir: PathBuf,
    },
}

/// Where a withdrawal step reaches the two chains.
#[derive(clap::Args)]
struct WithdrawEndpoints {
    /// The Ordo node's JSON-RPC URL.
    #[arg(long, env = "ORDO_L2_RPC")]
    l2_rpc: String,
    /// L1 JSON-RPC URL.
    #[arg(long, env = "ORDO_L1_RPC")]
    l1_rpc: String,
    /// The portal (default: the node's `ordo_rollupConfig`).
    #[arg(long)]
    portal: Option<alloy_primitives::Address>,
    /// The output oracle (default: the node's `ordo_rollupConfig`).
    #[arg(long)]
    oracle: Option<alloy_primitives::Address>,
}

#[derive(Subcommand)]
enum WithdrawCommand {
    /// Send ether from L2 to an L1 address through the message passer; prints the L2
    /// transaction, which the other steps take.
    Initiate {
        /// The Ordo node's JSON-RPC URL.
        #[arg(long, env = "ORDO_L2_RPC")]
        l2_rpc: String,
        /// File holding the L2 account's secret key (hex, mode 0600).
        #[arg(long)]
        key_file: PathBuf,
        /// Wei to withdraw.
        #[arg(long)]
        value: alloy_primitives::U256,
        /// The L1 recipient (default: the same address).
        #[arg(long)]
        to: Option<alloy_primitives::Address>,
        /// Gas the L1 call gets at least.
        #[arg(long, default_value_t = 100_000)]
        gas_limit: u64,
        /// Calldata of the L1 call (hex).
        #[arg(long, default_value = "0x")]
        data: alloy_primitives::Bytes,
    },
    /// Prove on L1 the withdrawal an L2 transaction sent (with --wait, once an output covers
    /// its block).
    Prove(WithdrawStep),
    /// Finalize on L1 a proven withdrawal: its call is made (with --wait, once the
    /// finalization period is over).
    Finalize(WithdrawStep),
    /// Where a withdrawal stands: waiting-to-prove, ready-to-prove, waiting-to-finalize,
    /// ready-to-finalize or finalized.
    Status {
        #[command(flatten)]
        endpoints: WithdrawEndpoints,
        /// The L2 transaction that initiated the withdrawal.
        #[arg(long)]
        tx: alloy_primitives::B256,
    },
}

/// One L1 step of a withdrawal.
#[derive(clap::Args)]
struct WithdrawStep {
    #[command(flatten)]
    endpoints: WithdrawEndpoints,
    /// File holding the secret key of the L1 account that pays for the step.
    #[arg(long)]
    key_file: PathBuf,
    /// The L2 transaction that initiated the withdrawal.
    #[arg(long)]
    tx: alloy_primitives::B256,
    /// Wait until the step can be taken (else fail if it cannot be yet).
    #[arg(long)]
    wait: bool,
}

impl WithdrawEndpoints {
    fn into_endpoints(self) -> ordo_node::withdraw::Endpoints {
        ordo_node::withdraw::Endpoints {
            l1_rpc: self.l1_rpc,
            l2_rpc: self.l2_rpc,
            portal: self.portal,
            oracle: self.oracle,
        }
    }
}

#[derive(Subcommand)]
enum L1Command {
    /// Deploy the output oracle and the portal on L1 and print the `[l1]` lines that name
    /// them.
    Deploy {
        /// L1 JSON-RPC URL.
        #[arg(long, env = "ORDO_L1_RPC")]
        l1_rpc: String,
        /// File holding the deploying account's secret key (hex, mode 0600).
        #[arg(long)]
        key_file: PathBuf,
        /// The batch inbox the chain uses (printed with the portal; any address works).
        #[arg(long)]
        batch_inbox: Option<alloy_primitives::Address>,
        /// The only account that may propose outputs (the node's `[l1]` proposer key);
        /// default: the key a node derives from the deploying key when that is its batcher
        /// key and no proposer key is configured.
        #[arg(long)]
        proposer: Option<alloy_primitives::Address>,
        /// The account that may delete outputs not yet final; default: the deployer.
        #[arg(long)]
        challenger: Option<alloy_primitives::Address>,
        /// Seconds from an output (and a withdrawal's proof) to the withdrawal's
        /// finalization (OP's: 7 days).
        #[arg(long, default_value_t = 604_800)]
        finalization_period: u64,
        /// L2 blocks expected between outputs (one per batch; tools estimate waits with it).
        #[arg(long, default_value_t = 30)]
        submission_interval: u64,
        /// Seconds per L2 block as tools should assume it (at least 1).
        #[arg(long, default_value_t = 1)]
        l2_block_time: u64,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Write the configuration of a replica group: DIR/node<i>/ordo.toml for each replica
    /// (free loopback ports), a shared secret and sequencer key, one genesis.
    Init {
        /// How many replicas (3 tolerates one failure, 5 two).
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Where the group's files go.
        #[arg(long)]
        dir: PathBuf,
        /// A geth-style genesis.json for the chain (default: the dev chain's accounts).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a fresh key in an encrypted JSON keystore (Web3 Secret Storage).
    New {
        /// Folder for the keystore file.
        #[arg(long, default_value = "keys")]
        keystore_dir: PathBuf,
        /// File holding the password (else ORDO_KEYSTORE_PASSWORD).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Encrypt a raw hex key file (mode 0600) into a keystore.
    Import {
        /// The raw key file.
        #[arg(long)]
        key_file: PathBuf,
        /// Folder for the keystore file.
        #[arg(long, default_value = "keys")]
        keystore_dir: PathBuf,
        /// File holding the password (else ORDO_KEYSTORE_PASSWORD).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List the keystores in a folder with their addresses.
    List {
        #[arg(long, default_value = "keys")]
        keystore_dir: PathBuf,
    },
}

/// A keystore password from a file or `ORDO_KEYSTORE_PASSWORD`.
fn keystore_password(file: Option<&std::path::Path>) -> eyre::Result<zeroize::Zeroizing<String>> {
    let password = match file {
        Some(path) => ordo_node::keys::read_secret_file(path, "password")?,
        None => ordo_node::keys::secret_env("ORDO_KEYSTORE_PASSWORD").ok_or_else(|| {
            eyre::eyre!("give the password with --password-file or ORDO_KEYSTORE_PASSWORD")
        })?,
    };
    let password = zeroize::Zeroizing::new(password.trim_end_matches(['\n', '\r']).to_string());
    eyre::ensure!(!password.is_empty(), "the keystore password is empty");
    Ok(password)
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults < file < ORDO_* env < flags) as TOML.
    Print {
        /// TOML configuration file.
        #[arg(long, env = "ORDO_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        args: NodeArgs,
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// L1 JSON-RPC URL to read the batch inbox from.
    #[arg(long, env = "ORDO_L1_RPC", requires_all = ["batch_inbox", "batcher"], conflicts_with = "batches_rpc")]
    l1_rpc: Option<String>,
    /// The batch inbox address on L1.
    #[arg(long)]
    batch_inbox: Option<alloy_primitives::Address>,
    /// The batcher's L1 address (only its inbox transactions count).
    #[arg(long)]
    batcher: Option<alloy_primitives::Address>,
    /// First L1 block to scan.
    #[arg(long, default_value_t = 0)]
    l1_from_block: u64,
    /// Beacon API URL for blob batches (`/eth/v1/beacon/blobs/{block_id}`); default: the
    /// --l1-rpc URL (anvil serves both).
    #[arg(long, env = "ORDO_L1_BEACON", requires = "l1_rpc")]
    l1_beacon: Option<String>,
    /// The deposit portal on L1: every block's deposits are checked against its logs (each
    /// origin's deposits included once, first in the first block of that origin, none
    /// invented).
    #[arg(long, requires = "l1_rpc")]
    portal: Option<alloy_primitives::Address>,
    /// The chain's sequencing window in L1 blocks (`[l1] sequencing_window`): a block whose
    /// batch reached L1 later must be its origin's deposit-only block, and origins past it
    /// with no batch get theirs.
    #[arg(long, default_value_t = 3600, requires = "portal")]
    sequencing_window: u64,
    /// The output oracle on L1: every output root it holds must be the derived chain's
    /// output of its block, and every attestation posted with one what the prover plugin of
    /// the posted code hash gives for its batch (shipped provers, or --plugin-dir).
    #[arg(long, requires = "l1_rpc")]
    oracle: Option<alloy_primitives::Address>,
    /// Read the batches from a node's `ordo_getBatch` instead of L1.
    #[arg(long)]
    batches_rpc: Option<String>,
    /// Compare every rebuilt block hash with this node's.
    #[arg(long)]
    compare_rpc: Option<String>,
    /// Also check that every block carries this sequencer's signature (needs --compare-rpc).
    #[arg(long, requires = "compare_rpc")]
    sequencer: Option<alloy_primitives::Address>,
    /// geth-style genesis.json of the chain.
    #[arg(long, conflicts_with = "dev")]
    genesis: Option<PathBuf>,
    /// The `ordo dev` chain (dev accounts).
    #[arg(long)]
    dev: bool,
    /// Chain id of the dev chain.
    #[arg(long)]
    chain_id: Option<u64>,
    /// Extra compression and prover plugins (`*.wasm`), beyond the shipped ones.
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Where the verifier keeps its rebuilt chain (default: a fresh temporary folder).
    #[arg(long)]
    datadir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Scaffold a plugin crate that builds for wasm32-wasip2 and passes its native test.
    New {
        /// ordering, compression or prover.
        kind: String,
        /// Crate name (kebab-case); also the folder created.
        name: String,
        /// Where to create the crate (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The ordo-sdk folder the crate depends on (default: the sdk of this checkout).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Load a plugin into a running node through its admin API.
    Load {
        /// The plugin's .wasm file.
        file: PathBuf,
        /// ordering, searcher, compression or prover.
        #[arg(long)]
        kind: String,
        /// Make it active at the next block boundary once loaded.
        #[arg(long)]
        activate: bool,
        /// Config string handed to the plugin.
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        admin: ordo_node::cli::AdminArgs,
    },
}

/// Flags shared by `dev` and `run`; each overrides the config file.
#[derive(Args, Clone, Default)]
struct NodeArgs {
    /// Set any configuration key: `--set l1.confirmations=5` (repeatable; the value is TOML,
    /// bare text is a string). Beats the file and `ORDO_*` variables.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
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
    /// Admin JSON-RPC address (plugins; bearer token).
    #[arg(long, env = "ORDO_ADMIN_ADDR")]
    admin_addr: Option<SocketAddr>,
    /// File holding the admin bearer token (default: `<datadir>/admin.token`, generated).
    #[arg(long, env = "ORDO_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// L1 JSON-RPC URL to post batches to (without it batches are kept, not posted).
    #[arg(long, env = "ORDO_L1_RPC")]
    l1_rpc: Option<String>,
    /// File holding the batcher's L1 secret key (hex).
    #[arg(long, env = "ORDO_L1_KEY_FILE")]
    l1_key_file: Option<PathBuf>,
    /// The batch inbox address on L1.
    #[arg(long, env = "ORDO_BATCH_INBOX")]
    batch_inbox: Option<alloy_primitives::Address>,
    /// L1 confirmations before a batch counts as confirmed.
    #[arg(long, env = "ORDO_L1_CONFIRMATIONS")]
    l1_confirmations: Option<u64>,
    /// Where batch data goes on L1: calldata, blobs, or auto (the cheaper per batch).
    #[arg(long, env = "ORDO_DA")]
    da: Option<ordo_l1::DaMode>,
    /// Batches submitted to L1 and not yet confirmed at once.
    #[arg(long, env = "ORDO_L1_MAX_IN_FLIGHT")]
    l1_max_in_flight: Option<usize>,
    /// Log format: pretty or json.
    #[arg(long, env = "ORDO_LOG_FORMAT", default_value = "pretty")]
    log_format: String,
    /// Serve the stored chain read-only: seal no blocks, post nothing, keep accepting
    /// transactions into the pool (`[builder] sequencing = false`; an imported chain).
    #[arg(long)]
    no_sequencing: bool,
}

impl NodeArgs {
    /// Defaults < `file` < `ORDO_*` environment < `--set` < the named flags.
    fn config(&self, file: Option<&std::path::Path>) -> eyre::Result<NodeConfig> {
        let base = NodeConfig::layered(file, std::env::vars(), &self.set)?;
        Ok(self.apply(base))
    }

    fn apply(&self, mut cfg: NodeConfig) -> NodeConfig {
        if let Some(v) = &self.datadir {
            cfg.datadir = v.clone();
        }
        if self.no_sequencing {
            cfg.builder.sequencing = false;
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
        if let Some(v) = self.admin_addr {
            cfg.admin_addr = v;
        }
        if let Some(v) = &self.admin_token_file {
            cfg.admin_token_file = Some(v.clone());
        }
        if let Some(v) = &self.l1_rpc {
            cfg.l1.rpc_url = Some(v.clone());
        }
        if let Some(v) = &self.l1_key_file {
            cfg.l1.key_file = Some(v.clone());
        }
        if let Some(v) = self.batch_inbox {
            cfg.l1.batch_inbox = Some(v);
        }
        if let Some(v) = self.l1_confirmations {
            cfg.l1.confirmations = v;
        }
        if let Some(v) = self.da {
            cfg.l1.da = v;
        }
        if let Some(v) = self.l1_max_in_flight {
            cfg.l1.max_in_flight = v;
        }
        cfg
    }
}

fn init_tracing(format: &str) {
    let filter = EnvFilter::try_from_env("ORDO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        // openraft narrates every election, snapshot and unreachable peer at INFO/ERROR;
        // the replica's own lines (`ordo::replica`) say what an operator needs.
        .unwrap_or_else(|_| EnvFilter::new("info,openraft=warn"));
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

/// `ordo withdraw`: one step, its result on stdout as `key = value` lines.
async fn withdraw(step: WithdrawCommand) -> eyre::Result<()> {
    use ordo_node::withdraw;
    match step {
        WithdrawCommand::Initiate {
            l2_rpc,
            key_file,
            value,
            to,
            gas_limit,
            data,
        } => {
            let key = ordo_node::keys::read_key_file(&key_file, "withdrawing")?;
            let target = to.unwrap_or(key.address());
            let (tx, block, hash) =
                withdraw::initiate(&l2_rpc, key, target, value, gas_limit, data).await?;
            println!("l2_tx = {tx}");
            println!("l2_block = {block}");
            println!("withdrawal_hash = {hash}");
        }
        WithdrawCommand::Prove(step) => {
            let key = ordo_node::keys::read_key_file(&step.key_file, "proving")?;
            let endpoints = step.endpoints.into_endpoints();
            let l1_tx = withdraw::prove(&endpoints, key, step.tx, step.wait).await?;
            println!("proven = {l1_tx}");
        }
        WithdrawCommand::Finalize(step) => {
            let key = ordo_node::keys::read_key_file(&step.key_file, "finalizing")?;
            let endpoints = step.endpoints.into_endpoints();
            let (l1_tx, success) = withdraw::finalize(&endpoints, key, step.tx, step.wait).await?;
            println!("finalized = {l1_tx}");
            println!("call_succeeded = {success}");
        }
        WithdrawCommand::Status { endpoints, tx } => {
            let status = withdraw::status(&endpoints.into_endpoints(), tx).await?;
            println!("status = {status}");
        }
    }
    Ok(())
}

async fn run_node(mut cfg: NodeConfig, dev: bool) -> eyre::Result<()> {
    if dev {
        print_dev_accounts(&cfg)?;
        if let Some(deployed) = ordo_node::l1::dev_contracts(&cfg).await? {
            cfg.l1.portal = Some(deployed.portal);
            cfg.l1.output_oracle = Some(deployed.output_oracle);
        }
    }
    let node = ordo_node::launch(cfg).await?;
    // Machine-readable lines for scripts and tests (logs go to stderr).
    println!("ORDO_RPC_ADDR={}", node.rpc_addr);
    println!("ORDO_ADMIN_ADDR={}", node.admin_addr);
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
    // Before anything else, and before any thread exists: secrets leave the environment.
    ordo_node::keys::take_secret_env();
    let cli = Cli::parse();
    if let Command::Bench { args } = &cli.command {
        // Replaces this process before any runtime thread exists.
        return ordo_node::cli::exec_bench(args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Dev(args) => {
            init_tracing(&args.log_format);
            let cfg = args.config(None)?;
            runtime.block_on(run_node(cfg, true))
        }
        Command::Run { config, args } => {
            init_tracing(&args.log_format);
            let cfg = args.config(config.as_deref())?;
            runtime.block_on(run_node(cfg, false))
        }
        Command::Keys(KeysCommand::New {
            keystore_dir,
            password_file,
        }) => {
            let password = keystore_password(password_file.as_deref())?;
            let (address, file) = ordo_node::keys::new_keystore(&keystore_dir, &password)?;
            println!("{address} {}", file.display());
            Ok(())
        }
        Command::Keys(KeysCommand::Import {
            key_file,
            keystore_dir,
            password_file,
        }) => {
            let password = keystore_password(password_file.as_deref())?;
            let (address, file) =
                ordo_node::keys::import_keystore(&key_file, &keystore_dir, &password)?;
            println!("{address} {}", file.display());
            Ok(())
        }
        Command::Keys(KeysCommand::List { keystore_dir }) => {
            for (file, address) in ordo_node::keys::list_keystores(&keystore_dir)? {
                println!(
                    "{} {}",
                    address.as_deref().unwrap_or("(address not recorded)"),
                    file.display()
                );
            }
            Ok(())
        }
        Command::Cluster(ClusterCommand::Init {
            replicas,
            dir,
            genesis,
        }) => {
            let report = ordo_node::cluster::init(&dir, replicas, genesis.as_deref())?;
            println!(
                "# start each replica (any order; the group elects a leader once a majority runs):"
            );
            for config in &report.configs {
                println!("ordo run --config {}", config.display());
            }
            Ok(())
        }
        Command::L1(L1Command::Deploy {
            l1_rpc,
            key_file,
            batch_inbox,
            proposer,
            challenger,
            finalization_period,
            submission_interval,
            l2_block_time,
        }) => {
            let key = ordo_node::keys::read_key_file(&key_file, "deployer")?;
            let params = ordo_l1::OracleParams {
                submission_interval: submission_interval.max(1),
                l2_block_time: l2_block_time.max(1),
                starting_block_number: 0,
                starting_timestamp: 0,
                proposer: proposer
                    .unwrap_or_else(|| ordo_node::l1::derived_proposer_key(&key).address()),
                challenger: challenger.unwrap_or(key.address()),
                finalization_period_secs: finalization_period,
            };
            let (portal, oracle) = runtime.block_on(async {
                let oracle = ordo_l1::deploy_oracle(&l1_rpc, key.clone(), params)
                    .await
                    .wrap_err("deploying the output oracle")?;
                let portal = ordo_l1::deploy_portal(&l1_rpc, key, oracle)
                    .await
                    .wrap_err("deploying the portal")?;
                eyre::Ok((portal, oracle))
            })?;
            println!("# for the [l1] section of ordo.toml");
            println!("portal = \"{portal}\"");
            println!("output_oracle = \"{oracle}\"");
            println!(
                "# proposer {}: with --proposer, its key goes in proposer_key_file; without, a \
                 node whose batcher key deployed this derives it (fund it on L1)",
                params.proposer
            );
            if let Some(inbox) = batch_inbox {
                println!("batch_inbox = \"{inbox}\"");
            }
            Ok(())
        }
        Command::Withdraw(step) => runtime.block_on(withdraw(step)),
        Command::Config(ConfigCommand::Print { config, args }) => {
            print!("{}", args.config(config.as_deref())?.to_toml()?);
            Ok(())
        }
        Command::Bench { args } => ordo_node::cli::exec_bench(&args),
        Command::Plugin(PluginCommand::New {
            kind,
            name,
            dir,
            sdk_path,
        }) => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            ordo_node::cli::scaffold(&kind, &name, &dir, sdk_path.as_deref())?;
            eprintln!(
                "created {} ({kind} plugin); build with: cd {} && cargo build --release --target wasm32-wasip2",
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        Command::Import {
            genesis,
            chain,
            datadir,
        } => {
            init_tracing("pretty");
            let done = ordo_node::import::import_chain(&genesis, &chain, &datadir)?;
            println!(
                "imported {} blocks: head {} {} (genesis {})",
                done.imported, done.head, done.head_hash, done.genesis
            );
            Ok(())
        }
        Command::Verify(args) => {
            init_tracing("pretty");
            if args.genesis.is_none() && !args.dev {
                eyre::bail!("say which chain: --dev or --genesis FILE");
            }
            let source = match (&args.l1_rpc, &args.batches_rpc) {
                (Some(rpc), _) => ordo_node::verify::FrameSource::L1 {
                    rpc: rpc.clone(),
                    inbox: args
                        .batch_inbox
                        .ok_or_else(|| eyre::eyre!("--batch-inbox is required"))?,
                    batcher: args
                        .batcher
                        .ok_or_else(|| eyre::eyre!("--batcher is required"))?,
                    from_block: args.l1_from_block,
                    beacon: args.l1_beacon.clone(),
                },
                (None, Some(rpc)) => ordo_node::verify::FrameSource::Node { rpc: rpc.clone() },
                (None, None) => eyre::bail!("say where the batches are: --l1-rpc or --batches-rpc"),
            };
            let temp = tempfile::tempdir()?;
            let mut cfg = NodeConfig {
                genesis: args.genesis.clone(),
                datadir: args
                    .datadir
                    .clone()
                    .unwrap_or_else(|| temp.path().join("verify")),
                ..NodeConfig::default()
            };
            if let Some(id) = args.chain_id {
                cfg.chain_id = id;
            }
            runtime.block_on(ordo_node::verify::run(
                &cfg,
                &source,
                args.compare_rpc.as_deref(),
                args.sequencer,
                args.portal
                    .zip(args.l1_rpc.clone())
                    .map(|(portal, l1_rpc)| ordo_derive::DepositCheck {
                        l1_rpc,
                        portal,
                        window: args.sequencing_window,
                    }),
                args.oracle
                    .zip(args.l1_rpc.clone())
                    .map(|(oracle, l1_rpc)| ordo_derive::OutputCheck {
                        l1_rpc,
                        oracle,
                        from_block: args.l1_from_block,
                    }),
                args.plugin_dir.as_deref(),
            ))?;
            Ok(())
        }
        Command::Plugin(PluginCommand::Load {
            file,
            kind,
            activate,
            config,
            admin,
        }) => {
            let info = runtime.block_on(ordo_node::cli::load_plugin(
                &admin,
                &file,
                &kind,
                config.as_deref(),
                activate,
            ))?;
            println!("{info}");
            Ok(())
        }
    }
}
