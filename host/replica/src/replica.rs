//! One replica of the group as the node runs it: Raft on the node's storage, the
//! replication listener, and block production following leadership.
//!
//! [`Replica::start`] puts the builder on standby before anything else, so a replica never
//! seals a block unless it leads. The leadership watcher then lets the builder seal only
//! while this replica is the leader, and only after every entry the group committed before
//! is applied here ([`Raft::ensure_linearizable`]): the new leader extends exactly the chain
//! the group agreed on. Losing leadership puts the builder back on standby.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use openraft::{Config, ServerState, SnapshotPolicy};
use ordo_builder::Builder;
use ordo_storage::{Storage, raft::RaftMeta};
use serde::Serialize;
use tracing::{info, warn};

use crate::{
    CatchUp, ChainMachine, Faults, HttpNetwork, LogStore, RaftReplicator,
    forwarding::TxForwarder,
    machine::ReplicaParts,
    node_at, router, serve,
    types::{Command, CommandResult, ForwardRequest, ForwardTarget, ForwardedCalls, NodeId, Raft},
};

/// What [`Replica::stand_early`] decided.
enum Stand {
    /// Ask this leader whether it leads, and stand if it does not answer yes.
    Now(NodeId, crate::types::ReplicaNode),
    /// Not before this long.
    After(Duration),
    No,
}

/// How a replica joins its group.
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    /// This replica's id.
    pub id: NodeId,
    /// Every voter's replication listener, this replica's own included: the group formed on
    /// first start (every replica proposes the same membership; openraft keeps one).
    pub members: BTreeMap<NodeId, SocketAddr>,
    /// Every voter's public JSON-RPC address, where a follower forwards writes.
    pub rpc: BTreeMap<NodeId, SocketAddr>,
    /// The group's shared secret.
    pub secret: Arc<str>,
    /// Leader heartbeats, ms.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in this range (ms) stands.
    pub election_timeout_ms: (u64, u64),
    /// Longest a group of accepted transactions waits for the quorum before their senders
    /// are told to retry.
    pub txs_within: Duration,
    /// This replica joins a running group (the leader adds it: `admin_addReplica`) rather
    /// than forming one on its first start.
    pub join: bool,
    /// A snapshot is taken after this many log entries; the log before it is then purged,
    /// but for the last `log_kept` entries (a replica further behind catches up by
    /// snapshot).
    pub snapshot_every: u64,
    /// Entries kept in the log behind the last snapshot.
    pub log_kept: u64,
}

/// A running replica.
#[derive(Clone)]
pub struct Replica {
    id: NodeId,
    raft: Raft,
    storage: Storage,
    builder: Arc<Builder>,
    addr: SocketAddr,
    network: HttpNetwork,
    calls: ForwardTarget,
    catch_up: Arc<CatchUp>,
    /// Transactions on their way to the leader while this replica follows.
    txs_out: TxForwarder,
    tasks: Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What `ordo_clusterStatus` answers: one replica's view of the group.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// This replica.
    pub id: NodeId,
    /// `leader`, `follower`, `candidate` or `learner`.
    pub role: &'static str,
    /// The Raft term.
    pub term: u64,
    /// The leader this replica knows of.
    pub leader_id: Option<NodeId>,
    /// The last log index this replica knows to be committed.
    pub commit_index: Option<u64>,
    /// The chain's head here: the last block applied.
    pub applied_block: u64,
}

/// The operator's view: the public status and the group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub status: ClusterStatus,
    /// The last log index applied here.
    pub applied_index: Option<u64>,
    /// The last log index here.
    pub last_log_index: Option<u64>,
    /// Voters and learners, with their replication listeners.
    pub members: Vec<Member>,
    /// On the leader: how far each replica's log matches, by id.
    pub replication: Option<BTreeMap<NodeId, Option<u64>>>,
    /// The last log index the current snapshot covers.
    pub snapshot_index: Option<u64>,
    /// The last log index purged from the log here (it is in the snapshot).
    pub purged_index: Option<u64>,
    /// Milliseconds since the leader last heard from a quorum (leader only).
    pub millis_since_quorum_ack: Option<u64>,
}

/// A member of the group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: NodeId,
    /// The replication listener.
    pub addr: String,
    /// The public JSON-RPC address.
    pub rpc: String,
    pub voter: bool,
}

