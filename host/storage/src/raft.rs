//! A replica's Raft log and its small state (vote, committed and purged log ids), stored as
//! the opaque bytes `ordo-replica` encodes. Raft counts an entry or a vote only once it is on
//! disk, so every write here is one batch fsynced before it returns.

use fjall::PersistMode;

use crate::{RAFT_APPLIED_KEY, Result, Storage};

/// What `raft_meta` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftMeta {
    /// The last vote this replica cast or received.
    Vote,
    /// The last log id known committed.
    Committed,
    /// The last log id purged from the log.
    Purged,
    /// The log id of the last entry whose effects are stored (written with the block it
    /// carried: `BlockCommit::raft_applied`).
    Applied,
    /// The last membership the state machine applied.
    Membership,
    /// The replica's current snapshot (its description and data), which a lagging replica
    /// is sent.
    Snapshot,
    /// The operator commands applied so far, with their log indexes (a snapshot hands
    /// them to a replica that catches up).
    Operations,
}

impl RaftMeta {
    fn key(self) -> &'static [u8] {
        match self {
            Self::Vote => b"vote",
            Self::Committed => b"committed",
            Self::Purged => b"purged",
            Self::Applied => RAFT_APPLIED_KEY,
            Self::Membership => b"membership",
            Self::Snapshot => b"snapshot",
            Self::Operations => b"operations",
        }
    }
}

impl Storage {
    /// Appends log entries (index, encoded entry); on disk when this returns.
    pub fn raft_append(&self, entries: &[(u64, Vec<u8>)]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (index, entry) in entries {
            batch.insert(&self.raft_log, index.to_be_bytes(), entry.as_slice());
        }
        batch.commit()?;
        Ok(())
    }

    /// The entries with `from <= index < to`, in index order.
    pub fn raft_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        for item in self.raft_log.range(from.to_be_bytes()..to.to_be_bytes()) {
            let (key, value) = item.into_inner()?;
            out.push((read_index(&key), value.to_vec()));
        }
        Ok(out)
    }

    /// The last entry of the log, if any.
    pub fn raft_last_entry(&self) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(match self.raft_log.last_key_value() {
            Some(item) => {
                let (key, value) = item.into_inner()?;
                Some((read_index(&key), value.to_vec()))
            }
            None => None,
        })
    }

    /// Removes every entry from `from` on (a conflicting suffix).
    pub fn raft_truncate(&self, from: u64) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for item in self.raft_log.range(from.to_be_bytes()..) {
            batch.remove(&self.raft_log, item.key()?);
        }
        batch.commit()?;
        Ok(())
    }

    /// Removes every entry up to and including `upto`, and records `purged` (the encoded
    /// log id of `upto`) in the same batch: the log never forgets what it dropped.
    pub fn raft_purge(&self, upto: u64, purged: &[u8]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for item in self.raft_log.range(..=upto.to_be_bytes()) {
            batch.remove(&self.raft_log, item.key()?);
        }
        batch.insert(&self.raft_meta, RaftMeta::Purged.key(), purged);
        batch.commit()?;
        Ok(())
    }

    /// One of the Raft state values.
    pub fn raft_meta(&self, which: RaftMeta) -> Result<Option<Vec<u8>>> {
        Ok(self.raft_meta.get(which.key())?.map(|v| v.to_vec()))
    }

    /// Sets one of the Raft state values without waiting for the disk (for a value that
    /// may be lost in a crash: the committed index, which a restart learns again).
    pub fn put_raft_meta_buffered(&self, which: RaftMeta, value: &[u8]) -> Result<()> {
        self.raft_meta.insert(which.key(), value)?;
        Ok(())
    }

    /// Sets one of the Raft state values; on disk when this returns.
    pub fn put_raft_meta(&self, which: RaftMeta, value: &[u8]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.raft_meta, which.key(), value);
        batch.commit()?;
        Ok(())
    }
}

fn read_index(key: &[u8]) -> u64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(&key[..8]);
    u64::from_be_bytes(n)
}
