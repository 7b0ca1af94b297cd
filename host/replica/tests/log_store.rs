//! The fjall log store against openraft's own storage conformance suite, and across a reopen
//! of the database (what a replica's restart sees).

use openraft::{
    Entry, EntryPayload, LogId, RaftLogReader, StorageError, StorageIOError, Vote,
    storage::{LogState, RaftLogStorage, RaftLogStorageExt},
    testing::{StoreBuilder, Suite},
};
use ordo_replica::{Command, LogStore, NodeId, TypeConfig, testing::MemoryMachine};
use ordo_storage::Storage;

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
            txs.iter()
                .map(|t| (t.to_vec().into(), alloy_primitives::Address::ZERO))
                .collect(),
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

/// Every range read through `log` (which answers recent entries from memory) equals the same
/// read from the database alone (a store over the same database with nothing in memory).
async fn reads_match_the_disk(
    log: &mut LogStore,
    disk: &Storage,
    upto: u64,
) -> Result<(), StorageError<NodeId>> {
    let mut fresh = LogStore::new(disk.clone());
    for from in 0..=upto + 1 {
        for to in from..=upto + 2 {
            assert_eq!(
                log.try_get_log_entries(from..to).await?,
                fresh.try_get_log_entries(from..to).await?,
                "entries {from}..{to}"
            );
            assert_eq!(
                log.try_get_log_entries(from..=to).await?,
                fresh.try_get_log_entries(from..=to).await?,
                "entries {from}..={to}"
            );
        }
        assert_eq!(
            log.try_get_log_entries(from..).await?,
            fresh.try_get_log_entries(from..).await?,
            "entries {from}.."
        );
    }
    Ok(())
}

#[tokio::test]
async fn entries_read_back_are_the_ones_on_disk_through_appends_truncations_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut log = LogStore::new(storage.clone());
    // A leader's run of appends, several entries at a time.
    let first: Vec<_> = (1..=12).map(|i| entry(1, i, &[&[i as u8]])).collect();
    for chunk in first.chunks(5) {
        log.blocking_append(chunk.to_vec()).await.unwrap();
    }
    reads_match_the_disk(&mut log, &storage, 12).await.unwrap();
    // A new leader overwrites the tail: the entries from 9 on are truncated and written
    // again in a later term, with other contents.
    log.truncate(first[8].log_id).await.unwrap();
    reads_match_the_disk(&mut log, &storage, 12).await.unwrap();
    let second: Vec<_> = (9..=14)
        .map(|i| entry(2, i, &[b"again", &[i as u8]]))
        .collect();
    log.blocking_append(second.clone()).await.unwrap();
    reads_match_the_disk(&mut log, &storage, 14).await.unwrap();
    assert_eq!(log.try_get_log_entries(9..15).await.unwrap(), second);
    // A snapshot purges the head of the log.
    log.purge(first[5].log_id).await.unwrap();
    reads_match_the_disk(&mut log, &storage, 14).await.unwrap();
    // An append that does not follow the tail held in memory (as after an install): the
    // entries after the purge (13, 14) are still held, and must not pass for 20's.
    log.purge(second[3].log_id).await.unwrap();
    let third: Vec<_> = (20..=22).map(|i| entry(3, i, &[&[i as u8]])).collect();
    log.blocking_append(third.clone()).await.unwrap();
    reads_match_the_disk(&mut log, &storage, 22).await.unwrap();
    assert_eq!(log.try_get_log_entries(20..23).await.unwrap(), third);
}

/// An operator command's JSON parameters may hold floats. The leader applies the entry as it
/// holds it in memory and every follower applies it as decoded from the wire and the disk, so
/// the two must be the same value to the bit. These floats are ones a JSON parser without
/// exact float parsing reads back one unit off (from serde_json's own round-trip tests).
#[tokio::test]
async fn an_operator_command_with_floats_reads_back_bit_for_bit() {
    let floats = [
        51.248_178_375_505_404_f64,
        -93.311_370_376_880_33,
        -36.573_994_842_753_436,
        52.314_008_204_106_244,
        97.453_653_200_346_85,
        2.003_039_774_426_776_2e-253,
        7.101_215_824_554_616e260,
        1.769_268_377_902_049e74,
        -1.672_751_781_854_207_5e58,
        3.928_753_217_337_331_5e299,
    ];
    let written = Entry::<TypeConfig> {
        log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), 1),
        payload: EntryPayload::Normal(Command::Operation {
            method: "admin_setControl".into(),
            params: serde_json::json!([{ "weights": floats }]),
        }),
    };
    let bits = |entry: &Entry<TypeConfig>| -> Vec<u64> {
        let EntryPayload::Normal(Command::Operation { params, .. }) = &entry.payload else {
            panic!("not an operator command: {entry:?}");
        };
        params[0]["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_f64().unwrap().to_bits())
            .collect()
    };
    let expected: Vec<u64> = floats.iter().map(|f| f.to_bits()).collect();
    assert_eq!(bits(&written), expected);

    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut log = LogStore::new(storage.clone());
    log.blocking_append([written.clone()]).await.unwrap();
    // As the leader reads it (its memory) and as a replica reads it (the database alone).
    let held = log.try_get_log_entries(1..2).await.unwrap();
    let stored = LogStore::new(storage)
        .try_get_log_entries(1..2)
        .await
        .unwrap();
    assert_eq!(bits(&held[0]), expected);
    assert_eq!(bits(&stored[0]), expected);
    // And as a follower decodes it off the wire.
    let wire: Entry<TypeConfig> =
        serde_json::from_slice(&serde_json::to_vec(&written).unwrap()).unwrap();
    assert_eq!(bits(&wire), expected);
}