impl Replica {
    /// Starts this replica: Raft over `storage`'s log, the replication listener on
    /// `listener`, the builder on standby until this replica leads. Forms the group on the
    /// first start.
    pub async fn start(
        settings: ReplicaSettings,
        listener: tokio::net::TcpListener,
        parts: ReplicaParts,
        faults: Faults,
    ) -> Result<Self, String> {
        let (builder, pool, storage) = (
            parts.builder.clone(),
            parts.pool.clone(),
            parts.storage.clone(),
        );
        builder.stand_by();
        let id = settings.id;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (min, max) = settings.election_timeout_ms;
        let config = Config {
            cluster_name: "ordo".into(),
            heartbeat_interval: settings.heartbeat_ms,
            election_timeout_min: min,
            election_timeout_max: max,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_every.max(1)),
            max_in_snapshot_log_to_keep: settings.log_kept,
            // A replica this far behind is sent a snapshot rather than the entries.
            replication_lag_threshold: settings.snapshot_every.max(1) + settings.log_kept,
            // Installing a snapshot executes the blocks the replica lacks before it answers.
            install_snapshot_timeout: 60_000,
            // A block entry carries a whole block: a few per request keep a request small
            // enough to arrive within a heartbeat.
            max_payload_entries: 16,
            ..Config::default()
        }
        .validate()
        .map_err(|e| format!("replication settings: {e}"))?;
        let network = HttpNetwork::new(id, settings.secret.clone(), faults.clone());
        let calls = ForwardTarget::default();
        let catch_up = Arc::new(CatchUp::default());
        // The log keeps this replica's transactions from here on: the pool holds again
        // what it had pooled from the log before the log is applied further.
        pool.keep_in_group_log();
        let machine = ChainMachine::new(id, parts.clone(), network.clone());
        let pooled = tokio::task::spawn_blocking({
            let machine = machine.clone();
            move || machine.restore_pool()
        })
        .await
        .map_err(|e| format!("re-pooling the log's transactions: {e}"))?
        .map_err(|e| format!("re-pooling the log's transactions: {e}"))?;
        tracing::info!(target: "ordo::replica", pooled, "transactions re-pooled from the snapshot and the log");
        let raft = Raft::new(
            id,
            Arc::new(config),
            network.clone(),
            LogStore::new(storage.clone()).withdrawing_from(pool.clone(), machine.provisional()),
            machine,
        )
        .await
        .map_err(|e| format!("starting Raft: {e}"))?;
        let replicator = Arc::new(RaftReplicator::new(
            raft.clone(),
            tokio::runtime::Handle::current(),
            settings.txs_within,
        ));
        builder.set_replicator(replicator.clone());
        // Nothing this replica accepts is acknowledged before the group committed it.
        if let Some(bundles) = builder.bundle_pool() {
            bundles.set_replicator(replicator.clone());
        }
        if let Some(batcher) = &parts.batcher {
            // Only the leader builds batches (and so posts them); every record it writes
            // is the group's first.
            batcher.set_replicator(replicator.clone());
            let builder = builder.clone();
            batcher.set_gate(Arc::new(move || !builder.standing_by()));
        }
        pool.set_replicator(replicator);
        let serving = tokio::spawn({
            let router = router(
                raft.clone(),
                catch_up.clone(),
                storage.clone(),
                calls.clone(),
                id,
                settings.secret.clone(),
                faults,
            );
            async move {
                if let Err(e) = serve(listener, router).await {
                    tracing::error!(target: "ordo::replica", %e, "replication listener failed");
                }
            }
        });
        let (txs_out, forwarding) = TxForwarder::start(id, raft.clone(), network.clone());
        let replica = Self {
            id,
            raft: raft.clone(),
            storage,
            builder,
            addr,
            network,
            calls,
            catch_up,
            txs_out,
            tasks: Default::default(),
        };
        if !settings.join && !raft.is_initialized().await.map_err(|e| e.to_string())? {
            let mut members = BTreeMap::new();
            for (member, addr) in &settings.members {
                let rpc = settings
                    .rpc
                    .get(member)
                    .ok_or_else(|| format!("replica {member} has no RPC address"))?;
                members.insert(*member, node_at(*addr, *rpc));
            }
            // Every replica proposes the same membership on its first start; openraft
            // keeps one and refuses the rest as "already initialized".
            if let Err(e) = raft.initialize(members).await {
                let already = matches!(
                    e.api_error(),
                    Some(openraft::error::InitializeError::NotAllowed(_))
                );
                if !already {
                    return Err(format!("forming the replica group: {e}"));
                }
            }
        }
        let watcher = tokio::spawn(replica.clone().follow_leadership());
        replica.tasks.lock().extend([serving, watcher, forwarding]);
        info!(target: "ordo::replica", id, %addr, "replica started");
        Ok(replica)
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The replication listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Whether this replica leads (as far as it knows).
    pub fn is_leader(&self) -> bool {
        crate::network::leads_now(&self.raft, self.id)
    }

