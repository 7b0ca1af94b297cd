//! Node configuration: one TOML file, overridden by CLI flags and `ORDO_*` environment
//! variables (flag > env > file > default).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use eyre::eyre;
use ordo_primitives::{ChainSpec, DEV_CHAIN_ID, DEV_MNEMONIC};
use serde::{Deserialize, Serialize};

/// Everything the node reads at start.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Data folder (fjall lives in `<datadir>/db`).
    pub datadir: PathBuf,
    /// MiB kept free on the datadir's filesystem: under it transactions, bundles and plugin
    /// loads are refused (-32000 "storage unavailable") and no block is sealed, until space
    /// returns. 0 turns the check off.
    pub min_free_disk_mb: u64,
    /// JSON-RPC (HTTP and WebSocket) listen address; port 0 picks a free port.
    pub rpc_addr: SocketAddr,
    /// Chain id (ignored when a genesis file sets one).
    pub chain_id: u64,
    /// Milliseconds between blocks.
    pub block_time_ms: u64,
    /// Gas limit of every block (a genesis file's `gasLimit` wins when given).
    pub block_gas_limit: u64,
    /// Base fee floor in wei.
    pub min_base_fee: u64,
    /// geth-style genesis.json; without it the dev accounts are funded.
    pub genesis: Option<PathBuf>,
    /// Fee recipient of produced blocks.
    pub coinbase: Address,
    /// Mempool settings.
    pub pool: PoolSection,
    /// Admin JSON-RPC listen address (plugin operations; bearer token). Loopback by default.
    pub admin_addr: SocketAddr,
    /// File holding the admin bearer token; without it the token lives in
    /// `<datadir>/admin.token` (mode 0600, generated at first start).
    pub admin_token_file: Option<PathBuf>,
    /// Plugins: limits, the shipped defaults, and plugins to load at start.
    pub plugins: PluginsSection,
    /// When batches close.
    pub batcher: BatcherSection,
    /// Posting batches to L1 (off without `rpc_url`: batches are built and kept).
    pub l1: L1Section,
    /// Rate limits (changed live with `admin_setLimits`).
    pub limits: LimitsSection,
    /// How the JSON-RPC server runs expensive reads and who its clients are.
    pub rpc: RpcSection,
    /// The sequencer key, which signs every sealed block hash.
    pub sequencer: SequencerSection,
    /// The state caches.
    pub state: StateSection,
    /// Block production rules that hold whatever the ordering policy answers.
    pub builder: BuilderSection,
    /// Replication: this node as one replica of a group (off while `peers` is empty).
    pub cluster: ClusterSection,
}

/// `[cluster]` section: this node as one replica of a Raft group (`ordo cluster init`
/// writes it). Off while `peers` is empty.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// This replica's id: one of the peers' ids.
    pub id: u64,
    /// Every replica of the group, this one included.
    pub peers: Vec<ClusterPeer>,
    /// File holding the group's shared secret (mode 0600), which every replication request
    /// carries.
    pub secret_file: Option<PathBuf>,
    /// Leader heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time between these (ms), after the old
    /// leader's lease (the maximum) ran out, stands for election.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Longest an accepted transaction waits for the quorum before its sender is told to
    /// retry.
    pub tx_commit_timeout_ms: u64,
    /// This replica joins a running group (its leader adds it with `admin_addReplica`)
    /// instead of forming one from `peers` on its first start; `peers` then needs only
    /// this replica's own entry.
    pub join: bool,
    /// A snapshot is taken every this many log entries, and the log before it purged
    /// (but for `log_kept` entries): a replica further behind catches up by snapshot.
    pub snapshot_every: u64,
    /// Log entries kept behind the last snapshot.
    pub log_kept: u64,
}

/// One replica of the group.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterPeer {
    /// The replica's id (unique, stable).
    pub id: u64,
    /// Its replication listener (the replica with this id listens there).
    pub addr: SocketAddr,
    /// Its public JSON-RPC address.
    pub rpc: SocketAddr,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            id: 0,
            peers: Vec::new(),
            secret_file: None,
            heartbeat_ms: 100,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 400,
            tx_commit_timeout_ms: 3000,
            join: false,
            snapshot_every: 10_000,
            log_kept: 1_000,
        }
    }
}

