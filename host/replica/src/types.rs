//! What one Raft log entry carries, and openraft's type configuration for Ordo.

use std::{io::Cursor, sync::Arc};

use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A replica's id: stable across restarts, unique in the group.
pub type NodeId = u64;

/// What the leader writes to the log. Followers apply the same commands in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Transactions the leader accepted, raw, with the senders it recovered, in arrival
    /// order: one group of its WAL writer (the log is a replica's WAL: this entry is what
    /// keeps them). A sender hears back only once the quorum has committed them.
    Txs(Vec<(Bytes, Address)>),
    /// A block the leader sealed (its stored record, RLP): every replica stores it, the
    /// followers after executing it to the same hash.
    Block(Bytes),
    /// A change the leader's bundle pool made: the bundles it accepted (their stored
    /// records) and the bundles it removed (replaced, cancelled).
    Bundles {
        puts: Vec<Bytes>,
        removes: Vec<B256>,
    },
    /// A batch record the leader's batcher wrote (a sealed batch, or its L1 progress), in
    /// the batcher's encoding.
    Batch { index: u64, record: Bytes },
    /// An operator's command that every replica applies alike, so that whichever leads
    /// runs the same plugins with the same controls: an admin method and its parameters,
    /// as [`Operations::apply`] takes them.
    Operation { method: String, params: Value },
}

/// Applies operator commands on one replica (the node's admin methods that change plugins
/// or controls). Every replica applies the same commands in log order, and the leader's
/// answer is the operator's.
pub trait Operations: Send + Sync + 'static {
    /// Applies `method` with `params` here: the answer, or a JSON-RPC error (code, message).
    /// Blocking.
    fn apply(&self, method: &str, params: &Value) -> Result<Value, (i32, String)>;
}

/// A member of the group as the membership records it: where replicas reach it, and where a
/// follower forwards the writes it receives when this member leads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaNode {
    /// The replication listener, `host:port`.
    pub addr: String,
    /// The public JSON-RPC address, `host:port`.
    pub rpc: String,
}

impl std::fmt::Display for ReplicaNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (rpc {})", self.addr, self.rpc)
    }
}

/// Writes a follower hands to its leader over the replication listener, with who sent them:
/// a searcher's `X-Flashbots-Signature` covers the request body the follower received, so
/// the follower checks it and forwards the signer, which the group's secret vouches for.
pub trait ForwardedCalls: Send + Sync + 'static {
    /// Answers `method(params)` from `searcher` (None: unsigned) on the leader: the answer,
    /// or a JSON-RPC error (code, message). Blocking.
    fn call(
        &self,
        method: &str,
        params: &Value,
        searcher: Option<Address>,
    ) -> Result<Value, (i32, String)>;

    /// Submits transactions a follower decoded, each with the sender it recovered, as
    /// `eth_sendRawTransaction` would: each one's hash, or its JSON-RPC error, in order. The
    /// group's secret vouches for the senders, as it does for those a `Txs` entry carries.
    fn submit_recovered(
        self: Arc<Self>,
        txs: Vec<(Bytes, Address)>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<TxAnswer>> + Send + 'static>>;
}

/// Where the replication listener hands forwarded writes (set once the node's API exists).
pub type ForwardTarget = Arc<std::sync::OnceLock<Arc<dyn ForwardedCalls>>>;

/// A write a follower forwards to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardRequest {
    pub method: String,
    pub params: Value,
    pub searcher: Option<Address>,
}

/// A forwarded transaction's answer: its hash, or a JSON-RPC error (code, message).
pub type TxAnswer = Result<B256, (i32, String)>;

/// What became of a transaction handed to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// The leader's answer, or a retryable error.
    Answer(TxAnswer),
    /// This replica leads now: it admits the transaction itself.
    Leading,
    /// The leader is an older build, without `/forward/txs`: forward the call as it came.
    Unsupported,
}

/// What applying a command answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// Applied.
    Applied,
    /// Not applied, and why (every replica refuses it alike).
    Refused(String),
    /// An operation's answer.
    Answered(Value),
    /// An operation's error, as JSON-RPC has it.
    Failed { code: i32, message: String },
}

openraft::declare_raft_types!(
    /// openraft's types for Ordo: commands as above, replicas addressed by [`ReplicaNode`],
    /// snapshots as bytes (a chain snapshot is small: see machine.rs).
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = NodeId,
        Node = ReplicaNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A replica's Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// A log entry read for the transactions it carries alone (the rest is skipped unparsed).
/// Each variant of [`Command`] is named here.
#[derive(Deserialize)]
struct TxsOf {
    payload: Payload,
}

#[derive(Deserialize)]
enum Payload {
    Blank,
    Normal(CommandTxs),
    Membership(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
enum CommandTxs {
    Txs(Vec<(Bytes, Address)>),
    Block(serde::de::IgnoredAny),
    Bundles(serde::de::IgnoredAny),
    Batch(serde::de::IgnoredAny),
    Operation(serde::de::IgnoredAny),
}

/// The transactions a stored log entry carries: a `Txs` entry's, none for any other. What a
/// restart re-pools.
pub(crate) fn carried_txs(entry: &[u8]) -> Result<Vec<(Bytes, Address)>, serde_json::Error> {
    let read: TxsOf = serde_json::from_slice(entry)?;
    Ok(match read.payload {
        Payload::Normal(CommandTxs::Txs(txs)) => txs,
        Payload::Blank | Payload::Normal(_) | Payload::Membership(_) => Vec::new(),
    })
}
