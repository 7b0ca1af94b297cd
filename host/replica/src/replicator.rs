//! The builder's [`Replicator`] and the pool's [`ordo_pool::TxReplicator`] on a Raft group:
//! a sealed block becomes a `Block` entry, a WAL group of accepted transactions a `Txs`
//! entry, and `replicate` returns once the group committed it and this replica applied it
//! (which stored the block). Anything else, a lost leadership first of all, is an error: the block will
//! not be stored here. A leader cut off from its group would wait for ever (openraft 0.9
//! has no check-quorum step-down), so the wait is bounded: past it the block is given up.

use alloy_rlp::Encodable;
use ordo_builder::Replicator;
use ordo_primitives::BlockRecord;

use crate::types::{Command, CommandResult, Raft};

/// Replicates blocks through `raft`, from a thread outside the async runtime.
#[derive(Clone)]
pub struct RaftReplicator {
    raft: Raft,
    runtime: tokio::runtime::Handle,
    within: std::time::Duration,
}

impl std::fmt::Debug for RaftReplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftReplicator").finish_non_exhaustive()
    }
}

impl RaftReplicator {
    /// Writes to `raft`, driving the write on `runtime`, giving a block up after `within`.
    pub fn new(raft: Raft, runtime: tokio::runtime::Handle, within: std::time::Duration) -> Self {
        Self {
            raft,
            runtime,
            within,
        }
    }
}

impl RaftReplicator {
    /// Writes `command` and waits (bounded) until it is committed and applied here.
    fn write(&self, command: Command) -> Result<(), String> {
        let write = self.raft.client_write(command);
        let written = self
            .runtime
            .block_on(async { tokio::time::timeout(self.within, write).await })
            .map_err(|_| format!("not committed within {:?}", self.within))?
            .map_err(|e| e.to_string())?;
        match written.data {
            CommandResult::Applied => Ok(()),
            CommandResult::Refused(why) => Err(why),
        }
    }
}

impl Replicator for RaftReplicator {
    fn replicate(&self, block: &BlockRecord) -> Result<(), String> {
        let mut rlp = Vec::with_capacity(block.length());
        block.encode(&mut rlp);
        self.write(Command::Block(rlp.into()))
    }
}

impl ordo_pool::TxReplicator for RaftReplicator {
    fn replicate(&self, raws: Vec<alloy_primitives::Bytes>) -> Result<(), String> {
        self.write(Command::Txs(raws))
    }
}