impl ClusterSection {
    /// Whether this node is a replica of a group.
    pub fn enabled(&self) -> bool {
        !self.peers.is_empty()
    }

    /// This replica's own entry, after checking the section makes sense.
    pub fn me(&self) -> eyre::Result<&ClusterPeer> {
        let mut ids: Vec<u64> = self.peers.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.peers.len() {
            eyre::bail!("[cluster] peers: two peers have the same id");
        }
        if self.secret_file.is_none() {
            eyre::bail!("[cluster] secret_file is required");
        }
        if self.heartbeat_ms == 0 || self.election_timeout_min_ms <= self.heartbeat_ms {
            eyre::bail!(
                "[cluster] election_timeout_min_ms must be above heartbeat_ms (and that above 0)"
            );
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            eyre::bail!("[cluster] election_timeout_max_ms must be above election_timeout_min_ms");
        }
        self.peers
            .iter()
            .find(|p| p.id == self.id)
            .ok_or_else(|| eyre!("[cluster] id {} is not one of the peers", self.id))
    }
}

/// Default MiB kept free on the datadir's filesystem (`min_free_disk_mb`): room for fjall's
/// flushes and compactions and for the blocks that include what was acknowledged.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 512;

/// Default MiB of fjall's block cache for a node (`[state] block_cache_mb`): on a large
/// state, enough to keep the index and filter blocks of the state's keyspaces cached.
pub const DEFAULT_BLOCK_CACHE_MB: u64 = 256;

/// `[state]` section: the caches in front of the state on disk.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StateSection {
    /// MiB of caches for accounts, storage slots, trie nodes and code (nothing else of the state is held
    /// in memory).
    pub cache_mb: usize,
    /// MiB of fjall's block cache (data blocks with their index and filter blocks), under the
    /// caches above.
    pub block_cache_mb: u64,
}

impl Default for StateSection {
    fn default() -> Self {
        Self {
            cache_mb: ordo_exec::DEFAULT_CACHE_MB,
            block_cache_mb: DEFAULT_BLOCK_CACHE_MB,
        }
    }
}

/// `[builder]` section.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct BuilderSection {
    /// Blocks a valid transaction that pays the base fee and fits may wait while the
    /// ordering policy leaves it out; then the host places it after the policy's order
    /// (recorded in the block's provenance). 0 turns the floor off.
    pub inclusion_floor_blocks: u64,
    /// Whether this node seals blocks (and batches and posts them). Off, it serves the
    /// stored chain read-only and still accepts transactions into its pool: an imported
    /// Ethereum chain is served so (`ordo run --no-sequencing`).
    pub sequencing: bool,
    /// Nice value (-20 to 0, absolute) of the threads a block waits for on Linux: the
    /// builder, the state root's threads and the commit of a standalone sequencer. Below
    /// ingress's, a block's root and commit get a core first when the cores are busy. A
    /// raise needs CAP_SYS_NICE or an RLIMIT_NICE that allows it; without, the node logs a
    /// warning and they keep the usual priority. 0 leaves them alone.
    pub thread_nice: i32,
}

impl Default for BuilderSection {
    fn default() -> Self {
        Self {
            inclusion_floor_blocks: ordo_builder::DEFAULT_INCLUSION_FLOOR,
            sequencing: true,
            thread_nice: ordo_exec::DEFAULT_BLOCK_NICE,
        }
    }
}

/// `[sequencer]` section: where the block-signing key comes from. Without any of these the
/// key is generated once into `<datadir>/sequencer.key` (mode 0600). `ORDO_SEQUENCER_KEY`
/// (a hex secret) works too, for dev only.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SequencerSection {
    /// Encrypted JSON keystore (Web3 Secret Storage).
    pub keystore: Option<PathBuf>,
    /// File holding the keystore password (else `ORDO_SEQUENCER_KEYSTORE_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// Raw hex key file (mode 0600 enforced).
    pub key_file: Option<PathBuf>,
}

