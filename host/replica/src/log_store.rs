//! openraft's log storage on the node's fjall database.
//!
//! Entries and the vote are JSON (openraft's serde forms) in `ordo_storage::raft`'s keyspaces.
//! Raft's safety rests on them being durable: an entry counts toward the quorum, and a vote
//! binds a term, only once on disk. So every write is fsynced before openraft hears of it
//! (`append` reports through its callback only after that), and runs on the blocking pool,
//! not on the Raft task's worker.
//!
//! The latest entries are also kept decoded in memory ([`Recent`]): a leader reads each new
//! entry back once per follower it replicates to and once more to apply it, and a follower
//! once to apply it, each a range read and a JSON decode of the whole entry (a block entry
//! carries the whole block).
//!
//! A truncation drops entries the group did not commit (or, installing a snapshot, ones it
//! replaces). What a restart pooled from them leaves the replica's pool with them
//! ([`LogStore::withdrawing_from`], [`Provisional`]).

use std::{collections::VecDeque, fmt::Debug, ops::Bound, ops::RangeBounds, sync::Arc};

use openraft::{
    Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote,
    storage::{LogFlushed, LogState, RaftLogStorage},
};
use ordo_storage::{Storage, raft::RaftMeta};
use parking_lot::Mutex;
use serde::{Serialize, de::DeserializeOwned};

use ordo_pool::Pool;

use crate::{
    provisional::Provisional,
    types::{NodeId, TypeConfig},
};

/// The Raft log of one replica. Cheap to clone: clones share the database and the
/// in-memory tail.
#[derive(Debug, Clone)]
pub struct LogStore {
    storage: Storage,
    recent: Arc<Mutex<Recent>>,
    /// The pool a truncation takes the dropped entries' provisional transactions out of.
    withdraw: Option<(Arc<Pool>, Provisional)>,
}

/// Entries kept decoded after they were written: the last few, contiguous.
const RECENT_ENTRIES: usize = 256;
/// And at most this many encoded bytes of them.
const RECENT_BYTES: usize = 16 << 20;

/// The log's latest entries as appended (on disk too), with their encoded sizes: a
/// contiguous run of indices, ascending. Whatever is truncated or purged on disk leaves it
/// first, so it never holds an entry the disk no longer does.
#[derive(Debug)]
struct Recent {
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for Recent {
    fn default() -> Self {
        Self::with_limits(RECENT_ENTRIES, RECENT_BYTES)
    }
}

impl Recent {
    fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// Keeps `entries`, just written after those held (or starting a new run).
    fn appended(&mut self, entries: Vec<(Entry<TypeConfig>, usize)>) {
        for (entry, size) in entries {
            let follows = self
                .entries
                .back()
                .is_none_or(|(last, _)| last.log_id.index + 1 == entry.log_id.index);
            if !follows {
                self.entries.clear();
                self.bytes = 0;
            }
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some((_, size)) => self.bytes -= size,
                None => break,
            }
        }
    }

    /// Entries `from..to`, if all are held.
    fn get(&self, from: u64, to: u64) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.entries.front()?.0.log_id.index;
        let end = first + self.entries.len() as u64;
        if from >= to || from < first || to > end {
            return None;
        }
        let skip = (from - first) as usize;
        Some(
            self.entries
                .range(skip..skip + (to - from) as usize)
                .map(|(entry, _)| entry.clone())
                .collect(),
        )
    }

    /// Drops the entries at `from` and after (a truncation).
    fn truncate(&mut self, from: u64) {
        let kept = self
            .entries
            .partition_point(|(entry, _)| entry.log_id.index < from);
        self.bytes -= self
            .entries
            .drain(kept..)
            .map(|(_, size)| size)
            .sum::<usize>();
    }

    /// Drops the entries up to `upto`, inclusive (a purge).
    fn purge(&mut self, upto: u64) {
        let purged = self
            .entries
            .partition_point(|(entry, _)| entry.log_id.index <= upto);
        self.bytes -= self
            .entries
            .drain(..purged)
            .map(|(_, size)| size)
            .sum::<usize>();
    }
}

