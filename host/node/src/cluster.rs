//! The node as one replica of a group: `[cluster]` → [`ordo_replica::Replica`], and
//! `ordo cluster init`, which writes a group's configuration.
//!
//! A group shares one genesis, one sequencer key (whichever replica leads signs with it, so
//! the chain has one sequencer address) and one secret for the replication listeners. Each
//! replica has its own datadir, public RPC, admin and replication ports.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use eyre::WrapErr;
use ordo_builder::Builder;
use ordo_pool::Pool;
use ordo_replica::{Faults, Replica, ReplicaParts, ReplicaSettings};
use ordo_storage::Storage;

use crate::{config::NodeConfig, secret_file};

/// Starts this node's replica when `[cluster]` names peers: the builder stands by until the
/// replica leads. `None` on a single node.
pub async fn start_replica(
    config: &NodeConfig,
    builder: Arc<Builder>,
    pool: Arc<Pool>,
    storage: Storage,
    batcher: Arc<ordo_batcher::Batcher>,
    operations: Arc<dyn ordo_replica::Operations>,
) -> eyre::Result<Option<Replica>> {
    let section = &config.cluster;
    if !section.enabled() {
        return Ok(None);
    }
    let me = section.me()?;
    let secret_path = section
        .secret_file
        .as_deref()
        .ok_or_else(|| eyre::eyre!("[cluster] secret_file is required"))?;
    let secret = secret_file::read_secret_file(secret_path, "cluster secret")?;
    eyre::ensure!(
        secret.len() >= 32,
        "the cluster secret in {} is shorter than 32 characters",
        secret_path.display()
    );
    let listener = tokio::net::TcpListener::bind(me.addr)
        .await
        .wrap_err_with(|| format!("binding the replication listener on {}", me.addr))?;
    let settings = ReplicaSettings {
        id: me.id,
        members: section.peers.iter().map(|p| (p.id, p.addr)).collect(),
        rpc: section.peers.iter().map(|p| (p.id, p.rpc)).collect(),
        secret: Arc::from(secret.as_str()),
        heartbeat_ms: section.heartbeat_ms,
        election_timeout_ms: (
            section.election_timeout_min_ms,
            section.election_timeout_max_ms,
        ),
        txs_within: Duration::from_millis(section.tx_commit_timeout_ms.max(1)),
        join: section.join,
        snapshot_every: section.snapshot_every,
        log_kept: section.log_kept,
    };
    let parts = ReplicaParts {
        builder,
        pool,
        storage,
        batcher: Some(batcher),
        operations: Some(operations),
    };
    let replica = Replica::start(settings, listener, parts, Faults::default())
        .await
        .map_err(|e| eyre::eyre!("{e}"))?;
    Ok(Some(replica))
}

/// What `ordo cluster init` wrote.
#[derive(Debug)]
pub struct InitReport {
    /// Each replica's config file.
    pub configs: Vec<std::path::PathBuf>,
}

/// Writes a group of `replicas` under `dir`: `dir/node<i>/ordo.toml` (free loopback ports,
/// datadir beside it), the shared secret and sequencer key (both 0600), and the genesis
/// (`genesis`, else the dev chain's accounts).
pub fn init(dir: &Path, replicas: usize, genesis: Option<&Path>) -> eyre::Result<InitReport> {
    eyre::ensure!(
        (1..=9).contains(&replicas),
        "--replicas must be between 1 and 9"
    );
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .wrap_err_with(|| format!("resolving {}", dir.display()))?;
    let secret_path = dir.join("cluster.secret");
    let key_path = dir.join("sequencer.key");
    for existing in [&secret_path, &key_path] {
        eyre::ensure!(
            !existing.exists(),
            "{} exists: a group is already initialised in {}",
            existing.display(),
            dir.display()
        );
    }
    let genesis = match genesis {
        Some(path) => {
            let copy = dir.join("genesis.json");
            std::fs::copy(path, &copy)
                .wrap_err_with(|| format!("copying the genesis {}", path.display()))?;
            Some(copy)
        }
        None => None,
    };
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut secret);
    secret_file::write_private(
        &secret_path,
        alloy_primitives::hex::encode(secret).as_bytes(),
    )?;
    crate::keys::load_or_create_key_file(&key_path, "sequencer")?;

    // Three free ports per replica, all held until every one is picked, so none repeats.
    let mut held = Vec::new();
    let mut port = || -> eyre::Result<std::net::SocketAddr> {
        let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = socket.local_addr()?;
        held.push(socket);
        Ok(addr)
    };
    let mut peers = Vec::new();
    let mut ports = BTreeMap::new();
    for id in 1..=replicas as u64 {
        let (rpc, admin, raft) = (port()?, port()?, port()?);
        peers.push(crate::config::ClusterPeer {
            id,
            addr: raft,
            rpc,
        });
        ports.insert(id, admin);
    }
    drop(held);
    let mut configs = Vec::new();
    for peer in &peers {
        let node_dir = dir.join(format!("node{}", peer.id));
        std::fs::create_dir_all(&node_dir)?;
        let mut config = NodeConfig {
            datadir: node_dir.join("data"),
            rpc_addr: peer.rpc,
            admin_addr: ports[&peer.id],
            genesis: genesis.clone(),
            ..NodeConfig::default()
        };
        config.sequencer.key_file = Some(key_path.clone());
        config.cluster.id = peer.id;
        config.cluster.peers = peers.clone();
        config.cluster.secret_file = Some(secret_path.clone());
        let text = replica_toml(&config)?;
        let path = node_dir.join("ordo.toml");
        std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))?;
        configs.push(path);
    }
    Ok(InitReport { configs })
}

/// The keys of `config` that make it this replica (the rest stay at their defaults, which
/// `ordo config print --config FILE` shows).
fn replica_toml(config: &NodeConfig) -> eyre::Result<String> {
    let full = toml::Table::try_from(config).wrap_err("rendering a replica's config")?;
    let mut out = toml::Table::new();
    for key in [
        "datadir",
        "rpc_addr",
        "admin_addr",
        "genesis",
        "chain_id",
        "block_time_ms",
    ] {
        if let Some(value) = full.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    for section in ["sequencer", "cluster"] {
        if let Some(value) = full.get(section) {
            out.insert(section.into(), value.clone());
        }
    }
    Ok(format!(
        "# One replica of a group written by `ordo cluster init`.\n{}",
        toml::to_string_pretty(&out)?
    ))
}