/// `[rpc]` section: who the clients are (behind trusted proxies), and the threads, deadline
/// and per-client budget of expensive reads (`eth_call`, `eth_estimateGas`, `eth_getLogs`,
/// `eth_callBundle`, ...).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RpcSection {
    /// Load balancers (IPs or CIDR blocks) whose `X-Forwarded-For` names the client; the
    /// header from anyone else is ignored.
    pub trusted_proxies: Vec<String>,
    /// Milliseconds an expensive read may take, queueing included (geth's
    /// `--rpc.evmtimeout`); then "execution aborted (timeout = 5s)".
    pub call_timeout_ms: u64,
    /// Threads for expensive reads; 0 means one per core.
    pub read_threads: usize,
    /// Expensive reads waiting for a thread; more get -32005 "server busy".
    pub read_queue: usize,
    /// Milliseconds of read-thread time per second per client IP (0: no limit)...
    pub read_ms_per_ip_per_sec: u32,
    /// ...and how many a client may spend at once after an idle spell.
    pub read_ms_per_ip_burst: u32,
}

impl Default for RpcSection {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            call_timeout_ms: ordo_rpc::DEFAULT_CALL_TIMEOUT.as_millis() as u64,
            read_threads: 0,
            read_queue: ordo_rpc::DEFAULT_READ_QUEUE,
            read_ms_per_ip_per_sec: ordo_rpc::DEFAULT_READ_MS_PER_IP.per_sec,
            read_ms_per_ip_burst: ordo_rpc::DEFAULT_READ_MS_PER_IP.burst,
        }
    }
}

impl RpcSection {
    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> eyre::Result<ordo_rpc::TrustedProxies> {
        ordo_rpc::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| eyre!("key `rpc.trusted_proxies`: {e}"))
    }
}

/// `[limits]` section: token buckets; 0 per second means no limit.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// JSON-RPC calls per second per client IP (each call of a batch counts).
    pub per_ip_per_sec: u32,
    /// Calls a client IP may make at once after an idle spell.
    pub per_ip_burst: u32,
    /// Transactions per second per sender (`eth_sendRawTransaction`).
    pub per_sender_per_sec: u32,
    /// Transactions a sender may send at once after an idle spell.
    pub per_sender_burst: u32,
    /// Open connections on the JSON-RPC port; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// A request's headers must arrive within this many milliseconds (slowloris).
    pub header_timeout_ms: u64,
    /// A request's body must arrive within this many milliseconds (HTTP 408 otherwise).
    pub body_timeout_ms: u64,
    /// Largest request body / WebSocket message (bytes); larger bodies get HTTP 413.
    pub max_body_bytes: usize,
    /// Most calls in one JSON-RPC batch; more get -32600 "batch too large".
    pub max_batch_len: usize,
    /// Deepest JSON nesting in a request; deeper gets -32600.
    pub max_json_depth: usize,
    /// Subscriptions per WebSocket connection.
    pub ws_max_subscriptions: usize,
    /// Open connections per client IP (IPv6: per /64); 0 means no limit. Trusted proxies
    /// are exempt.
    pub max_connections_per_ip: usize,
    /// File descriptors kept back from connections for storage, plugins and the L1 client:
    /// the connection cap is lowered to the open-file limit minus this.
    pub fd_reserve: u64,
    /// An HTTP connection with no request running for this many milliseconds is closed.
    pub idle_timeout_ms: u64,
    /// A WebSocket silent this many milliseconds (it is pinged at half of it) is closed.
    pub ws_idle_timeout_ms: u64,
    /// Bytes queued for one WebSocket; a reader slower than that is disconnected.
    pub ws_max_queue_bytes: usize,
    /// Bytes queued for all WebSockets of one client IP.
    pub ws_max_client_queue_bytes: usize,
    /// Entries of one batch running at once.
    pub max_batch_concurrency: usize,
    /// Calls of one client IP running at once (0: no limit).
    pub max_client_concurrency: usize,
    /// Filters plus subscriptions one client IP may hold (0: no limit).
    pub max_filters_per_client: usize,
    /// Bytes the criteria of one client IP's filters and subscriptions may take (0: no limit).
    pub max_filter_bytes_per_client: usize,
    /// Most logs one eth_getLogs (or filter poll) returns; more is an error asking for a
    /// smaller range.
    pub max_log_results: usize,
}

