//! openraft's log storage on the node's fjall database.
//!
//! Entries and the vote are JSON (openraft's serde forms) in `ordo_storage::raft`'s keyspaces.
//! Raft's safety rests on them being durable: an entry counts toward the quorum, and a vote
//! binds a term, only once on disk. So every write is fsynced before openraft hears of it
//! (`append` reports through its callback only after that), and runs on the blocking pool,
//! not on the Raft task's worker.

use std::{fmt::Debug, ops::Bound, ops::RangeBounds};

use openraft::{
    Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote,
    storage::{LogFlushed, LogState, RaftLogStorage},
};
use ordo_storage::{Storage, raft::RaftMeta};
use serde::{Serialize, de::DeserializeOwned};

use crate::types::{NodeId, TypeConfig};

/// The Raft log of one replica. Cheap to clone: clones share the database.
#[derive(Debug, Clone)]
pub struct LogStore {
    storage: Storage,
}

impl LogStore {
    /// The log kept in `storage`.
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }

    /// Runs a storage write off the async runtime.
    async fn write<T: Send + 'static>(
        &self,
        what: impl FnOnce(&Storage) -> Result<T, ordo_storage::StorageError> + Send + 'static,
    ) -> Result<T, std::io::Error> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || what(&storage))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)
    }

    fn meta<T: DeserializeOwned>(&self, which: RaftMeta) -> Result<Option<T>, std::io::Error> {
        self.storage
            .raft_meta(which)
            .map_err(std::io::Error::other)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(std::io::Error::other))
            .transpose()
    }

    async fn put_meta<T: Serialize>(
        &self,
        which: RaftMeta,
        value: &T,
    ) -> Result<(), std::io::Error> {
        let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        self.write(move |s| s.put_raft_meta(which, &bytes)).await
    }
}

fn decode(bytes: &[u8]) -> Result<Entry<TypeConfig>, std::io::Error> {
    serde_json::from_slice(bytes).map_err(std::io::Error::other)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let from = match range.start_bound() {
            Bound::Included(n) => *n,
            Bound::Excluded(n) => n.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let to = match range.end_bound() {
            Bound::Included(n) => n.saturating_add(1),
            Bound::Excluded(n) => *n,
            Bound::Unbounded => u64::MAX,
        };
        let read = || -> Result<Vec<Entry<TypeConfig>>, std::io::Error> {
            self.storage
                .raft_entries(from, to)
                .map_err(std::io::Error::other)?
                .iter()
                .map(|(_, bytes)| decode(bytes))
                .collect()
        };
        Ok(read().map_err(|e| StorageIOError::read_logs(&e))?)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let state = || -> Result<LogState<TypeConfig>, std::io::Error> {
            let purged: Option<LogId<NodeId>> = self.meta(RaftMeta::Purged)?;
            let last = match self
                .storage
                .raft_last_entry()
                .map_err(std::io::Error::other)?
            {
                Some((_, bytes)) => Some(decode(&bytes)?.log_id),
                None => purged,
            };
            Ok(LogState {
                last_purged_log_id: purged,
                last_log_id: last,
            })
        };
        Ok(state().map_err(|e| StorageIOError::read_logs(&e))?)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        Ok(self
            .put_meta(RaftMeta::Vote, vote)
            .await
            .map_err(|e| StorageIOError::write_vote(&e))?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .meta(RaftMeta::Vote)
            .map_err(|e| StorageIOError::read_vote(&e))?)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not fsynced: openraft saves it before every apply, so an fsync here would sit
        // between each commit and its answer. A crash may lose the latest value; the
        // replica then applies up to an older one at startup and learns the rest from
        // the leader (openraft documents the saved committed index as a hint).
        let bytes = serde_json::to_vec(&committed).map_err(|e| StorageIOError::write(&e))?;
        Ok(self
            .storage
            .put_raft_meta_buffered(RaftMeta::Committed, &bytes)
            .map_err(|e| StorageIOError::write(&e))?)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        let committed: Option<Option<LogId<NodeId>>> = self
            .meta(RaftMeta::Committed)
            .map_err(|e| StorageIOError::read(&e))?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|entry| Ok((entry.log_id.index, serde_json::to_vec(&entry)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // On disk first; only then may openraft count these entries.
        let written = self.write(move |s| s.raft_append(&encoded)).await;
        let failed = written.as_ref().err().map(StorageIOError::write_logs);
        callback.log_io_completed(written);
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let from = log_id.index;
        Ok(self
            .write(move |s| s.raft_truncate(from))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let purged = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        let upto = log_id.index;
        Ok(self
            .write(move |s| s.raft_purge(upto, &purged))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?)
    }
}
