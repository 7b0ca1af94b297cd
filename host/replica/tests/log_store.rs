//! The fjall log store against openraft's own storage conformance suite, and across a reopen
//! of the database (what a replica's restart sees).

use std::{io::Cursor, sync::Arc};

use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership, Vote,
    storage::{LogState, RaftLogStorage, RaftLogStorageExt, RaftStateMachine, Snapshot},
    testing::{StoreBuilder, Suite},
};
use ordo_replica::{Command, CommandResult, LogStore, NodeId, TypeConfig};
use ordo_storage::Storage;
use tokio::sync::Mutex;

/// A state machine in memory: the suite needs one beside the log store, and the node's own
/// (the chain) is not what this test is about.
#[derive(Debug, Default, Clone)]
struct MemoryMachine(Arc<Mutex<Machine>>);

#[derive(Debug, Default)]
struct Machine {
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    snapshot: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
}

impl RaftSnapshotBuilder<TypeConfig> for MemoryMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let mut m = self.0.lock().await;
        let meta = SnapshotMeta {
            last_log_id: m.applied,
            last_membership: m.membership.clone(),
            snapshot_id: format!("{:?}", m.applied),
        };
        m.snapshot = Some((meta.clone(), Vec::new()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemoryMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let m = self.0.lock().await;
        Ok((m.applied, m.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut m = self.0.lock().await;
        let mut out = Vec::new();
        for entry in entries {
            m.applied = Some(entry.log_id);
            if let EntryPayload::Membership(membership) = entry.payload {
                m.membership = StoredMembership::new(Some(entry.log_id), membership);
            }
            out.push(CommandResult::Applied);
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
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let mut m = self.0.lock().await;
        m.applied = meta.last_log_id;
        m.membership = meta.last_membership.clone();
        m.snapshot = Some((meta.clone(), snapshot.into_inner()));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let m = self.0.lock().await;
        Ok(m.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }
}

/// A fresh database per suite case; the temp dir lives as long as the stores.
struct FreshStore;

impl StoreBuilder<TypeConfig, LogStore, MemoryMachine, tempfile::TempDir> for FreshStore {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, MemoryMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let storage = Storage::open(dir.path()).map_err(|e| StorageIOError::write(&e))?;
        Ok((dir, LogStore::new(storage), MemoryMachine::default()))
    }
}

#[test]
fn the_log_store_passes_openrafts_storage_suite() {
    Suite::test_all(FreshStore).expect("openraft storage suite");
}

fn entry(term: u64, index: u64, txs: &[&[u8]]) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(Command::Txs(
            txs.iter().map(|t| t.to_vec().into()).collect(),
        )),
    }
}

#[tokio::test]
async fn entries_and_the_vote_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<Entry<TypeConfig>> = (1..=5)
        .map(|i| entry(2, i, &[format!("tx{i}").as_bytes()]))
        .collect();
    {
        let mut log = LogStore::new(Storage::open(dir.path()).unwrap());
        log.save_vote(&Vote::new_committed(2, 1)).await.unwrap();
        for e in &written {
            // One append at a time, as a follower receives them, each waiting for the
            // flush callback (how openraft learns an entry is on disk).
            log.blocking_append([e.clone()]).await.unwrap();
        }
        log.truncate(written[3].log_id).await.unwrap();
        log.purge(written[0].log_id).await.unwrap();
    }
    let mut log = LogStore::new(Storage::open(dir.path()).unwrap());
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(2, 1))
    );
    assert_eq!(
        log.get_log_state().await.unwrap(),
        LogState {
            last_purged_log_id: Some(written[0].log_id),
            last_log_id: Some(written[2].log_id),
        }
    );
    let back = log.try_get_log_entries(0..100).await.unwrap();
    assert_eq!(back, written[1..3].to_vec());
}