impl Default for LimitsSection {
    /// High enough that only floods hit them (`ordo bench` from one IP stays under).
    fn default() -> Self {
        Self {
            per_ip_per_sec: 20_000,
            per_ip_burst: 40_000,
            per_sender_per_sec: 1_000,
            per_sender_burst: 2_000,
            max_connections: 4096,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_body_bytes: ordo_rpc::DEFAULT_MAX_BODY_BYTES,
            max_batch_len: ordo_rpc::DEFAULT_MAX_BATCH_LEN,
            max_json_depth: 64,
            ws_max_subscriptions: ordo_rpc::DEFAULT_WS_MAX_SUBSCRIPTIONS,
            max_connections_per_ip: 256,
            fd_reserve: 1024,
            idle_timeout_ms: 60_000,
            ws_idle_timeout_ms: ordo_rpc::DEFAULT_WS_IDLE_TIMEOUT.as_millis() as u64,
            ws_max_queue_bytes: ordo_rpc::DEFAULT_WS_MAX_QUEUE_BYTES,
            ws_max_client_queue_bytes: ordo_rpc::DEFAULT_WS_MAX_CLIENT_QUEUE_BYTES,
            max_batch_concurrency: ordo_rpc::DEFAULT_MAX_BATCH_CONCURRENCY,
            max_client_concurrency: ordo_rpc::DEFAULT_MAX_CLIENT_CONCURRENCY,
            max_filters_per_client: ordo_rpc::DEFAULT_MAX_FILTERS_PER_CLIENT,
            max_filter_bytes_per_client: ordo_rpc::DEFAULT_MAX_FILTER_BYTES_PER_CLIENT,
            max_log_results: ordo_api::DEFAULT_MAX_LOG_RESULTS,
        }
    }
}

impl LimitsSection {
    /// The per-IP quota.
    pub fn per_ip(&self) -> ordo_rpc::Quota {
        ordo_rpc::Quota {
            per_sec: self.per_ip_per_sec,
            burst: self.per_ip_burst,
        }
    }

    /// The JSON-RPC server's configuration under these limits and `rpc`'s read settings.
    pub fn rpc_config(
        &self,
        per_ip: std::sync::Arc<ordo_rpc::RateLimiter<std::net::IpAddr>>,
        rpc: &RpcSection,
        trusted_proxies: ordo_rpc::TrustedProxies,
    ) -> ordo_rpc::RpcConfig {
        ordo_rpc::RpcConfig {
            max_body_bytes: self.max_body_bytes,
            max_batch_len: self.max_batch_len,
            max_json_depth: self.max_json_depth,
            ws_max_subscriptions: self.ws_max_subscriptions,
            ws_max_queue_bytes: self.ws_max_queue_bytes,
            ws_max_client_queue_bytes: self.ws_max_client_queue_bytes,
            ws_idle_timeout: std::time::Duration::from_millis(self.ws_idle_timeout_ms.max(1)),
            max_batch_concurrency: self.max_batch_concurrency,
            max_client_concurrency: self.max_client_concurrency,
            max_filters_per_client: self.max_filters_per_client,
            max_filter_bytes_per_client: self.max_filter_bytes_per_client,
            trusted_proxies,
            body_timeout: std::time::Duration::from_millis(self.body_timeout_ms.max(1)),
            per_ip,
            read_threads: match rpc.read_threads {
                0 => ordo_rpc::default_read_threads(),
                n => n,
            },
            read_queue: rpc.read_queue.max(1),
            call_timeout: std::time::Duration::from_millis(rpc.call_timeout_ms.max(1)),
            read_ms_per_ip: std::sync::Arc::new(ordo_rpc::RateLimiter::new(ordo_rpc::Quota {
                per_sec: rpc.read_ms_per_ip_per_sec,
                burst: rpc.read_ms_per_ip_burst,
            })),
            ..ordo_rpc::RpcConfig::default()
        }
    }

