//! Ordo node: configuration, wiring and task supervision; the `ordo` binary lives in main.rs.
//!
//! Map of [`launch`]:
//! 1. open fjall under `<datadir>/db`; on first start write the genesis block and its state
//!    (dev accounts or a geth genesis file) in one batch;
//! 2. load the state index ([`ordo_exec::StateDb`]) and the head block;
//! 3. start the pool and refill it from the WAL (every acknowledged transaction that was not
//!    yet included comes back; a replica's come back from its log, as the replica starts);
//! 4. open the plugin manager (restores persisted plugins and the active set; on a fresh
//!    datadir loads the shipped plugins and activates the defaults; then `[[plugins.load]]`)
//!    and hand its ordering slot to the builder;
//!    and its searcher host (every active searcher plugin runs each block); open the
//!    `eth_sendBundle` pool and restore the bundles still ahead of the head;
//! 5. open the batcher (resumes after the last stored batch; compression and prover plugins
//!    through [`batches::ManagerBatchPlugins`]);
//! 6. load the sequencer key ([`keys`]; every sealed block hash is signed), restore the
//!    operator's controls ([`ordo_api::Control`]: halt flag, live block parameters and rate
//!    limits);
//! 7. start the builder loop (a block every block time), the batcher loop, the L1 poster
//!    when `[l1]` names an L1 ([`batches::BatcherQueue`] feeds it the stored batches), the
//!    JSON-RPC server (`ordo-rpc` transport; `ordo-api`'s [`ordo_api::NodeApi`] answers eth
//!    and its namespaces the rest; `/health`, `/ready` and the [`ui`] dashboard share its
//!    port) and the admin listener ([`admin`]: the admin namespace behind a bearer token,
//!    [`metrics`] at `/metrics`);
//!    with `[cluster]`, the node is one replica of a group ([`cluster`]): Raft on its
//!    storage and the replication listener start before the builder, which seals only while
//!    this replica leads; followers forward writes to the leader;
//! 8. on SIGINT/SIGTERM stop accepting requests, let the block in progress finish, persist.
//!
//! Only this crate knows the concrete types of every stage.

pub mod admin;
pub mod batches;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod genesis;
pub mod import;
pub mod keys;
pub mod l1;
pub mod layering;
pub mod metrics;
pub mod secret_file;
pub mod ui;
pub mod verify;
pub mod withdraw;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, U256};
use eyre::WrapErr;
use ordo_builder::{BlockParamsConfig, Builder, HeadCell};
use ordo_exec::{Executor, StateDb};
use ordo_pool::{BundleLimits, BundlePool, Pool, PoolConfig, PoolLimits, StateReader};
use ordo_primitives::BlockRecord;
use ordo_storage::Storage;
use parking_lot::RwLock;
use tokio::sync::watch;

pub use config::NodeConfig;
use config::PluginsSection;
use ordo_plugin_host::PluginManager;

/// The pool's reader of the state, with the prefetch thread's queue.
struct StateAdapter {
    state: Arc<StateDb>,
    prefetch: std::sync::mpsc::SyncSender<Address>,
    /// Whether the chain prices an L1 data fee (it follows an L1, or its head has an L1
    /// origin): otherwise the fee is zero, and ingress does not read L1Block for it.
    l1_priced: bool,
}

/// Accounts waiting to be read ahead. A full queue drops the request: prefetching is an
/// optimisation, and a node behind on it is busy enough.
const PREFETCH_QUEUE: usize = 8192;

impl StateAdapter {
    /// The adapter, and the thread that reads each queued account and its trie path into
    /// the state's caches (one thread: on a machine whose cores ingress already keeps busy,
    /// the reads then cost about what the builder saves, instead of slowing every request).
    fn new(state: Arc<StateDb>, l1_priced: bool) -> std::io::Result<Self> {
        let (prefetch, queue) = std::sync::mpsc::sync_channel::<Address>(PREFETCH_QUEUE);
        let reader = state.clone();
        std::thread::Builder::new()
            .name("ordo-prefetch".into())
            .spawn(move || {
                ordo_exec::apply_prefetch_priority();
                while let Ok(address) = queue.recv() {
                    reader.prefetch(&address);
                }
            })?;
        Ok(Self {
            state,
            prefetch,
            l1_priced,
        })
    }
}

