use std::sync::atomic::{AtomicBool, Ordering};

use alloy_consensus::Header;
use alloy_primitives::keccak256;
use ordo_primitives::{BlockRecord, Provenance};
use ordo_storage::BlockCommit;

use super::*;

/// Writes blocks 1..=n, block `i` carrying `txs_per_block` fake raw txs of `tx_size` bytes,
/// block `i`'s timestamp = `i` seconds.
fn chain(n: u64, txs_per_block: usize, tx_size: usize) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut parent = B256::ZERO;
    for number in 0..=n {
        let header = Header {
            number,
            timestamp: number,
            parent_hash: parent,
            state_root: B256::repeat_byte(number as u8),
            base_fee_per_gas: Some(7),
            gas_limit: 30_000_000,
            ..Default::default()
        };
        let txs: Vec<Bytes> = (0..txs_per_block)
            .map(|t| Bytes::from(vec![(number as u8) ^ (t as u8); tx_size]))
            .collect();
        let block = BlockRecord {
            hash: header.hash_slow(),
            header,
            tx_hashes: txs.iter().map(keccak256).collect(),
            senders: vec![Default::default(); txs.len()],
            transactions: txs,
            provenance: Provenance::default(),
            l1_origin: None,
            extras: None,
        };
        parent = block.hash;
        storage
            .commit_block(&BlockCommit {
                block: Some(block),
                ..Default::default()
            })
            .unwrap();
    }
    (dir, storage)
}

fn config(max_batch_bytes: usize, max_delay_ms: u64) -> BatcherConfig {
    BatcherConfig {
        max_batch_bytes,
        max_delay: Duration::from_millis(max_delay_ms),
        max_blocks: 4096,
        max_batch_bytes_behind: max_batch_bytes,
    }
}

fn payload(b: &Batcher, index: u64) -> BatchPayload {
    let record = b.batch(index).unwrap().unwrap();
    assert_eq!(record.frame.header.codec_id, CODEC_NONE);
    BatchPayload::decode(&record.frame.data).unwrap()
}

#[test]
fn batches_close_on_size_cover_every_block_once_and_resume_after_a_restart() {
    let (_dir, storage) = chain(20, 2, 1000);
    let b = Batcher::open(
        storage.clone(),
        config(5_000, 3_600_000),
        Arc::new(NoPlugins),
    )
    .unwrap();
    // ~2 KB per block: a batch closes on the 3rd block; blocks 19 and 20 stay open (young).
    let built = b.tick(20, 20_000).unwrap();
    assert_eq!(built.len(), 6);
    let mut next = 1;
    for (i, h) in built.iter().enumerate() {
        assert_eq!(h.index, i as u64);
        assert_eq!(h.first_block, next);
        let p = payload(&b, h.index);
        let numbers: Vec<u64> = p.blocks.iter().map(|b| b.number).collect();
        assert_eq!(numbers, (h.first_block..=h.last_block).collect::<Vec<_>>());
        let last = storage.block(h.last_block).unwrap().unwrap();
        assert_eq!(h.last_block_hash, last.hash);
        assert_eq!(h.state_root, last.header.state_root);
        // No message passer in this state: its storage root is the empty trie's.
        assert_eq!(
            h.output_root,
            ordo_primitives::output_root(
                last.header.state_root,
                alloy_trie::EMPTY_ROOT_HASH,
                last.hash
            )
        );
        assert_eq!(p.blocks[0].txs.len(), 2);
        next = h.last_block + 1;
    }
    assert_eq!(b.next_block(), 19);
    assert_eq!(b.batch_of_block(7).unwrap().index, 2);
    assert!(b.batch_of_block(19).is_none());

    // A restart picks up exactly there.
    drop(b);
    let b = Batcher::open(storage, config(5_000, 3_600_000), Arc::new(NoPlugins)).unwrap();
    assert_eq!(b.next_block(), 19);
    assert!(b.tick(20, 20_000).unwrap().is_empty());
}