    /// The JSON-RPC listener's connection limits, with the connection cap lowered to what
    /// `open_files` (the process's file descriptor limit, if known) leaves after `fd_reserve`.
    pub fn serve_limits(
        &self,
        trusted_proxies: ordo_rpc::TrustedProxies,
        open_files: Option<u64>,
    ) -> ordo_rpc::ServeLimits {
        let mut max_connections = self.max_connections;
        if let Some(open_files) = open_files {
            // A handful of connections even on a starved limit: the node stays reachable.
            let room = open_files.saturating_sub(self.fd_reserve).max(16);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if room < max_connections {
                tracing::warn!(target: "ordo::node", configured = max_connections, used = room, open_files, fd_reserve = self.fd_reserve, "max_connections lowered to fit the open-file limit");
                max_connections = room;
            }
        }
        ordo_rpc::ServeLimits {
            max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms.max(1)),
            idle_timeout: std::time::Duration::from_millis(self.idle_timeout_ms.max(1)),
            trusted_proxies,
        }
    }

    /// The per-sender quota.
    pub fn per_sender(&self) -> ordo_rpc::Quota {
        ordo_rpc::Quota {
            per_sec: self.per_sender_per_sec,
            burst: self.per_sender_burst,
        }
    }
}

/// `[l1]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct L1Section {
    /// L1 JSON-RPC URL; without it batches are not posted.
    pub rpc_url: Option<String>,
    /// File holding the batcher's secret key (hex, mode 0600). `ORDO_L1_KEY` works too
    /// (dev only).
    pub key_file: Option<PathBuf>,
    /// Encrypted JSON keystore of the batcher key (instead of `key_file`).
    pub keystore: Option<PathBuf>,
    /// File holding that keystore's password (else `ORDO_L1_KEYSTORE_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// The batch inbox address.
    pub batch_inbox: Option<Address>,
    /// The deposit portal on L1 (`ordo l1 deploy` prints it; `ordo dev` given an L1 deploys
    /// one on first start and records it in the datadir).
    pub portal: Option<Address>,
    /// The output oracle on L1 (OP's `L2OutputOracle` ABI) the portal proves withdrawals
    /// against; deployed with the portal. With it the node proposes outputs.
    pub output_oracle: Option<Address>,
    /// File holding the output proposer's secret key (hex, mode 0600); `ORDO_L1_PROPOSER_KEY`
    /// works too (dev only). Without one, a key derived from the batcher's.
    pub proposer_key_file: Option<PathBuf>,
    /// Encrypted JSON keystore of the proposer key (instead of `proposer_key_file`).
    pub proposer_keystore: Option<PathBuf>,
    /// File holding that keystore's password (else `ORDO_L1_PROPOSER_KEYSTORE_PASSWORD`).
    pub proposer_password_file: Option<PathBuf>,
    /// Seconds between an output (and a withdrawal's proof against it) and the withdrawal's
    /// finalization, for the oracle `ordo dev` deploys.
    pub finalization_period_secs: u64,
    /// L1 blocks within which an L1 origin's batches must reach L1; past it, derivation
    /// makes deposit-only blocks for that origin.
    pub sequencing_window: u64,
    /// L1 blocks on top of a batch's before it counts as confirmed.
    pub confirmations: u64,
    /// Seconds before an unmined batch transaction is replaced with higher fees.
    pub resubmit_after_secs: u64,
    /// Fee cap per gas (wei).
    #[serde(with = "wei")]
    pub max_fee_per_gas: u128,
    /// Milliseconds between looks at L1.
    pub poll_ms: u64,
    /// Where batch data goes: `calldata`, `blobs`, or `auto` (the cheaper per batch).
    #[serde(deserialize_with = "de_from_str", serialize_with = "ser_display")]
    pub da: ordo_l1::DaMode,
    /// Blob fee cap per blob gas (wei).
    #[serde(with = "wei")]
    pub max_fee_per_blob_gas: u128,
    /// Batches submitted and not yet confirmed at once (1: each waits for the previous
    /// one's confirmations).
    pub max_in_flight: usize,
}

/// Serializes a value as its `Display` text (the inverse of [`de_from_str`]).
fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Wei amounts (u128), which TOML cannot hold whole: an integer up to 2^63-1, or a decimal
/// string for more.
mod wei {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(*v) {
            Ok(small) => s.serialize_i64(small),
            Err(_) => s.collect_str(v),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wei {
            Int(u64),
            Text(String),
        }
        match Wei::deserialize(d)? {
            Wei::Int(v) => Ok(v.into()),
            Wei::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not an amount in wei"))),
        }
    }
}

