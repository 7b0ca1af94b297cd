//! The node's Raft state machine: applying a committed entry changes the chain.
//!
//! A `Txs` entry (transactions a leader accepted) is pooled on every replica through
//! [`Pool::adopt`] (durably, in its WAL). A `Block` entry is stored through
//! [`Builder::apply_committed`], with its log position in the block's own batch; what has been applied is therefore read back from the chain
//! ([`RaftMeta::Applied`]), never ahead of it. Entries after that position are applied again
//! after a restart, so applying is idempotent (a stored block is recognised and skipped).
//! Membership is kept beside it ([`RaftMeta::Membership`]).
//!
//! Snapshots (catching up a replica whose log was purged) are not built yet: the log is
//! kept whole (`SnapshotPolicy::Never`), and a snapshot install is refused.

use std::{io::Cursor, sync::Arc};

use alloy_rlp::Decodable;
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
    storage::{RaftStateMachine, Snapshot},
};
use ordo_builder::Builder;
use ordo_pool::Pool;
use ordo_primitives::BlockRecord;
use ordo_storage::{Storage, raft::RaftMeta};

use crate::types::{Command, CommandResult, NodeId, TypeConfig};

/// The chain as Raft's state machine.
#[derive(Clone)]
pub struct ChainMachine {
    builder: Arc<Builder>,
    pool: Arc<Pool>,
    storage: Storage,
}

impl std::fmt::Debug for ChainMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainMachine").finish_non_exhaustive()
    }
}

impl ChainMachine {
    /// The state machine of the chain `builder` extends, stored in `storage`, with `pool`
    /// (the builder's) taking the committed transactions.
    pub fn new(builder: Arc<Builder>, pool: Arc<Pool>, storage: Storage) -> Self {
        Self {
            builder,
            pool,
            storage,
        }
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        which: RaftMeta,
    ) -> Result<Option<T>, std::io::Error> {
        match self
            .storage
            .raft_meta(which)
            .map_err(std::io::Error::other)?
        {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            )),
            None => Ok(None),
        }
    }

    /// Applies one committed group of accepted transactions: every replica pools them (the
    /// leader that accepted them already has them), so whichever leads next includes them.
    async fn apply_txs(
        &self,
        txs: Vec<(alloy_primitives::Bytes, alloy_primitives::Address)>,
    ) -> CommandResult {
        let pool = self.pool.clone();
        let adopted = tokio::task::spawn_blocking(move || {
            // The leader recovered the senders; recovering them again on every replica
            // would double the ingress CPU of the group.
            let txs: Vec<_> = txs
                .iter()
                .filter_map(|(raw, sender)| ordo_primitives::decode_with_sender(raw, *sender).ok())
                .collect();
            pool.adopt(txs)
        })
        .await;
        match adopted {
            Ok(Ok(_)) => CommandResult::Applied,
            // Not pooling them here does not fork anything (blocks carry their own
            // transactions); it only means this replica could not include them as leader.
            Ok(Err(e)) => {
                tracing::warn!(target: "ordo::replica", error = %e, "committed transactions not pooled here");
                CommandResult::Applied
            }
            Err(e) => {
                CommandResult::Refused(format!("pooling committed transactions panicked: {e}"))
            }
        }
    }

    /// Applies one committed block entry.
    async fn apply_block(&self, log_id: LogId<NodeId>, rlp: &[u8]) -> CommandResult {
        let block = match BlockRecord::decode(&mut &rlp[..]) {
            Ok(block) => block,
            Err(e) => return CommandResult::Refused(format!("block entry does not decode: {e}")),
        };
        let position = match serde_json::to_vec(&log_id) {
            Ok(bytes) => bytes,
            Err(e) => return CommandResult::Refused(e.to_string()),
        };
        let builder = self.builder.clone();
        let number = block.number();
        let applied =
            tokio::task::spawn_blocking(move || builder.apply_committed(&block, position)).await;
        match applied {
            Ok(Ok(_)) => CommandResult::Applied,
            Ok(Err(e)) => {
                // The group committed a block this replica cannot store: it no longer
                // follows the chain. Every later block will be refused as well.
                tracing::error!(target: "ordo::replica", number, error = %e, "a committed block was not applied");
                CommandResult::Refused(e.to_string())
            }
            Err(e) => CommandResult::Refused(format!("applying block {number} panicked: {e}")),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for ChainMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        Err(StorageIOError::write_snapshot(
            None,
            &std::io::Error::other("chain snapshots are not built yet"),
        )
        .into())
    }
}

impl RaftStateMachine<TypeConfig> for ChainMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let applied: Option<LogId<NodeId>> = self
            .read(RaftMeta::Applied)
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let membership: StoredMembership<NodeId, BasicNode> = self
            .read(RaftMeta::Membership)
            .map_err(|e| StorageIOError::read_state_machine(&e))?
            .unwrap_or_default();
        // A membership applied after the last stored block is found again in the log.
        let membership = if membership.log_id() <= &applied {
            membership
        } else {
            StoredMembership::default()
        };
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let result = match entry.payload {
                EntryPayload::Blank => CommandResult::Applied,
                EntryPayload::Membership(membership) => {
                    let stored = StoredMembership::new(Some(entry.log_id), membership);
                    let bytes = serde_json::to_vec(&stored)
                        .map_err(|e| StorageIOError::write_state_machine(&e))?;
                    let storage = self.storage.clone();
                    tokio::task::spawn_blocking(move || {
                        storage.put_raft_meta(RaftMeta::Membership, &bytes)
                    })
                    .await
                    .map_err(|e| StorageIOError::write_state_machine(&e))?
                    .map_err(|e| StorageIOError::write_state_machine(&e))?;
                    CommandResult::Applied
                }
                EntryPayload::Normal(Command::Block(rlp)) => {
                    self.apply_block(entry.log_id, &rlp).await
                }
                EntryPayload::Normal(Command::Txs(txs)) => self.apply_txs(txs).await,
            };
            out.push(result);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        _snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        Err(StorageIOError::read_snapshot(
            Some(meta.signature()),
            &std::io::Error::other("chain snapshots are not installed yet"),
        )
        .into())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(None)
    }
}