impl StateReader for StateAdapter {
    fn nonce(&self, a: &Address) -> u64 {
        self.state.nonce(a)
    }
    fn balance(&self, a: &Address) -> U256 {
        self.state.balance(a)
    }
    fn l1_fee(&self, tx: &ordo_primitives::PooledTx) -> U256 {
        if !self.l1_priced {
            return U256::ZERO;
        }
        let slot = |i: u64| {
            self.state
                .storage_at(&ordo_primitives::L1_BLOCK, &B256::from(U256::from(i)))
        };
        // A state read that fails prices at zero: the block charges the fee regardless.
        ordo_primitives::L1FeeParams::from_l1_block(slot)
            .map(|p| ordo_primitives::l1_fee(&tx.encoded, &p))
            .unwrap_or_default()
    }
    fn prefetch(&self, tx: &ordo_primitives::PooledTx) {
        use alloy_consensus::Transaction;
        // The sender's account is cached by validation, not its trie path.
        let _ = self.prefetch.try_send(tx.sender);
        if let Some(to) = tx.tx.to() {
            let _ = self.prefetch.try_send(to);
        }
    }
}

/// A running node.
pub struct RunningNode {
    /// The bound JSON-RPC address.
    pub rpc_addr: SocketAddr,
    /// The bound admin address.
    pub admin_addr: SocketAddr,
    /// The plugin manager.
    pub plugins: Arc<PluginManager>,
    /// The builder (head, live parameters, ordering policy).
    pub builder: Arc<Builder>,
    /// The mempool.
    pub pool: Arc<Pool>,
    /// This node's replica of a group, if `[cluster]` names one.
    pub replica: Option<ordo_replica::Replica>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    storage: Storage,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("rpc_addr", &self.rpc_addr)
            .finish_non_exhaustive()
    }
}

impl RunningNode {
    /// Stops the RPC server and the builder (the block in progress finishes) and persists.
    pub async fn stop(self) -> eyre::Result<()> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        // After the builder: its last block may still be waiting for the group.
        if let Some(replica) = &self.replica {
            replica.shutdown().await;
        }
        // What waits to be written behind the blocks (their indexes and trie nodes), so the
        // next start has nothing to recompute.
        if let Err(err) = self.storage.flush_indexes() {
            tracing::warn!(target: "ordo::node", %err, "writing what waits behind the blocks at stop; the next start recomputes it");
        }
        self.storage.flush()?;
        tracing::info!(target: "ordo::node", "stopped");
        Ok(())
    }
}