/// Deserializes a value through its `FromStr` (error messages name the accepted values).
fn de_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

impl Default for L1Section {
    fn default() -> Self {
        Self {
            rpc_url: None,
            key_file: None,
            keystore: None,
            password_file: None,
            batch_inbox: None,
            portal: None,
            output_oracle: None,
            proposer_key_file: None,
            proposer_keystore: None,
            proposer_password_file: None,
            finalization_period_secs: 12,
            sequencing_window: 3_600,
            confirmations: 3,
            resubmit_after_secs: 180,
            max_fee_per_gas: 500_000_000_000,
            poll_ms: 2_000,
            da: ordo_l1::DaMode::Calldata,
            max_fee_per_blob_gas: 500_000_000_000,
            max_in_flight: 4,
        }
    }
}

/// `[batcher]` section.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct BatcherSection {
    /// Uncompressed size (bytes) at which a batch closes.
    pub max_batch_bytes: usize,
    /// Longest a block waits in an open batch (milliseconds).
    pub max_delay_ms: u64,
    /// Most blocks in one batch.
    pub max_blocks: usize,
    /// With an L1: once more than this many bytes are sealed and not yet on L1, blocks carry
    /// at most `throttle_block_bytes` of signed transactions, less the further past (none at
    /// twice this), until the backlog is back under half of it (0: never).
    pub max_backlog_bytes: u64,
    /// The throttled block's room for signed transactions (bytes).
    pub throttle_block_bytes: u64,
    /// With `[l1] da = "blobs"`: the uncompressed size a batch may reach (never cross) while
    /// an earlier one still waits to be sent (six blobs hold it even incompressible).
    pub max_batch_bytes_behind: usize,
}

impl Default for BatcherSection {
    fn default() -> Self {
        let d = ordo_batcher::BatcherConfig::default();
        Self {
            max_batch_bytes: d.max_batch_bytes,
            max_delay_ms: d.max_delay.as_millis() as u64,
            max_blocks: d.max_blocks,
            max_backlog_bytes: 4_000_000,
            throttle_block_bytes: 21_000,
            max_batch_bytes_behind: 700_000,
        }
    }
}

impl From<BatcherSection> for ordo_batcher::BatcherConfig {
    fn from(s: BatcherSection) -> Self {
        Self {
            max_batch_bytes: s.max_batch_bytes.max(1),
            max_delay: std::time::Duration::from_millis(s.max_delay_ms),
            max_blocks: s.max_blocks.max(1),
            // Only blob posting can take the larger batches: the node sets it from `[l1] da`.
            max_batch_bytes_behind: s.max_batch_bytes.max(1),
        }
    }
}

/// `[plugins]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsSection {
    /// On the first start of a datadir, load the shipped plugins and activate the defaults
    /// (priority-fee ordering, brotli compression, commitment prover). Later starts restore
    /// whatever the operator left active.
    pub shipped: bool,
    /// Per-kind call limits and the rollback threshold (`[plugins.limits.ordering]` etc.).
    pub limits: ordo_plugin_host::PluginsConfig,
    /// Plugins loaded at every start (`[[plugins.load]]`), after the persisted ones.
    pub load: Vec<PluginLoad>,
    /// The only folder `admin_loadPlugin {path}` reads plugin files from (paths relative to
    /// it, or absolute inside it); default `<datadir>/plugins`.
    pub dir: Option<PathBuf>,
}

impl Default for PluginsSection {
    fn default() -> Self {
        Self {
            shipped: true,
            limits: ordo_plugin_host::PluginsConfig::default(),
            load: vec![],
            dir: None,
        }
    }
}

impl PluginsSection {
    /// The plugin folder: `dir`, or `<datadir>/plugins`.
    pub fn folder(&self, datadir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| datadir.join("plugins"))
    }
}

/// One `[[plugins.load]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginLoad {
    /// ordering, searcher, compression or prover.
    pub kind: ordo_plugin_host::PluginKind,
    /// The component's .wasm file.
    pub path: PathBuf,
    /// Config string handed to the plugin.
    #[serde(default)]
    pub config: String,
    /// Make it the active plugin of its kind.
    #[serde(default)]
    pub activate: bool,
}

