//! Ordo replication: one Raft group (openraft, pinned) carries what a sequencer
//! acknowledges, so a replica can take over without losing it.
//!
//! Map:
//! - [`TypeConfig`] (types.rs): what the log carries ([`Command`]), node ids and addresses.
//! - [`LogStore`] (log_store.rs): openraft's log storage on the node's fjall database
//!   (`ordo_storage::raft`): entries and the vote are on disk before openraft is told so;
//!   the latest entries are also kept decoded, for the reads that follow each append.
//! - network.rs: the replica-to-replica transport, JSON over HTTP on its own listener with
//!   the group's shared secret ([`router`] answers, [`HttpNetwork`] sends), and [`Faults`],
//!   the seam that cuts links for partition tests.
//! - [`ChainMachine`] (machine.rs): the state machine: a committed `Block` entry is stored
//!   on every replica through the builder (`Builder::apply_committed`), with its log
//!   position in the block's batch; `Txs` are pooled everywhere; an `Operation` (plugin or
//!   control change) goes to the node's [`Operations`]; snapshots name a head and carry
//!   the pool and the operations, and the replica that installs one fetches and executes
//!   the blocks it lacks.
//! - [`Provisional`] (provisional.rs): what a restart pooled from entries it did not know
//!   committed, until an apply confirms them or the log drops them (they then leave the
//!   pool).
//! - forwarding.rs: a follower's `eth_sendRawTransaction`s, decoded and recovered there,
//!   go to the leader in batches over the replication listener ([`Replica::forward_tx`]).
//! - [`RaftReplicator`] (replicator.rs): the builder's replicator: each sealed block is
//!   written to the log, and stored once committed and applied.
//! - [`Replica`] (replica.rs): all of the above for one node: the group formed on first
//!   start, the builder on standby unless this replica leads (and then only once the
//!   group's committed chain is applied here), and the status `ordo_clusterStatus` shows.
//! - [`testing`]: a state machine in memory, for tests of the log and the transport.
//!
//! Membership changes online: [`Replica::add_replica`] (a learner first, caught up, then a
//! voter) and [`Replica::remove_replica`].

mod forwarding;
mod log_store;
mod machine;
mod network;
mod provisional;
mod replica;
mod replicator;
pub mod testing;
mod types;

pub use log_store::LogStore;
pub use machine::{ChainMachine, ChainSnapshot, Operation, ReplicaParts, SnapshotTaker};
pub use network::{CatchUp, Faults, HttpNetwork, HttpPeer, node_at, router, serve};
pub use provisional::Provisional;
pub use replica::{ClusterDetail, ClusterStatus, Member, Replica, ReplicaSettings};
pub use replicator::RaftReplicator;
pub use types::{
    Command, CommandResult, ForwardTarget, Forwarded, ForwardedCalls, NodeId, Operations, Raft,
    ReplicaNode, TxAnswer, TypeConfig,
};
