//! Ordo replication: one Raft group (openraft, pinned) carries what a sequencer
//! acknowledges, so a replica can take over without losing it.
//!
//! Map:
//! - [`TypeConfig`] (types.rs): what the log carries ([`Command`]), node ids and addresses.
//! - [`LogStore`] (log_store.rs): openraft's log storage on the node's fjall database
//!   (`ordo_storage::raft`): entries and the vote are on disk before openraft is told so.
//!
//! Still to come (issue 15): the state machine that applies commands to the chain and the
//! mempool, the replica-to-replica transport, leadership driving block production.

mod log_store;
mod types;

pub use log_store::LogStore;
pub use types::{Command, CommandResult, NodeId, Raft, TypeConfig};