impl LogStore {
    /// The log kept in `storage`.
    pub fn new(storage: Storage) -> Self {
        Self {
            storage,
            recent: Arc::default(),
            withdraw: None,
        }
    }

    /// The same log, whose truncations take out of `pool` what a restart pooled from the
    /// entries they drop (`provisional`, the state machine's: [`Provisional`]).
    pub fn withdrawing_from(self, pool: Arc<Pool>, provisional: Provisional) -> Self {
        Self {
            withdraw: Some((pool, provisional)),
            ..self
        }
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
        if let Some(entries) = self.recent.lock().get(from, to) {
            return Ok(entries);
        }
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
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let encoded = entries
            .iter()
            .map(|entry| Ok((entry.log_id.index, serde_json::to_vec(entry)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // Kept as they came: every entry parses back from its encoding to the same value
        // (floats included, by serde_json's `float_roundtrip`), so the leader applies what
        // its followers decode.
        let cached = entries
            .into_iter()
            .zip(&encoded)
            .map(|(entry, (_, bytes))| (entry, bytes.len()))
            .collect::<Vec<_>>();
        // On disk first; only then may openraft count these entries (or read them back).
        let written = self.write(move |s| s.raft_append(&encoded)).await;
        if written.is_ok() {
            self.recent.lock().appended(cached);
        }
        let failed = written.as_ref().err().map(StorageIOError::write_logs);
        callback.log_io_completed(written);
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let from = log_id.index;
        self.recent.lock().truncate(from);
        self.write(move |s| s.raft_truncate(from))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // A conflict truncates only entries the group never committed. A snapshot's install
        // may truncate from a saved commit that was behind: what a restart pooled from
        // those entries comes back with the snapshot's pool.
        if let Some((pool, provisional)) = &self.withdraw
            && !provisional.is_empty()
        {
            let (pool, provisional) = (pool.clone(), provisional.clone());
            if let Err(e) =
                tokio::task::spawn_blocking(move || provisional.withdraw_from(from, &pool)).await
            {
                tracing::error!(target: "ordo::replica", from, %e, "withdrawing the truncated entries' transactions panicked");
            }
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let purged = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        let upto = log_id.index;
        self.recent.lock().purge(upto);
        Ok(self
            .write(move |s| s.raft_purge(upto, &purged))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::EntryPayload;

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indices(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        entries.map(|e| e.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn the_tail_keeps_the_newest_entries_within_its_limits() {
        // By count: the oldest leave first.
        let mut recent = Recent::with_limits(4, usize::MAX);
        recent.appended((1..=10).map(|i| (entry(i), 1)).collect());
        assert_eq!(indices(recent.get(7, 11)), Some(vec![7, 8, 9, 10]));
        assert_eq!(indices(recent.get(6, 8)), None);
        assert_eq!(indices(recent.get(9, 12)), None);
        assert_eq!(indices(recent.get(8, 8)), None);

        // By bytes, counted as entries come and go.
        let mut recent = Recent::with_limits(usize::MAX, 25);
        recent.appended((1..=5).map(|i| (entry(i), 10)).collect());
        assert_eq!(indices(recent.get(4, 6)), Some(vec![4, 5]));
        assert_eq!(indices(recent.get(3, 6)), None);
        recent.truncate(5);
        assert_eq!(recent.bytes, 10);
        recent.appended(vec![(entry(5), 5), (entry(6), 5)]);
        assert_eq!(indices(recent.get(4, 7)), Some(vec![4, 5, 6]));
        // One entry larger than the whole budget is not kept, nor is what it follows.
        recent.appended(vec![(entry(7), 30)]);
        assert!(recent.entries.is_empty());
        assert_eq!(recent.bytes, 0);
        assert_eq!(indices(recent.get(7, 8)), None);
    }

    #[test]
    fn an_append_that_does_not_follow_the_tail_starts_it_again() {
        let mut recent = Recent::default();
        recent.appended((1..=5).map(|i| (entry(i), 1)).collect());
        recent.appended(vec![(entry(9), 1)]);
        assert_eq!(indices(recent.get(9, 10)), Some(vec![9]));
        assert_eq!(indices(recent.get(5, 6)), None);
        assert_eq!(recent.bytes, 1);
    }
}