    /// The leader this replica knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The leader's id and public JSON-RPC address, if a leader is known and it is not this
    /// replica.
    pub fn leader_rpc(&self) -> Option<(NodeId, SocketAddr)> {
        let (leader, node) = self.other_leader()?;
        node.rpc.parse().ok().map(|addr| (leader, addr))
    }

    /// The leader this replica knows of, and where it listens, when that is another replica.
    fn other_leader(&self) -> Option<(NodeId, crate::types::ReplicaNode)> {
        crate::network::leader_of(&self.raft, self.id)
    }

    /// On a follower: hands `raw`, which this replica decoded and whose `sender` it
    /// recovered, to the leader's pool (batched with the others waiting: see
    /// forwarding.rs): the leader's answer, the hash or its error. With no leader known,
    /// or none answering, a retryable -32000, never a success the leader did not give.
    pub async fn forward_tx(
        &self,
        raw: alloy_primitives::Bytes,
        sender: alloy_primitives::Address,
    ) -> crate::Forwarded {
        self.txs_out.forward(raw, sender).await
    }

    /// Where this replica, leading, answers writes its followers forward.
    pub fn set_forwarded_calls(&self, calls: Arc<dyn ForwardedCalls>) {
        let _ = self.calls.set(calls);
    }

    /// Hands `method(params)` from `searcher` to the leader over the replication listeners
    /// and answers with its answer. With no leader known, or none answering, a retryable
    /// -32000, never a success the leader did not give.
    pub async fn forward(
        &self,
        method: &str,
        params: serde_json::Value,
        searcher: Option<alloy_primitives::Address>,
    ) -> Result<serde_json::Value, (i32, String)> {
        let Some((leader, node)) = self.other_leader() else {
            return Err((
                -32000,
                "no replica leads right now (an election is under way); retry".into(),
            ));
        };
        let req = ForwardRequest {
            method: method.to_string(),
            params,
            searcher,
        };
        metrics::counter!("ordo_rpc_forwarded_total", "method" => method.to_string()).increment(1);
        match self.network.forward(leader, &node.addr, &req).await {
            Ok(answer) => answer,
            Err(e) => Err((
                -32000,
                format!("the leader (replica {leader}) did not answer ({e}); retry"),
            )),
        }
    }

    /// Adds replica `id` (replication listener `addr`, public RPC `rpc`) to the group as a
    /// voter, online: first as a learner, which catches up (by snapshot when the log it
    /// needs was purged), then into the voters. Only the leader can; the others say who
    /// leads.
    pub async fn add_replica(
        &self,
        id: NodeId,
        addr: SocketAddr,
        rpc: SocketAddr,
    ) -> Result<ClusterDetail, String> {
        self.must_lead()?;
        let voters = self.voters();
        if voters.contains(&id) {
            return Err(format!("replica {id} is already a voter"));
        }
        info!(target: "ordo::replica", id, %addr, "adding a replica: catching it up as a learner");
        self.raft
            .add_learner(id, node_at(addr, rpc), true)
            .await
            .map_err(|e| format!("adding replica {id} as a learner: {e}"))?;
        let mut voters = voters;
        voters.insert(id);
        self.raft
            .change_membership(voters, false)
            .await
            .map_err(|e| format!("making replica {id} a voter: {e}"))?;
        info!(target: "ordo::replica", id, "replica added");
        Ok(self.detail())
    }