/// `[pool]` section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSection {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most transactions per sender.
    pub max_per_sender: usize,
    /// How far ahead of the account nonce a transaction may be.
    pub max_nonce_gap: u64,
}

impl Default for PoolSection {
    fn default() -> Self {
        let d = ordo_pool::PoolConfig::default();
        Self {
            max_txs: d.max_txs,
            max_per_sender: d.max_per_sender,
            max_nonce_gap: d.max_nonce_gap,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            datadir: PathBuf::from(".ordo/dev"),
            min_free_disk_mb: DEFAULT_MIN_FREE_DISK_MB,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 8547)),
            chain_id: DEV_CHAIN_ID,
            block_time_ms: 1000,
            block_gas_limit: ChainSpec::DEFAULT_GAS_LIMIT,
            min_base_fee: ChainSpec::DEFAULT_MIN_BASE_FEE,
            genesis: None,
            // The sequencer's fee recipient in dev: a well-known, keyless address.
            coinbase: Address::repeat_byte(0x42),
            pool: PoolSection::default(),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 8548)),
            admin_token_file: None,
            plugins: PluginsSection::default(),
            batcher: BatcherSection::default(),
            l1: L1Section::default(),
            limits: LimitsSection::default(),
            rpc: RpcSection::default(),
            sequencer: SequencerSection::default(),
            state: StateSection::default(),
            builder: BuilderSection::default(),
            cluster: ClusterSection::default(),
        }
    }
}

impl NodeConfig {
    pub fn from_toml(text: &str) -> eyre::Result<Self> {
        toml::from_str(text).map_err(|e| eyre!("{e}"))
    }

    /// The chain this configuration describes: a genesis file, or the dev accounts.
    pub fn chain_spec(&self) -> eyre::Result<ChainSpec> {
        let mut spec = match &self.genesis {
            Some(path) => crate::genesis::from_geth_file(path)?,
            None => {
                let mut spec = ChainSpec::dev(self.chain_id);
                spec.gas_limit = self.block_gas_limit;
                spec
            }
        };
        spec.min_base_fee = self.min_base_fee;
        if spec.genesis_base_fee < spec.min_base_fee {
            spec.genesis_base_fee = spec.min_base_fee;
        }
        Ok(spec)
    }
}