fn shutdown_signal(
    rx: &watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Opens the storage, writing genesis on first start; returns the head block.
pub fn open_chain(config: &NodeConfig) -> eyre::Result<(Storage, BlockRecord)> {
    std::fs::create_dir_all(&config.datadir)
        .wrap_err_with(|| format!("creating datadir {}", config.datadir.display()))?;
    let storage = Storage::open_with_cache(config.datadir.join("db"), config.state.block_cache_mb)
        .wrap_err("opening storage")?;
    storage.set_min_free_bytes(config.min_free_disk_mb.saturating_mul(1 << 20));
    let head = match storage.head()? {
        Some(n) => storage
            .block(n)?
            .ok_or_else(|| eyre::eyre!("head block {n} missing"))?,
        None => {
            let spec = config.chain_spec()?;
            let block = ordo_exec::write_genesis(&storage, &spec)?;
            tracing::info!(target: "ordo::node", hash = %block.hash, chain_id = spec.chain_id, "wrote genesis");
            block
        }
    };
    Ok((storage, head))
}

/// Raises the soft limit on open files to the hard limit (many systems start processes at
/// 1024, far below what a node with thousands of connections needs) and returns the soft limit
/// in force afterwards, if it is finite.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(target: "ordo::node", from = ?limit.current, to = ?limit.maximum, "open-file limit raised");
            }
            Err(e) => {
                tracing::warn!(target: "ordo::node", error = %e, current = ?limit.current, "open-file limit not raised");
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Starts every stage of the node.
pub async fn launch(config: NodeConfig) -> eyre::Result<RunningNode> {
    // Before any stage records a metric.
    metrics::install();
    // Before storage opens its files, so everything the node opens counts against the
    // raised limit; the connection cap below leaves `fd_reserve` of it to storage.
    let open_files = raise_open_file_limit();
    // Before the builder and the root threads exist: each takes it as it starts.
    ordo_exec::set_block_thread_nice(config.builder.thread_nice);
    let (storage, head) = open_chain(&config)?;
    let chain_id = match storage.chain_id()? {
        Some(id) => id,
        None => config.chain_spec()?.chain_id,
    };
    let state = Arc::new(StateDb::with_cache(storage.clone(), config.state.cache_mb)?);
    // Reads the stored trie's top only (hashes below are stored), so it costs the same at any
    // state size; a mismatch means the datadir was damaged outside a block commit.
    let stored_root = state.state_root()?;
    if stored_root != head.header.state_root {
        eyre::bail!(
            "the stored state trie (root {stored_root}) does not match head block {}'s state \
             root {}: the datadir is damaged",
            head.header.number,
            head.header.state_root
        );
    }
    // An imported Ethereum chain recorded its fork rules; Ordo's own chains have Ordo's.
    let rules = match storage.chain_config()? {
        Some(bytes) => {
            let chain_config: alloy_genesis::ChainConfig =
                serde_json::from_slice(&bytes).wrap_err("the stored chain config")?;
            eyre::ensure!(
                !config.builder.sequencing,
                "this datadir holds an imported Ethereum chain: serve it with --no-sequencing \
                 (Ordo seals blocks only on its own chains)"
            );
            ordo_exec::ChainRules::from_chain_config(&chain_config)
        }
        None => ordo_exec::ChainRules::ordo(),
    };
    // Ordo's base fee floor is a rule of its own chains; an Ethereum chain's pool takes any
    // fee cap, as geth's does (a transaction below the base fee waits).
    let min_base_fee = if rules.op_fees {
        config.min_base_fee
    } else {
        0
    };
    let exec = Executor::new(state.clone(), chain_id).with_rules(Arc::new(rules));
    let gas_limit = head.header.gas_limit;

    let pool_config = PoolConfig {
        max_txs: config.pool.max_txs,
        max_per_sender: config.pool.max_per_sender,
        max_nonce_gap: config.pool.max_nonce_gap,
        ..PoolConfig::default()
    };
    let limits = PoolLimits {
        chain_id,
        block_gas_limit: gas_limit,
        min_base_fee,
    };
    let pool = Pool::new(
        pool_config,
        limits,
        Arc::new(
            StateAdapter::new(
                state.clone(),
                config.l1.portal.is_some() || head.l1_origin.is_some(),
            )
            .wrap_err("starting the prefetch thread")?,
        ),
        storage.clone(),
    );
    // The pool refills itself from the WAL (parallel decode, undecodable entries dropped).
    let kept = pool.restore_from_storage()?;
    tracing::info!(target: "ordo::node", kept, head = head.number(), "mempool restored from WAL");

    let head_cell: HeadCell = Arc::new(RwLock::new(Arc::new(head)));
    let params = BlockParamsConfig {
        block_time: Duration::from_millis(config.block_time_ms.max(1)),
        gas_limit,
        min_base_fee: config.min_base_fee,
        base_fee_params: ordo_primitives::alloy_eips::eip1559::BaseFeeParams::ethereum(),
        coinbase: config.coinbase,
        extra_data: alloy_primitives::Bytes::from_static(b"ordo"),
        beacon_roots_from: config.chain_spec()?.beacon_roots_from,
    };
    let builder = Builder::new(exec.clone(), pool.clone(), head_cell, params);
    let sequencer = sequencer_key(&config)?;
    let sequencer_address = sequencer.address();
    tracing::info!(target: "ordo::keys", address = %sequencer_address, "sequencer key loaded; every sealed block is signed");
    builder.set_signer(Arc::new(keys::BlockSigner::new(sequencer, chain_id)));
    builder.set_inclusion_floor(config.builder.inclusion_floor_blocks);
    l1::follow_origins(&config, &builder, &builder.head())?;
    let plugins = tokio::task::spawn_blocking({
        let storage = storage.clone();
        let section = config.plugins.clone();
        move || open_plugins(&section, storage)
    })
    .await??;
    // Per-block plugin calls stay within the slot; `admin_setBlockParams` re-caps them.
    plugins.set_block_time(config.block_time_ms);
    builder.set_policy_source(plugins.ordering_source());
    let bundles = Arc::new(BundlePool::new(storage.clone(), BundleLimits::default()));
    // Acknowledged bundles survive a restart, except those whose block has passed.
    let kept = bundles.restore_from_storage(builder.head().number())?;
    tracing::info!(target: "ordo::node", kept, "bundles restored");
    builder.set_bundle_pool(bundles);
    builder.set_searchers(plugins.searcher_host());
    let mut batcher_config: ordo_batcher::BatcherConfig = config.batcher.into();
    // Only with blobs: a larger batch does not fit a calldata transaction, and `auto` may
    // choose calldata for it.
    if config.l1.rpc_url.is_some() && config.l1.da == ordo_l1::DaMode::Blobs {
        batcher_config.max_batch_bytes_behind = config.batcher.max_batch_bytes_behind;
    }
    let batcher =
        ordo_batcher::Batcher::open(storage.clone(), batcher_config, plugins.batch_plugins())?;
    let api = ordo_api::NodeApi::new(storage.clone(), exec, pool.clone(), builder.clone());
    api.set_max_log_results(config.limits.max_log_results);
    let per_sender = api.per_sender();
    per_sender.set_quota(config.limits.per_sender());
    let per_ip = Arc::new(ordo_rpc::RateLimiter::new(config.limits.per_ip()));
    let control = ordo_api::Control::restore(ordo_api::Controlled {
        storage: storage.clone(),
        builder: builder.clone(),
        pool: pool.clone(),
        plugins: plugins.clone(),
        per_ip: per_ip.clone(),
        per_sender,
    })?;
    let poster = l1_poster(&config.l1, &batcher)?;
    if poster.is_some() && config.batcher.max_backlog_bytes > 0 {
        builder.set_da_limit(da_throttle(&batcher, &config.batcher));
    }
    // Before the replica: in a group, it applies the operator commands the log carries.
    let admin_ns = Arc::new(ordo_api::AdminNamespace {
        manager: plugins.clone(),
        builder: builder.clone(),
        control: control.clone(),
        pool: pool.clone(),
        batcher: batcher.clone(),
        poster: poster.as_ref().map(|p| p.status_handle()),
        sequencer: sequencer_address,
        plugin_dir: config.plugins.folder(&config.datadir),
        cluster: Default::default(),
    });
    let replica = cluster::start_replica(
        &config,
        builder.clone(),
        pool.clone(),
        storage.clone(),
        batcher.clone(),
        admin_ns.clone(),
    )
    .await?;
    api.set_rollup_config(l1::rollup_config(
        &config,
        chain_id,
        storage.block(0)?.map(|g| g.hash).unwrap_or_default(),
    ));
    if let Some(url) = config.l1.rpc_url.clone() {
        l1::learn_l1_chain_id(url, Arc::downgrade(&api));
    }
    api.set_batcher(batcher.clone());
    api.set_plugins(plugins.clone());
    if let Some(replica) = &replica {
        api.set_cluster(replica.clone());
        replica.set_forwarded_calls(api.clone());
        let _ = admin_ns.cluster.set(replica.clone());
    }

    let (shutdown, shutdown_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(config.rpc_addr)
        .await
        .wrap_err_with(|| format!("binding JSON-RPC on {}", config.rpc_addr))?;
    let rpc_addr = listener.local_addr()?;
    // Everything that can fail happens before any task starts, so a failed launch leaves
    // nothing running.
    let token = admin::load_or_create_token(&config.datadir, config.admin_token_file.as_deref())?;
    let admin_listener = tokio::net::TcpListener::bind(config.admin_addr)
        .await
        .wrap_err_with(|| format!("binding the admin API on {}", config.admin_addr))?;
    let admin_addr = admin_listener.local_addr()?;
    let trusted_proxies = config.rpc.trusted_proxies()?;
    let rpc_config = config
        .limits
        .rpc_config(per_ip, &config.rpc, trusted_proxies.clone());
    let serve_limits = config.limits.serve_limits(trusted_proxies, open_files);
    let namespaces: Vec<Arc<dyn ordo_rpc::Namespace>> = vec![
        Arc::new(ordo_api::OrdoNamespace(api.clone())),
        Arc::new(ordo_api::MevNamespace(api.clone())),
        Arc::new(ordo_api::TxpoolNamespace(api.clone())),
        Arc::new(ordo_api::DebugNamespace(api.clone())),
        Arc::new(ordo_api::ChainConfigNamespace(api.clone())),
        Arc::new(ordo_api::EthExtrasNamespace(api.clone())),
        Arc::new(ordo_api::SimulateNamespace(api.clone())),
    ];
    let router = ordo_rpc::router(api, namespaces, rpc_config)
        .merge(ready_route(control.clone()))
        .merge(ui::routes());
    let rpc_task = tokio::spawn({
        let stop = shutdown_signal(&shutdown_rx);
        async move {
            if let Err(e) = ordo_rpc::serve_with(listener, router, serve_limits, stop).await {
                tracing::error!(target: "ordo::node", %e, "JSON-RPC server failed");
            }
        }
    });
    if !admin_addr.ip().is_loopback() {
        tracing::warn!(target: "ordo::admin", %admin_addr, "admin API listens beyond loopback");
    }
    let admin_router = admin::router(admin_ns, token);
    let admin_task = tokio::spawn({
        let stop = shutdown_signal(&shutdown_rx);
        async move {
            if let Err(e) = ordo_rpc::serve(admin_listener, admin_router, stop).await {
                tracing::error!(target: "ordo::node", %e, "admin server failed");
            }
        }
    });
    let mut tasks = vec![rpc_task, admin_task];
    if config.builder.sequencing {
        tasks.push(tokio::spawn(
            builder.clone().run(shutdown_signal(&shutdown_rx)),
        ));
        if let Some(poster) = poster {
            tasks.push(tokio::spawn(poster.run(shutdown_signal(&shutdown_rx))));
        }
        if let Some(proposer) = output_proposer(&config.l1, &batcher)? {
            tasks.push(tokio::spawn(proposer.run(shutdown_signal(&shutdown_rx))));
        }
        tasks.push(tokio::spawn({
            let builder = builder.clone();
            batcher.clone().run(
                move || builder.head().number(),
                Duration::from_millis(config.block_time_ms.clamp(50, 1000)),
                shutdown_signal(&shutdown_rx),
            )
        }));
    } else {
        tracing::info!(target: "ordo::node", head = builder.head().number(), "sequencing off: serving the stored chain read-only");
    }
    tracing::info!(target: "ordo::node", %rpc_addr, %admin_addr, chain_id, "node started");
    Ok(RunningNode {
        rpc_addr,
        admin_addr,
        plugins,
        builder,
        pool,
        replica,
        shutdown,
        tasks,
        storage,
    })
}

/// `GET /ready` on the RPC listener: 200 when the node should get traffic, else 503 with the
/// reasons (for load balancers and orchestrators; `/health` is plain liveness).
fn ready_route(control: Arc<ordo_api::Control>) -> axum::Router {
    use axum::{http::StatusCode, response::IntoResponse, routing::get};
    axum::Router::new().route(
        "/ready",
        get(move || {
            let control = control.clone();
            async move {
                let why = tokio::task::spawn_blocking(move || control.not_ready())
                    .await
                    .unwrap_or_else(|e| vec![format!("readiness check failed: {e}")]);
                let status = if why.is_empty() {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let body = serde_json::json!({ "ready": why.is_empty(), "reasons": why });
                (status, axum::Json(body)).into_response()
            }
        }),
    )
}

/// The sequencer key from `[sequencer]`, `ORDO_SEQUENCER_KEY`, or `<datadir>/sequencer.key`
/// (generated on first start).
fn sequencer_key(config: &NodeConfig) -> eyre::Result<alloy_signer_local::PrivateKeySigner> {
    let section = &config.sequencer;
    let source = keys::KeySource {
        keystore: section.keystore.clone(),
        password_file: section.password_file.clone(),
        password_env: "ORDO_SEQUENCER_KEYSTORE_PASSWORD",
        key_file: section.key_file.clone(),
        key_env: "ORDO_SEQUENCER_KEY",
    };
    match source.load("sequencer")? {
        Some(key) => Ok(key),
        None => {
            std::fs::create_dir_all(&config.datadir)?;
            keys::load_or_create_key_file(&config.datadir.join("sequencer.key"), "sequencer")
        }
    }
}

/// The L1 poster for `[l1]`, or `None` without an L1 RPC URL (batches are then only built
/// and kept; adding an L1 later posts the backlog in order).
fn l1_poster(
    section: &config::L1Section,
    batcher: &Arc<ordo_batcher::Batcher>,
) -> eyre::Result<Option<ordo_l1::L1Poster>> {
    let Some(url) = &section.rpc_url else {
        tracing::info!(target: "ordo::l1", "no L1 configured: batches are built and stored, not posted");
        return Ok(None);
    };
    let inbox = section
        .batch_inbox
        .ok_or_else(|| eyre::eyre!("[l1] batch_inbox (--batch-inbox) is required with an L1"))?;
    let signer = l1::batcher_key(section)?;
    let mut l1 = ordo_l1::L1Config::new(url.clone(), signer, inbox);
    l1.confirmations = section.confirmations;
    l1.resubmit_after = Duration::from_secs(section.resubmit_after_secs);
    l1.max_fee_per_gas_cap = section.max_fee_per_gas;
    l1.poll_interval = Duration::from_millis(section.poll_ms.max(10));
    l1.da = section.da;
    l1.max_fee_per_blob_gas_cap = section.max_fee_per_blob_gas;
    l1.max_in_flight = section.max_in_flight;
    let shown = ordo_l1::redact_url(url);
    tracing::info!(target: "ordo::l1", url = %shown, %inbox, batcher = %l1.signer.address(), da = %l1.da, "posting batches to L1");
    Ok(Some(ordo_l1::L1Poster::new(
        l1,
        Arc::new(batches::BatcherQueue(batcher.clone())),
    )))
}

/// The DA throttle (op-batcher's linear controller): once the bytes sealed and not yet on
/// L1 exceed `max_backlog_bytes`, blocks carry at most `throttle_block_bytes` of signed
/// transactions, less the further the backlog is past the limit, down to none at twice it:
/// whatever L1 takes, the backlog stays bounded. It lifts once the backlog is back under
/// half the limit (so a backlog hovering at the limit does not flip it every block).
fn da_throttle(
    batcher: &Arc<ordo_batcher::Batcher>,
    section: &config::BatcherSection,
) -> ordo_builder::DaLimit {
    let batcher = batcher.clone();
    let (max_backlog, block_bytes) = (section.max_backlog_bytes, section.throttle_block_bytes);
    let throttled = std::sync::atomic::AtomicBool::new(false);
    Arc::new(move || {
        let backlog = batcher.backlog_bytes();
        let was = throttled.load(std::sync::atomic::Ordering::Relaxed);
        let now = backlog > max_backlog || (was && backlog > max_backlog / 2);
        if throttled.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
            if now {
                tracing::warn!(target: "ordo::builder", backlog, max_backlog, block_bytes, "L1 posting is behind: blocks throttled");
            } else {
                tracing::info!(target: "ordo::builder", backlog, "L1 posting caught up: blocks no longer throttled");
            }
        }
        ::metrics::gauge!("ordo_da_throttled").set(if now { 1.0 } else { 0.0 });
        if !now {
            // 0: no byte limit on blocks.
            ::metrics::gauge!("ordo_da_throttle_block_bytes").set(0.0);
            return None;
        }
        let past = backlog.saturating_sub(max_backlog).min(max_backlog);
        let budget = u64::try_from(
            u128::from(block_bytes) * u128::from(max_backlog - past) / u128::from(max_backlog),
        )
        .unwrap_or(block_bytes);
        ::metrics::gauge!("ordo_da_throttle_block_bytes").set(budget as f64);
        Some(budget)
    })
}

/// The output proposer for `[l1] output_oracle`, or `None` without an L1 or an oracle.
fn output_proposer(
    section: &config::L1Section,
    batcher: &Arc<ordo_batcher::Batcher>,
) -> eyre::Result<Option<ordo_l1::Proposer>> {
    let (Some(url), Some(oracle)) = (&section.rpc_url, section.output_oracle) else {
        return Ok(None);
    };
    let signer = l1::proposer_key(section)?;
    if signer.address() == l1::batcher_key(section)?.address() {
        eyre::bail!(
            "the proposer key is the batcher key ({}): their transactions would share nonces \
             and batches in flight would hold outputs back; give the proposer a key of its own \
             ([l1] proposer_key_file) or leave it out to use one derived from the batcher's",
            signer.address()
        );
    }
    tracing::info!(target: "ordo::l1", %oracle, proposer = %signer.address(), "proposing outputs to L1");
    Ok(Some(ordo_l1::Proposer::new(
        ordo_l1::ProposerConfig {
            rpc_url: url.clone(),
            oracle,
            signer,
            poll_interval: Duration::from_millis(section.poll_ms.max(10)),
            resubmit_after: Duration::from_secs(section.resubmit_after_secs.max(1)),
        },
        Arc::new(batches::BatcherQueue(batcher.clone())),
    )))
}

/// Opens the plugin manager over `storage`: persisted plugins come back as they were; a
/// fresh datadir gets the shipped plugins with the defaults active; then the configured
/// extra plugins are loaded (and activated when asked).
fn open_plugins(section: &PluginsSection, storage: Storage) -> eyre::Result<Arc<PluginManager>> {
    let manager = PluginManager::open(section.limits, Some(Arc::new(storage)))
        .wrap_err("opening the plugin manager")?;
    if section.shipped && manager.list().loaded.is_empty() {
        let defaults: Vec<&str> = ordo_plugin_host::shipped::defaults()
            .iter()
            .map(|p| p.package)
            .collect();
        for shipped in ordo_plugin_host::shipped::all() {
            let info = manager
                .load(shipped.kind, shipped.bytes, "")
                .wrap_err_with(|| format!("loading shipped plugin {}", shipped.package))?;
            if defaults.contains(&shipped.package) {
                manager.activate(&info.id)?;
            }
            tracing::info!(target: "ordo::plugins", name = %info.name, kind = shipped.kind.as_str(), id = %info.id, "loaded shipped plugin");
        }
    }
    for entry in &section.load {
        let bytes = std::fs::read(&entry.path)
            .wrap_err_with(|| format!("reading plugin {}", entry.path.display()))?;
        let known: Vec<String> = manager
            .list()
            .loaded
            .into_iter()
            .map(|l| l.info.id)
            .collect();
        let info = manager
            .load(entry.kind, &bytes, &entry.config)
            .wrap_err_with(|| format!("loading plugin {}", entry.path.display()))?;
        // Activate only what this start added: a restart must not undo an operator's
        // rollback, nor bring back a plugin the host rolled back for misbehaving.
        if entry.activate && !known.contains(&info.id) {
            manager
                .activate(&info.id)
                .wrap_err_with(|| format!("activating plugin {}", entry.path.display()))?;
        }
    }
    Ok(manager)
}