    /// Removes replica `id` from the group, online. Only the leader can; a group keeps at
    /// least one voter. A leader that removes itself steps down once the change commits.
    pub async fn remove_replica(&self, id: NodeId) -> Result<ClusterDetail, String> {
        self.must_lead()?;
        let mut voters = self.voters();
        let member = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .is_some();
        if !member {
            return Err(format!("replica {id} is not a member"));
        }
        let change = if voters.remove(&id) {
            if voters.is_empty() {
                return Err("the group's last voter cannot be removed".into());
            }
            // Not retained as a learner: the removed replica leaves the membership.
            openraft::ChangeMembers::ReplaceAllVoters(voters)
        } else {
            openraft::ChangeMembers::RemoveNodes([id].into())
        };
        self.raft
            .change_membership(change, false)
            .await
            .map_err(|e| format!("removing replica {id}: {e}"))?;
        info!(target: "ordo::replica", id, "replica removed");
        Ok(self.detail())
    }

    /// Applies an operator command on every replica (through the log), answering with this
    /// replica's answer once the group committed and this replica applied it. Only the
    /// leader can; the others say who leads.
    pub async fn operate(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, (i32, String)> {
        self.must_lead().map_err(|e| (-32000, e))?;
        let written = self
            .raft
            .client_write(Command::Operation {
                method: method.to_string(),
                params,
            })
            .await
            .map_err(|e| (-32000, format!("not committed by the group ({e}); retry")))?;
        match written.data {
            CommandResult::Answered(value) => Ok(value),
            CommandResult::Applied => Ok(serde_json::Value::Null),
            CommandResult::Failed { code, message } => Err((code, message)),
            CommandResult::Refused(why) => Err((-32000, why)),
        }
    }

    fn voters(&self) -> std::collections::BTreeSet<NodeId> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    fn must_lead(&self) -> Result<(), String> {
        if self.is_leader() {
            return Ok(());
        }
        Err(match self.leader() {
            Some(leader) => {
                format!("replica {} does not lead; replica {leader} does", self.id)
            }
            None => format!("replica {} does not lead, and no leader is known", self.id),
        })
    }

    /// The public status.
    pub fn status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
        let committed: Option<Option<openraft::LogId<NodeId>>> = self
            .storage
            .raft_meta(RaftMeta::Committed)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        // The stored commit index trails the leader's between its saves: the applied index
        // is committed too, so the larger of both is the best known.
        let applied = m.last_applied.map(|l| l.index);
        let commit_index = committed.flatten().map(|l| l.index).max(applied);
        ClusterStatus {
            id: self.id,
            role: match m.state {
                ServerState::Leader => "leader",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Follower | ServerState::Shutdown => "follower",
            },
            term: m.current_term,
            leader_id: m.current_leader,
            commit_index,
            applied_block: self.builder.head().number(),
        }
    }

