//! Helpers for tests of the log and the transport (not used by the node).

use std::{io::Cursor, sync::Arc};

use openraft::{
    Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
    storage::{RaftStateMachine, Snapshot},
};
use tokio::sync::Mutex;

use crate::types::{Command, CommandResult, NodeId, ReplicaNode, TypeConfig};

/// A state machine in memory that records the commands it applied: what openraft's storage
/// suite needs beside a log store, and what transport tests check replicas against.
#[derive(Debug, Default, Clone)]
pub struct MemoryMachine(Arc<Mutex<Machine>>);

#[derive(Debug, Default)]
struct Machine {
    commands: Vec<(u64, Command)>,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, ReplicaNode>,
    snapshot: Option<(SnapshotMeta<NodeId, ReplicaNode>, Vec<u8>)>,
}

impl RaftSnapshotBuilder<TypeConfig> for MemoryMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let mut m = self.0.lock().await;
        let meta = SnapshotMeta {
            last_log_id: m.applied,
            last_membership: m.membership.clone(),
            snapshot_id: format!("{:?}", m.applied),
        };
        // The commands travel in the snapshot, so a replica that installs it knows them.
        let bytes = serde_json::to_vec(&m.commands)
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        m.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemoryMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, ReplicaNode>), StorageError<NodeId>>
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
            match entry.payload {
                EntryPayload::Membership(membership) => {
                    m.membership = StoredMembership::new(Some(entry.log_id), membership);
                }
                EntryPayload::Normal(command) => m.commands.push((entry.log_id.index, command)),
                EntryPayload::Blank => {}
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
        meta: &SnapshotMeta<NodeId, ReplicaNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let mut m = self.0.lock().await;
        m.applied = meta.last_log_id;
        m.membership = meta.last_membership.clone();
        let bytes = snapshot.into_inner();
        if !bytes.is_empty() {
            m.commands = serde_json::from_slice(&bytes)
                .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        }
        m.snapshot = Some((meta.clone(), bytes));
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

impl MemoryMachine {
    /// The commands applied so far, with their log index.
    pub async fn commands(&self) -> Vec<(u64, Command)> {
        self.0.lock().await.commands.clone()
    }
}

/// Waits (up to `within`) until one of `rafts` other than `not` is leader, and returns its
/// id; `None` if none became leader in time.
pub async fn leader_among(
    rafts: &[&crate::types::Raft],
    not: Option<NodeId>,
    within: std::time::Duration,
) -> Option<NodeId> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        for raft in rafts {
            let m = raft.metrics().borrow().clone();
            if m.state == openraft::ServerState::Leader && Some(m.id) != not {
                return Some(m.id);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Forms a group of the replicas `(id, raft, replication address)`: the first initializes
/// it with all of them as voters. They serve no JSON-RPC: each member's `rpc` is its
/// replication address.
pub async fn form_group(
    replicas: &[(NodeId, &crate::types::Raft, std::net::SocketAddr)],
) -> Result<(), String> {
    let members: std::collections::BTreeMap<NodeId, ReplicaNode> = replicas
        .iter()
        .map(|(id, _, addr)| (*id, crate::network::node_at(*addr, *addr)))
        .collect();
    let Some((_, first, _)) = replicas.first() else {
        return Err("no replicas".into());
    };
    first.initialize(members).await.map_err(|e| e.to_string())
}

/// What a replica's start runs before Raft does: pools again the transactions of the
/// snapshot and of every log entry ([`crate::ChainMachine`]'s `restore_pool`). Blocking.
pub fn restore_pool(machine: &crate::ChainMachine) -> Result<usize, std::io::Error> {
    machine.restore_pool()
}
