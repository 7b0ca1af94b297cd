//! The builder's [`Replicator`], the pool's [`ordo_pool::TxReplicator`] and the bundle
//! pool's [`ordo_pool::BundleReplicator`] and the batcher's [`ordo_batcher::BatchReplicator`]
//! on a Raft group: a sealed block becomes a `Block` entry, a WAL group of accepted
//! transactions a `Txs` entry, a bundle-pool change a `Bundles` entry, a batch record (built,
//! or its L1 progress) a `Batch` entry, and `replicate` returns once the group committed it and this replica applied it
//! (which stored the block).
//!
//! A block waits as long as it takes: until it is committed, or until this replica learns
//! that it no longer leads (openraft then fails the write), and the builder takes it back.
//! A leader cut off from its group (openraft 0.9 does not step it down on its own) waits
//! until the partition heals, sealing nothing meanwhile. Transactions wait at most
//! `txs_within`: their senders are told to retry rather than kept waiting.

use alloy_rlp::Encodable;
use ordo_builder::Replicator;
use ordo_primitives::BlockRecord;

use crate::types::{Command, CommandResult, Raft};

/// Replicates blocks through `raft`, from a thread outside the async runtime.
#[derive(Clone)]
pub struct RaftReplicator {
    raft: Raft,
    runtime: tokio::runtime::Handle,
    txs_within: std::time::Duration,
}

impl std::fmt::Debug for RaftReplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftReplicator").finish_non_exhaustive()
    }
}

impl RaftReplicator {
    /// Writes to `raft`, driving the write on `runtime`; a group of transactions is given up
    /// after `txs_within`.
    pub fn new(
        raft: Raft,
        runtime: tokio::runtime::Handle,
        txs_within: std::time::Duration,
    ) -> Self {
        Self {
            raft,
            runtime,
            txs_within,
        }
    }
}

impl RaftReplicator {
    /// Writes `command` and waits until it is committed and applied here, or at most
    /// `within`.
    fn write(&self, command: Command, within: Option<std::time::Duration>) -> Result<(), String> {
        let write = self.raft.client_write(command);
        let written = self.runtime.block_on(async {
            match within {
                Some(within) => tokio::time::timeout(within, write)
                    .await
                    .map_err(|_| format!("not committed within {within:?}")),
                None => Ok(write.await),
            }
        })?;
        let written = written.map_err(|e| e.to_string())?;
        match written.data {
            CommandResult::Applied | CommandResult::Answered(_) => Ok(()),
            CommandResult::Refused(why) | CommandResult::Failed { message: why, .. } => Err(why),
        }
    }
}

impl Replicator for RaftReplicator {
    fn replicate(&self, block: &BlockRecord) -> Result<(), String> {
        let mut rlp = Vec::with_capacity(block.length());
        block.encode(&mut rlp);
        self.write(Command::Block(rlp.into()), None)
    }
}

impl ordo_batcher::BatchReplicator for RaftReplicator {
    fn replicate(&self, index: u64, record: alloy_primitives::Bytes) -> Result<(), String> {
        // Waits as a block does: the poster acts on nothing the group has not committed,
        // and a leader that lost its group learns so and fails the write.
        self.write(Command::Batch { index, record }, None)
    }
}

impl ordo_pool::BundleReplicator for RaftReplicator {
    fn replicate(
        &self,
        puts: Vec<alloy_primitives::Bytes>,
        removes: Vec<alloy_primitives::B256>,
    ) -> Result<(), String> {
        self.write(Command::Bundles { puts, removes }, Some(self.txs_within))
    }
}

impl ordo_pool::TxReplicator for RaftReplicator {
    fn replicate(
        &self,
        txs: Vec<(alloy_primitives::Bytes, alloy_primitives::Address)>,
    ) -> Result<(), String> {
        self.write(Command::Txs(txs), Some(self.txs_within))
    }
}