    /// The operator's status.
    pub fn detail(&self) -> ClusterDetail {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| Member {
                id: *id,
                addr: node.addr.clone(),
                rpc: node.rpc.clone(),
                voter: voters.contains(id),
            })
            .collect();
        ClusterDetail {
            status: self.status(),
            applied_index: m.last_applied.map(|l| l.index),
            last_log_index: m.last_log_index,
            members,
            replication: m.replication.as_ref().map(|r| {
                r.iter()
                    .map(|(id, matched)| (*id, matched.map(|l| l.index)))
                    .collect()
            }),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
        }
    }

    /// The group as the public dashboard shows it: the public status, and each member's id,
    /// whether it votes and leads, and (on the leader) how far its log matches. No
    /// addresses.
    pub fn public_view(&self) -> serde_json::Value {
        let detail = self.detail();
        let members: Vec<serde_json::Value> = detail
            .members
            .iter()
            .map(|m| {
                let matched = detail
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&m.id).copied().flatten());
                serde_json::json!({
                    "id": m.id,
                    "voter": m.voter,
                    "leader": detail.status.leader_id == Some(m.id),
                    "matchedIndex": matched,
                })
            })
            .collect();
        let mut view = serde_json::to_value(&detail.status).unwrap_or_default();
        view["members"] = members.into();
        view
    }

    /// Stops Raft and the replication listener.
    pub async fn shutdown(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            warn!(target: "ordo::replica", %e, "Raft did not shut down cleanly");
        }
    }

    /// Lets the builder seal only while this replica leads, from the group's committed
    /// chain on.
    async fn follow_leadership(self) {
        let mut metrics = self.raft.metrics();
        let mut leading = false;
        let mut last_stand = None;
        loop {
            let leader = self.is_leader();
            if leader && !leading {
                // Every entry committed before this term is applied first (its blocks
                // stored here), so the first block sealed follows the group's head.
                match self.raft.ensure_linearizable().await {
                    Ok(_) => {
                        leading = true;
                        let head = self.builder.head();
                        info!(target: "ordo::replica", id = self.id, term = metrics.borrow().current_term, head = head.number(), "leading: sealing blocks");
                        self.builder.lead();
                    }
                    Err(e) => {
                        warn!(target: "ordo::replica", id = self.id, %e, "leader, but the group's chain is not applied here yet");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            } else if !leader && leading {
                leading = false;
                info!(target: "ordo::replica", id = self.id, "no longer leading: standing by");
                let builder = self.builder.clone();
                let _ = tokio::task::spawn_blocking(move || builder.stand_by()).await;
            } else if leader && leading && self.builder.standing_by() {
                // The builder stood by on its own (another leader's block was committed
                // while this replica thought it led): start over, from the group's chain.
                leading = false;
                continue;
            }
            // A replica behind stands again once no leader has been heard from for a few
            // election timeouts: then the others may all be behind too.
            let election_timeout_max =
                Duration::from_millis(self.raft.config().election_timeout_max);
            if self.catch_up.lagging() && self.catch_up.since_append() > election_timeout_max * 3 {
                self.raft.runtime_config().elect(true);
            }
            let mut tick = election_timeout_max / 4;
            match self.stand_early(last_stand) {
                Stand::Now(leader, node) => {
                    last_stand = Some(tokio::time::Instant::now());
                    let within = Duration::from_millis(self.raft.config().heartbeat_interval);
                    if !self.network.leads(leader, &node.addr, within).await {
                        info!(target: "ordo::replica", id = self.id, leader, silent_ms = self.catch_up.since_append().as_millis() as u64, "the leader is silent and does not answer: standing for election");
                        if let Err(e) = self.raft.trigger().elect().await {
                            warn!(target: "ordo::replica", id = self.id, %e, "could not stand for election");
                        }
                    }
                }
                Stand::After(wait) => tick = tick.min(wait.max(Duration::from_millis(5))),
                Stand::No => {}
            }
            // Changes wake the watcher; the tick catches a builder that stood by on its own.
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Whether this follower should stand for election before openraft's own timer would
    /// make it. openraft 0.9 lets a follower campaign only once the leader's lease
    /// (`election_timeout_max`) and then its own election timeout have both run out since the
    /// last heartbeat, 700–800 ms with the defaults, while the other voters grant a vote as
    /// soon as the lease alone has run out. So a current follower that heard nothing for the
    /// lease (plus a margin for the others' clocks) stands, after asking the leader whether it
    /// still leads ([`Replica::follow_leadership`]). The followers stand one after another
    /// (by rank among the voters other than the leader) so that two do not split the vote;
    /// one that is behind leaves it to the others ([`CatchUp`]).
    fn stand_early(&self, last_stand: Option<tokio::time::Instant>) -> Stand {
        let config = self.raft.config();
        let (min, lease) = (
            Duration::from_millis(config.election_timeout_min),
            Duration::from_millis(config.election_timeout_max),
        );
        if last_stand.is_some_and(|at| at.elapsed() < lease * 2) || self.catch_up.lagging() {
            return Stand::No;
        }
        let (voters, follower) = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
            (voters, m.state == ServerState::Follower)
        };
        let Some((leader, node)) = self.other_leader().filter(|_| follower) else {
            return Stand::No;
        };
        let Some(rank) = voters
            .iter()
            .filter(|&&v| v != leader)
            .position(|&v| v == self.id)
        else {
            return Stand::No;
        };
        let margin = Duration::from_millis(config.heartbeat_interval / 2);
        let due = lease + margin + min / 2 * rank as u32;
        match due.checked_sub(self.catch_up.since_append()) {
            Some(wait) if !wait.is_zero() => Stand::After(wait),
            _ => Stand::Now(leader, node),
        }
    }
}
