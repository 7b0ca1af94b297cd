//! Ordo replication: one Raft group (openraft, pinned) carries what a sequencer
//! acknowledges, so a replica can take over without losing it.
//!
//! Map:
//! - [`TypeConfig`] (types.rs): what the log carries ([`Command`]), node ids and addresses.
//! - [`LogStore`] (log_store.rs): openraft's log storage on the node's fjall database
//!   (`ordo_storage::raft`): entries and the vote are on disk before openraft is told so.
//! - network.rs: the replica-to-replica transport, JSON over HTTP on its own listener with
//!   the group's shared secret ([`router`] answers, [`HttpNetwork`] sends), and [`Faults`],
//!   the seam that cuts links for partition tests.
//! - [`testing`]: a state machine in memory, for tests of the log and the transport.
//!
//! Still to come (issue 15): the state machine that applies commands to the chain and the
//! mempool, and leadership driving block production.

mod log_store;
mod network;
pub mod testing;
mod types;

pub use log_store::LogStore;
pub use network::{Faults, HttpNetwork, HttpPeer, node_at, router, serve};
pub use types::{Command, CommandResult, NodeId, Raft, TypeConfig};