/// The 10 dev accounts (the mnemonic anvil and hardhat use, m/44'/60'/0'/0/i).
pub fn dev_keys() -> eyre::Result<Vec<alloy_signer_local::PrivateKeySigner>> {
    (0..10u32)
        .map(|i| {
            alloy_signer_local::MnemonicBuilder::english()
                .phrase(DEV_MNEMONIC)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| eyre!("deriving dev key {i}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_parses_and_matches_the_defaults_it_documents() {
        let text = include_str!("../../../ordo.sample.toml");
        let cfg = NodeConfig::from_toml(text).unwrap();
        assert_eq!(cfg, NodeConfig::default(), "the sample shows the defaults");
        assert_eq!(cfg.chain_id, DEV_CHAIN_ID);
    }

    #[test]
    fn sample_config_documents_every_key() {
        let text = include_str!("../../../ordo.sample.toml");
        for key in NodeConfig::keys() {
            let (last, sections) = key.split_last().unwrap();
            let documented = text.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{last} ="))
                    || l.starts_with(&format!("[[{}", key.join(".")))
            });
            let section = sections.join(".");
            let has_section = sections.is_empty()
                || text.contains(&format!("[{section}]"))
                || text.contains(&format!("[[{section}"));
            assert!(
                documented && has_section,
                "ordo.sample.toml does not document `{}`",
                key.join(".")
            );
        }
    }

    #[test]
    fn the_printed_configuration_reads_back_the_same() {
        let mut config = NodeConfig::default();
        config.l1.max_fee_per_gas = u128::from(u64::MAX) * 3;
        config.cluster.id = 2;
        config.cluster.secret_file = Some("cluster.secret".into());
        config.cluster.peers = (1..=3)
            .map(|id| ClusterPeer {
                id,
                addr: SocketAddr::from(([127, 0, 0, 1], 9550 + id as u16)),
                rpc: SocketAddr::from(([127, 0, 0, 1], 8540 + id as u16)),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(&file, config.to_toml().unwrap()).unwrap();
        let back = NodeConfig::layered(Some(&file), std::iter::empty(), &[]).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.cluster.me().unwrap().id, 2);
    }

    #[test]
    fn a_cluster_section_that_cannot_work_is_refused() {
        let mut section = ClusterSection {
            id: 4,
            peers: vec![ClusterPeer {
                id: 1,
                addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                rpc: SocketAddr::from(([127, 0, 0, 1], 2)),
            }],
            secret_file: Some("s".into()),
            ..ClusterSection::default()
        };
        let err = section.me().unwrap_err().to_string();
        assert!(err.contains("id 4 is not one of the peers"), "{err}");
        section.id = 1;
        section.election_timeout_min_ms = section.heartbeat_ms;
        assert!(section.me().is_err());
        section.election_timeout_min_ms = 300;
        section.secret_file = None;
        assert!(
            section
                .me()
                .unwrap_err()
                .to_string()
                .contains("secret_file")
        );
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flags_beat_env_beats_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        std::fs::write(
            &file,
            "chain_id = 11\nblock_time_ms = 700\n[l1]\nconfirmations = 4\nda = \"blobs\"\n",
        )
        .unwrap();
        let cfg = NodeConfig::layered(
            Some(&file),
            env(&[
                ("ORDO_BLOCK_TIME_MS", "800"),
                ("ORDO_L1_CONFIRMATIONS", "5"),
                ("ORDO_L1_RPC_URL", "http://127.0.0.1:9"),
                ("ORDO_LOG", "debug"),
                ("ORDO_NOT_A_KEY", "x"),
            ]),
            &[
                "l1.confirmations=6".into(),
                "limits.per_ip_per_sec = 9".into(),
            ],
        )
        .unwrap();
        assert_eq!(cfg.chain_id, 11, "file over default");
        assert_eq!(cfg.block_time_ms, 800, "env over file");
        assert_eq!(cfg.l1.confirmations, 6, "--set over env");
        assert_eq!(cfg.l1.da, ordo_l1::DaMode::Blobs);
        assert_eq!(
            cfg.l1.rpc_url.as_deref(),
            Some("http://127.0.0.1:9"),
            "bare text is a string"
        );
        assert_eq!(cfg.limits.per_ip_per_sec, 9);
        assert_eq!(
            cfg.pool,
            PoolSection::default(),
            "untouched keys keep their defaults"
        );
        // What `ordo config print` shows reads back to the same configuration.
        let printed = cfg.to_toml().unwrap();
        assert_eq!(NodeConfig::from_toml(&printed).unwrap(), cfg, "{printed}");
    }

    #[test]
    fn bad_keys_and_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ordo.toml");
        for (text, key) in [
            ("[l1]\nconfirmatons = 3\n", "confirmatons"),
            ("[l1]\nconfirmations = \"three\"\n", "l1.confirmations"),
            ("[l1]\nda = \"carrier-pigeon\"\n", "l1.da"),
            ("rpc_addr = \"nowhere\"\n", "rpc_addr"),
            ("[plugins.limits.ordering]\ndeadline_ms = 0\n", "ordering"),
            (
                "[rpc]\ntrusted_proxies = [\"10.0.0.0/99\"]\n",
                "rpc.trusted_proxies",
            ),
            ("[builder]\nthread_nice = -21\n", "thread_nice"),
            ("[builder]\nthread_nice = 3\n", "thread_nice"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = NodeConfig::layered(Some(&file), vec![], &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text:?}: {err}");
        }
        let err = NodeConfig::layered(None, env(&[("ORDO_CHAIN_ID", "seven")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("chain_id"), "{err}");
        let err = NodeConfig::layered(None, vec![], &["l1.nope=1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("l1.nope"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = NodeConfig::from_toml("bloc_time_ms = 5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bloc_time_ms"), "{err}");
    }

    #[test]
    fn dev_account_zero_is_the_anvil_one() {
        let keys = dev_keys().unwrap();
        assert_eq!(
            keys[0].address().to_string().to_lowercase(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
    }
}