#[test]
fn an_old_open_batch_closes_on_age() {
    let (_dir, storage) = chain(5, 1, 10);
    let b = Batcher::open(storage, config(1_000_000, 10_000), Arc::new(NoPlugins)).unwrap();
    // Block 1 has timestamp 1 s: at 10.5 s it has waited 9.5 s.
    assert!(b.tick(5, 10_500).unwrap().is_empty());
    let built = b.tick(5, 11_000).unwrap();
    assert_eq!(built.len(), 1);
    assert_eq!((built[0].first_block, built[0].last_block), (1, 5));
    assert_eq!(b.batch(0).unwrap().unwrap().tx_count, 5);
}

/// Reverses the bytes (a codec whose output differs from its input).
struct Reverse {
    broken: AtomicBool,
}

impl BatchCodec for Reverse {
    fn codec_id(&self) -> u32 {
        0x8000_0001
    }
    fn code_hash(&self) -> B256 {
        B256::repeat_byte(0xcc)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, HookError> {
        Ok(data.iter().rev().copied().collect())
    }
    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, HookError> {
        let mut out: Vec<u8> = data.iter().rev().copied().collect();
        if self.broken.load(Ordering::Relaxed) {
            out.push(0);
        }
        Ok(out)
    }
}

struct Attest;

impl BatchProver for Attest {
    fn code_hash(&self) -> B256 {
        B256::repeat_byte(0xaa)
    }
    fn on_batch(&self, header: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, HookError> {
        let mut out = header.index.to_be_bytes().to_vec();
        out.extend_from_slice(keccak256(payload).as_slice());
        Ok(out)
    }
}

struct Plugins(Arc<Reverse>);

impl BatchPlugins for Plugins {
    fn codec(&self) -> Option<Arc<dyn BatchCodec>> {
        Some(self.0.clone())
    }
    fn prover(&self) -> Option<Arc<dyn BatchProver>> {
        Some(Arc::new(Attest))
    }
}

#[test]
fn the_codec_and_prover_are_recorded_and_a_bad_round_trip_falls_back_to_no_compression() {
    let (_dir, storage) = chain(6, 1, 50);
    let codec = Arc::new(Reverse {
        broken: AtomicBool::new(false),
    });
    let b = Batcher::open(
        storage,
        config(1_000_000, 0),
        Arc::new(Plugins(codec.clone())),
    )
    .unwrap();
    let first = b.tick(3, 100_000).unwrap();
    assert_eq!(first.len(), 1);
    let record = b.batch(0).unwrap().unwrap();
    assert_eq!(record.frame.header.codec_id, 0x8000_0001);
    assert_eq!(record.frame.header.codec_hash, B256::repeat_byte(0xcc));
    let raw = codec.decompress(&record.frame.data).unwrap();
    assert_eq!(BatchPayload::decode(&raw).unwrap().blocks.len(), 3);
    assert_eq!(record.raw_size, raw.len() as u64);
    assert_eq!(record.prover_hash, B256::repeat_byte(0xaa));
    assert_eq!(&record.attestation[..8], &0u64.to_be_bytes());
    assert_eq!(
        &record.attestation[8..],
        keccak256(&record.frame.data).as_slice()
    );

    codec.broken.store(true, Ordering::Relaxed);
    b.tick(6, 100_000).unwrap();
    let record = b.batch(1).unwrap().unwrap();
    assert_eq!(record.frame.header.codec_id, CODEC_NONE);
    assert_eq!(record.frame.header.codec_hash, B256::ZERO);
    assert_eq!(
        BatchPayload::decode(&record.frame.data).unwrap().blocks[0].number,
        4
    );
}

#[test]
fn status_changes_are_durable() {
    let (_dir, storage) = chain(2, 0, 0);
    let b = Batcher::open(storage.clone(), config(1, 0), Arc::new(NoPlugins)).unwrap();
    assert_eq!(b.tick(2, 10_000).unwrap().len(), 2);
    let submitted = BatchStatus::Submitted {
        tx_hash: B256::repeat_byte(1),
        nonce: 3,
        max_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        submitted_at_ms: 5,
        max_fee_per_blob_gas: Some(3),
        replaced: vec![B256::repeat_byte(2)],
    };
    b.set_status(1, submitted.clone()).unwrap();
    drop(b);
    let b = Batcher::open(storage, config(1, 0), Arc::new(NoPlugins)).unwrap();
    assert_eq!(b.summaries()[1].status, submitted);
    assert_eq!(b.summaries()[0].status, BatchStatus::Built);
    assert_eq!(b.batch(1).unwrap().unwrap().status, submitted);
}

#[test]
fn batches_grow_while_an_earlier_one_waits_to_be_sent_and_shrink_back_after() {
    let (_dir, storage) = chain(30, 2, 1000);
    let config = BatcherConfig {
        max_batch_bytes_behind: 12_000,
        ..config(5_000, 3_600_000)
    };
    let b = Batcher::open(storage, config, Arc::new(NoPlugins)).unwrap();
    let sizes = |b: &Batcher| -> Vec<usize> {
        (0..b.len() as u64)
            .map(|i| payload(b, i).blocks.len())
            .collect()
    };
    // ~2.1 KB per block. Batch 0 closes at 5 KB (3 blocks); it is never sent, so batch 1
    // grows up to 12 KB: 5 blocks, as the 6th would cross it and starts the next batch.
    b.tick(9, 20_000).unwrap();
    assert_eq!(sizes(&b), vec![3, 5]);
    // Both sent: posting keeps up, and the next batch is small again.
    for index in 0..2 {
        b.set_status(
            index,
            BatchStatus::Submitted {
                tx_hash: B256::repeat_byte(index as u8),
                nonce: index,
                max_fee_per_gas: 10,
                max_priority_fee_per_gas: 1,
                submitted_at_ms: 5,
                max_fee_per_blob_gas: Some(3),
                replaced: vec![],
            },
        )
        .unwrap();
    }
    b.tick(12, 20_000).unwrap();
    assert_eq!(sizes(&b), vec![3, 5, 3]);
    assert_eq!(batched_blocks(&b), (1..=11).collect::<Vec<_>>());
}

/// Every block number in batches `0..len`, in batch order.
fn batched_blocks(b: &Batcher) -> Vec<u64> {
    (0..b.len() as u64)
        .flat_map(|i| payload(b, i).blocks.into_iter().map(|bl| bl.number))
        .collect()
}

#[test]
fn a_failed_batch_write_leaves_its_blocks_to_be_sealed_again() {
    let (_dir, storage) = chain(6, 1, 100);
    let b = Batcher::open(storage.clone(), config(1_000_000, 0), Arc::new(NoPlugins)).unwrap();
    b.fail_writes.store(1, Ordering::SeqCst);
    assert!(b.tick(3, 100_000).is_err(), "the injected write failure");
    assert!(b.is_empty());
    assert_eq!(b.next_block(), 1);

    // The next tick seals blocks 1..=3 again, together with the ones that came since.
    let built = b.tick(6, 100_000).unwrap();
    assert_eq!(built.len(), 1);
    assert_eq!((built[0].first_block, built[0].last_block), (1, 6));
    assert_eq!(batched_blocks(&b), (1..=6).collect::<Vec<_>>());

    drop(b);
    let b = Batcher::open(storage, config(1_000_000, 0), Arc::new(NoPlugins)).unwrap();
    assert_eq!(b.next_block(), 7);
    assert_eq!(batched_blocks(&b), (1..=6).collect::<Vec<_>>());
}

/// A codec that, while `hold` is set, stops inside `compress` until told to go on (or a
/// failure guard expires), and says whether it was told.
struct Holding {
    hold: AtomicBool,
    entered: parking_lot::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    go: parking_lot::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    released: AtomicBool,
}

impl BatchCodec for Holding {
    fn codec_id(&self) -> u32 {
        0x8000_0002
    }
    fn code_hash(&self) -> B256 {
        B256::repeat_byte(0xdd)
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, HookError> {
        if self.hold.load(Ordering::SeqCst) {
            if let Some(entered) = self.entered.lock().take() {
                entered.send(()).unwrap();
            }
            if let Some(go) = self.go.lock().take() {
                // A failure guard, not a timing: on the old code this is what ends the wait.
                let told = go.recv_timeout(Duration::from_secs(10)).is_ok();
                self.released.store(told, Ordering::SeqCst);
            }
        }
        Ok(data.to_vec())
    }
    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, HookError> {
        Ok(data.to_vec())
    }
}

struct HoldingPlugins(Arc<Holding>);

impl BatchPlugins for HoldingPlugins {
    fn codec(&self) -> Option<Arc<dyn BatchCodec>> {
        Some(self.0.clone())
    }
    fn prover(&self) -> Option<Arc<dyn BatchProver>> {
        None
    }
}

#[test]
fn a_status_write_does_not_wait_for_a_plugin_call() {
    let (_dir, storage) = chain(4, 1, 10);
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let codec = Arc::new(Holding {
        hold: AtomicBool::new(false),
        entered: parking_lot::Mutex::new(Some(entered_tx)),
        go: parking_lot::Mutex::new(Some(go_rx)),
        released: AtomicBool::new(false),
    });
    let b = Batcher::open(
        storage,
        config(1_000_000, 0),
        Arc::new(HoldingPlugins(codec.clone())),
    )
    .unwrap();
    assert_eq!(b.tick(2, 100_000).unwrap().len(), 1);

    // The next batch's codec call hangs (a slow plugin) while the poster records batch 0.
    codec.hold.store(true, Ordering::SeqCst);
    let building = std::thread::spawn({
        let b = b.clone();
        move || b.tick(4, 100_000)
    });
    entered.recv().unwrap();
    let submitted = BatchStatus::Submitted {
        tx_hash: B256::repeat_byte(1),
        nonce: 0,
        max_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        submitted_at_ms: 5,
        max_fee_per_blob_gas: None,
        replaced: vec![],
    };
    b.set_status(0, submitted.clone()).unwrap();
    // Err only on the old code, where the plugin already gave up waiting.
    let _ = go.send(());
    let built = building.join().unwrap().unwrap();
    assert!(
        codec.released.load(Ordering::SeqCst),
        "the status write waited for the plugin call to end"
    );
    assert_eq!(built.len(), 1);
    assert_eq!(b.summaries()[0].status, submitted);
}

#[test]
fn the_settled_heads_are_the_ends_of_the_runs_of_confirmed_and_final_batches_from_the_first() {
    let (_dir, storage) = chain(4, 0, 0);
    let b = Batcher::open(storage, config(1, 0), Arc::new(NoPlugins)).unwrap();
    // One block per batch: batch i holds block i + 1.
    assert_eq!(b.tick(4, 10_000).unwrap().len(), 4);
    let confirmed = |finalized: bool| BatchStatus::Confirmed {
        tx_hash: B256::repeat_byte(1),
        l1_block: 9,
        l1_block_hash: B256::repeat_byte(9),
        blobs: false,
        finalized,
        nonce: 0,
        max_fee_per_gas: 1,
        max_priority_fee_per_gas: 1,
        max_fee_per_blob_gas: None,
        replaced: vec![],
    };
    assert_eq!(b.settled_heads(), (0, 0), "nothing on L1 yet: genesis");
    // A later batch confirmed first does not count while an earlier one is not.
    b.set_status(1, confirmed(true)).unwrap();
    assert_eq!(b.settled_heads(), (0, 0));
    b.set_status(0, confirmed(false)).unwrap();
    assert_eq!(b.settled_heads(), (2, 0));
    b.set_status(0, confirmed(true)).unwrap();
    assert_eq!(b.settled_heads(), (2, 2));
    b.set_status(2, confirmed(false)).unwrap();
    assert_eq!(b.settled_heads(), (3, 2));
}
