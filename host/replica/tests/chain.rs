//! Three replicas of a real chain (storage, executor, pool, builder) in one process over
//! loopback HTTP: the leader's blocks are stored on every replica only once the group has
//! committed them, followers execute them again to the same hashes, after the leader
//! is cut off another replica extends the same chain, and a replica behind the purged log
//! catches up by snapshot.

use std::{sync::Arc, time::Duration};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use openraft::{Config, SnapshotPolicy};
use ordo_builder::{BlockParamsConfig, Builder, HeadCell};
use ordo_exec::{Executor, StateDb};
use ordo_pool::{Pool, StateReader};
use ordo_primitives::{ChainSpec, GenesisAccount, PooledTx};
use ordo_replica::{
    ChainMachine, Faults, HttpNetwork, LogStore, NodeId, Raft, RaftReplicator, ReplicaParts,
    router, serve, testing,
};
use ordo_storage::Storage;
use parking_lot::RwLock;

const CHAIN_ID: u64 = 901;
const SECRET: &str = "chain-test-secret";
const WAIT: Duration = Duration::from_secs(30);

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct State(Arc<StateDb>);

impl StateReader for State {
    fn nonce(&self, a: &Address) -> u64 {
        self.0.nonce(a)
    }
    fn balance(&self, a: &Address) -> U256 {
        self.0.balance(a)
    }
}

struct Replica {
    id: NodeId,
    raft: Raft,
    builder: Arc<Builder>,
    pool: Arc<Pool>,
    addr: std::net::SocketAddr,
    storage: Storage,
    _dir: tempfile::TempDir,
}

/// A chain whose genesis funds `key`.
fn funded(key: &PrivateKeySigner) -> ChainSpec {
    let mut spec = ChainSpec::empty(CHAIN_ID);
    spec.alloc.insert(
        key.address(),
        GenesisAccount {
            balance: U256::from(10u64).pow(U256::from(21)),
            ..Default::default()
        },
    );
    spec
}

/// A chain at genesis: storage, executor, pool and builder, as the node wires them.
struct Chain {
    dir: tempfile::TempDir,
    storage: Storage,
    pool: Arc<Pool>,
    builder: Arc<Builder>,
}

fn chain(spec: &ChainSpec) -> Fallible<Chain> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    let genesis = ordo_exec::write_genesis(&storage, spec)?;
    let state = Arc::new(StateDb::open(storage.clone())?);
    let exec = Executor::new(state.clone(), CHAIN_ID);
    let pool = Pool::new(
        Default::default(),
        ordo_pool::PoolLimits {
            chain_id: CHAIN_ID,
            block_gas_limit: spec.gas_limit,
            min_base_fee: spec.min_base_fee,
        },
        Arc::new(State(state)),
        storage.clone(),
    );
    let head: HeadCell = Arc::new(RwLock::new(Arc::new(genesis)));
    let params = BlockParamsConfig {
        block_time: Duration::from_millis(100),
        gas_limit: spec.gas_limit,
        min_base_fee: spec.min_base_fee,
        base_fee_params: spec.base_fee_params,
        coinbase: Address::repeat_byte(0xcb),
        extra_data: Default::default(),
        beacon_roots_from: spec.beacon_roots_from,
    };
    let builder = Builder::new(exec, pool.clone(), head, params);
    Ok(Chain {
        dir,
        storage,
        pool,
        builder,
    })
}

/// Sends a transfer of `key`'s with `nonce` to `chain`'s pool and seals a block there.
async fn transfer_and_seal(
    chain: &Chain,
    key: &PrivateKeySigner,
    nonce: u64,
) -> Fallible<ordo_primitives::BlockRecord> {
    chain.pool.submit(transfer(key, nonce)?).await?;
    build_on(chain).await
}

/// Seals one block on `chain` (off the async threads, as the node does).
async fn build_on(chain: &Chain) -> Fallible<ordo_primitives::BlockRecord> {
    let builder = chain.builder.clone();
    let sealed = tokio::task::spawn_blocking(move || builder.build_one()).await??;
    Ok((*sealed.block).clone())
}

async fn start(id: NodeId, spec: &ChainSpec, faults: &Faults) -> Fallible<Replica> {
    let Chain {
        dir,
        storage,
        pool,
        builder,
    } = chain(spec)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = Config {
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Snapshots only when a test asks for one; the log is then purged up to it.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        ..Config::default()
    };
    let secret: Arc<str> = SECRET.into();
    let storage_handle = storage.clone();
    let network = HttpNetwork::new(id, secret.clone(), faults.clone());
    let raft = Raft::new(
        id,
        Arc::new(config.validate()?),
        network.clone(),
        LogStore::new(storage.clone()),
        ChainMachine::new(
            id,
            ReplicaParts {
                builder: builder.clone(),
                pool: pool.clone(),
                storage: storage.clone(),
                batcher: None,
                operations: None,
            },
            network,
        ),
    )
    .await?;
    builder.set_replicator(Arc::new(RaftReplicator::new(
        raft.clone(),
        tokio::runtime::Handle::current(),
        Duration::from_secs(3),
    )));
    tokio::spawn(serve(
        listener,
        router(
            raft.clone(),
            Default::default(),
            storage.clone(),
            Default::default(),
            id,
            secret,
            faults.clone(),
        ),
    ));
    Ok(Replica {
        id,
        raft,
        builder,
        pool,
        addr,
        storage: storage_handle,
        _dir: dir,
    })
}

/// Three replicas of the chain `spec`, formed into one group.
async fn group(spec: &ChainSpec, faults: &Faults) -> Vec<Replica> {
    let mut replicas = Vec::new();
    for id in 1..=3 {
        match start(id, spec, faults).await {
            Ok(replica) => replicas.push(replica),
            Err(e) => panic!("starting replica {id}: {e}"),
        }
    }
    form(&replicas).await;
    replicas
}

fn transfer(key: &PrivateKeySigner, nonce: u64) -> Fallible<PooledTx> {
    transfer_to(key, nonce, Address::with_last_byte(nonce as u8))
}

fn transfer_to(key: &PrivateKeySigner, nonce: u64, to: Address) -> Fallible<PooledTx> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        access_list: Default::default(),
        input: Default::default(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash())?;
    Ok(PooledTx::from_signed(TxEnvelope::from(
        tx.into_signed(sig),
    ))?)
}

/// Sends `count` transfers to `leader`'s pool and seals one block there: it returns once
/// the block is committed by the group and stored on the leader.
async fn seal_block(
    leader: &Replica,
    key: &PrivateKeySigner,
    first_nonce: u64,
    count: u64,
) -> Fallible<B256> {
    for nonce in first_nonce..first_nonce + count {
        leader.pool.submit(transfer(key, nonce)?).await?;
    }
    let builder = leader.builder.clone();
    let sealed = tokio::task::spawn_blocking(move || builder.build_one()).await??;
    assert_eq!(sealed.block.transactions.len() as u64, count);
    Ok(sealed.block.hash)
}

async fn form(replicas: &[Replica]) {
    let members: Vec<_> = replicas.iter().map(|r| (r.id, &r.raft, r.addr)).collect();
    if let Err(e) = testing::form_group(&members).await {
        panic!("forming the group: {e}");
    }
}

async fn leader_among(replicas: &[&Replica], not: Option<NodeId>) -> NodeId {
    let rafts: Vec<&Raft> = replicas.iter().map(|r| &r.raft).collect();
    match testing::leader_among(&rafts, not, WAIT).await {
        Some(id) => id,
        None => panic!("no leader elected"),
    }
}

async fn wait_head(replica: &Replica, hash: B256) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while replica.builder.head().hash != hash {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica {} stayed at block {}",
            replica.id,
            replica.builder.head().number()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_stores_the_leaders_blocks_and_a_new_leader_extends_the_same_chain() {
    let key = PrivateKeySigner::random();
    let spec = funded(&key);
    let faults = Faults::default();
    let replicas = group(&spec, &faults).await;
    let ids: Vec<NodeId> = replicas.iter().map(|r| r.id).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let by_id = |id: NodeId| replicas.iter().find(|r| r.id == id).unwrap();

    // Three blocks from the leader, stored everywhere with the same hashes.
    let leader = leader_among(&all, None).await;
    let mut nonce = 0;
    let mut last = B256::ZERO;
    for count in [3, 1, 5] {
        last = seal_block(by_id(leader), &key, nonce, count).await.unwrap();
        nonce += count;
    }
    for r in &replicas {
        wait_head(r, last).await;
        assert_eq!(r.builder.head().number(), 3);
    }

    // The leader is cut off; another replica leads and extends the same chain.
    faults.isolate(leader, &ids);
    let rest: Vec<&Replica> = replicas.iter().filter(|r| r.id != leader).collect();
    let next = leader_among(&rest, Some(leader)).await;
    // It builds only on what it applied: everything committed before it led.
    by_id(next).raft.ensure_linearizable().await.unwrap();
    let fourth = seal_block(by_id(next), &key, nonce, 2).await.unwrap();
    assert_eq!(by_id(next).builder.head().number(), 4);
    for r in &rest {
        wait_head(r, fourth).await;
    }

    // Healed, the old leader follows: it executes block 4 itself and stores it.
    faults.heal();
    wait_head(by_id(leader), fourth).await;
    assert_same_blocks(&replicas, 4);
}

/// L1 origins 100..=`last` as a fetched feed offers them: each the parent of the next,
/// each with its L1-attributes deposit, and with its own beacon root where `roots` (an
/// Ordo before roots read none).
struct Origins {
    last: u64,
    roots: bool,
}

impl Origins {
    fn l1_origin(&self, number: u64) -> ordo_primitives::L1Origin {
        ordo_primitives::L1Origin {
            number,
            hash: B256::with_last_byte(number as u8),
            timestamp: 0,
            fees: Some(ordo_primitives::L1Fees {
                base_fee: 7,
                blob_base_fee: 1,
            }),
            beacon_root: self.roots.then(|| B256::repeat_byte(number as u8)),
        }
    }
}

impl ordo_builder::OriginSource for Origins {
    fn origin(&self, number: u64) -> Option<ordo_builder::NextOrigin> {
        let origin = self.l1_origin(number);
        (100..=self.last)
            .contains(&number)
            .then(|| ordo_builder::NextOrigin {
                origin,
                parent_hash: B256::with_last_byte(number as u8 - 1),
                deposits: vec![Arc::new(ordo_primitives::l1_info_deposit(
                    &origin,
                    Default::default(),
                ))],
            })
    }
    fn first(&self) -> Option<ordo_builder::NextOrigin> {
        self.origin(100)
    }
    fn broken(&self) -> Option<String> {
        None
    }
    fn done_below(&self, _: u64) {}
    fn confirmed(&self) -> Option<u64> {
        Some(self.last)
    }
    fn window(&self) -> u64 {
        1_000
    }
}

/// Batches stored uncompressed need no codec.
struct NoCodecs;

impl ordo_hooks::BatchCodecs for NoCodecs {
    fn by_code_hash(&self, _: &B256) -> Option<Arc<dyn ordo_hooks::BatchCodec>> {
        None
    }
}

/// Blocks name their L1 origin's parent beacon block root from the chain's
/// `beacon_roots_from` on (zero before it, as an Ordo that named none sealed them), store it
/// in EIP-4788's contract, and keep it while the origin stays; a follower re-executes them
/// and derivation rebuilds them from their batch to the same hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_name_their_origins_beacon_root_and_followers_and_derivation_agree() {
    let key = PrivateKeySigner::random();
    let mut spec = funded(&key).with_predeploys();
    spec.beacon_roots_from = 2;
    let (leader, follower) = (chain(&spec).unwrap(), chain(&spec).unwrap());
    leader.builder.set_origin_source(Arc::new(Origins {
        last: 102,
        roots: true,
    }));
    let mut blocks = Vec::new();
    for nonce in 0..4 {
        blocks.push(transfer_and_seal(&leader, &key, nonce).await.unwrap());
    }
    // Block 1 moves to origin 100 (before `beacon_roots_from`: zero), 2 and 3 to 101 and
    // 102, and 4 stays on 102 (the feed has no 103).
    let origins: Vec<u64> = blocks
        .iter()
        .map(|b| b.l1_origin.map(|o| o.number).unwrap_or_default())
        .collect();
    assert_eq!(origins, [100, 101, 102, 102]);
    let named: Vec<B256> = blocks
        .iter()
        .map(|b| b.header.parent_beacon_block_root.unwrap_or_default())
        .collect();
    assert_eq!(
        named,
        [
            B256::ZERO,
            B256::repeat_byte(101),
            B256::repeat_byte(102),
            B256::repeat_byte(102)
        ]
    );
    // EIP-4788's contract holds block 3's root under its time.
    let time = blocks[2].header.timestamp;
    let root_slot = B256::from(U256::from(time % 8191 + 8191));
    let stored = leader
        .storage
        .storage_at(
            &ordo_primitives::alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
            &root_slot,
            3,
        )
        .unwrap();
    assert_eq!(stored, U256::from_be_bytes([102u8; 32]));

    // A follower re-executes them to the same hashes.
    for block in &blocks {
        follower
            .builder
            .apply_committed(block, Some(block.number().to_be_bytes().to_vec()))
            .unwrap();
    }
    assert_eq!(follower.builder.head().hash, blocks[3].hash);

    // Derivation rebuilds them from their batch, which carries the roots.
    let payload = ordo_primitives::BatchPayload {
        blocks: blocks
            .iter()
            .map(ordo_primitives::BatchBlock::from_record)
            .collect(),
    };
    assert_eq!(payload.blocks[0].beacon_root, None);
    assert_eq!(payload.blocks[3].beacon_root, Some(B256::repeat_byte(102)));
    let last = &blocks[3];
    let frame = ordo_primitives::BatchFrame {
        header: ordo_primitives::BatchHeader {
            index: 0,
            first_block: 1,
            last_block: 4,
            last_block_hash: last.hash,
            state_root: last.header.state_root,
            codec_id: ordo_primitives::CODEC_NONE,
            codec_hash: B256::ZERO,
            output_root: B256::ZERO,
        },
        data: payload.encode().into(),
    };
    let derived = tempfile::tempdir().unwrap();
    let mut deriver = ordo_derive::Deriver::open(
        &ordo_derive::DeriveConfig::new(derived.path(), spec.clone()),
        Arc::new(NoCodecs),
    )
    .unwrap();
    deriver.apply_frame(&frame.encode()).unwrap();
    assert_eq!(deriver.head().hash, last.hash);
}

/// A chain sealed by an Ordo that named no roots, upgraded with `beacon_roots_from` at the
/// next block: that block names its origin's root although the stored origin has none (it
/// is read again from the feed), and a follower agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_upgrade_the_current_origins_beacon_root_is_read_again() {
    let key = PrivateKeySigner::random();
    let mut spec = funded(&key).with_predeploys();
    spec.beacon_roots_from = 2;
    let (leader, follower) = (chain(&spec).unwrap(), chain(&spec).unwrap());
    leader.builder.set_origin_source(Arc::new(Origins {
        last: 100,
        roots: false,
    }));
    let old = transfer_and_seal(&leader, &key, 0).await.unwrap();
    let stored = old.l1_origin.unwrap();
    assert_eq!((stored.number, stored.beacon_root), (100, None));
    // The upgraded node's feed reads roots; the origin stays on 100 (no 101 yet).
    leader.builder.set_origin_source(Arc::new(Origins {
        last: 100,
        roots: true,
    }));
    let new = transfer_and_seal(&leader, &key, 1).await.unwrap();
    assert_eq!(new.l1_origin.map(|o| o.number), Some(100));
    assert_eq!(
        new.l1_origin.and_then(|o| o.beacon_root),
        Some(B256::repeat_byte(100))
    );
    assert_eq!(
        new.header.parent_beacon_block_root,
        Some(B256::repeat_byte(100))
    );
    for block in [&old, &new] {
        follower
            .builder
            .apply_committed(block, Some(block.number().to_be_bytes().to_vec()))
            .unwrap();
    }
    assert_eq!(follower.builder.head().hash, new.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_stores_only_a_block_it_executes_to_the_same_hash() {
    let key = PrivateKeySigner::random();
    let spec = funded(&key);
    let (leader, refusing, follower) = (
        chain(&spec).unwrap(),
        chain(&spec).unwrap(),
        chain(&spec).unwrap(),
    );
    for nonce in 0..4 {
        leader
            .pool
            .submit(transfer(&key, nonce).unwrap())
            .await
            .unwrap();
    }
    let block = build_on(&leader).await.unwrap();

    // Another state root under the same transactions: executed here, it differs.
    let mut forged = block.clone();
    forged.header.state_root = B256::repeat_byte(7);
    forged.hash = forged.header.hash_slow();
    let refused = refusing
        .builder
        .apply_committed(&forged, Some(b"1".to_vec()));
    assert!(
        matches!(&refused, Err(ordo_builder::BuilderError::Replicated(why)) if why.contains("executes to")),
        "{refused:?}"
    );
    assert_eq!(refusing.builder.head().number(), 0);
    // A replica that cannot apply a committed block no longer follows the chain: it stops,
    // and stores nothing after it.
    assert!(refusing.builder.halted().is_some());
    assert!(
        refusing
            .builder
            .apply_committed(&block, Some(b"2".to_vec()))
            .is_err()
    );
    assert_eq!(refusing.storage.block(1).unwrap(), None);
    let follower_builder = follower.builder.clone();

    // The real one is stored, with its log position; applied again (a replay), it is known.
    let applied = follower_builder
        .apply_committed(&block, Some(b"2".to_vec()))
        .unwrap();
    assert_eq!(applied, ordo_builder::Applied::Stored);
    assert_eq!(follower.builder.head().hash, block.hash);
    assert_eq!(
        follower.storage.block(1).unwrap().map(|b| b.hash),
        Some(block.hash)
    );
    assert_eq!(
        follower
            .storage
            .raft_meta(ordo_storage::raft::RaftMeta::Applied)
            .unwrap(),
        Some(b"2".to_vec())
    );
    let again = follower_builder
        .apply_committed(&block, Some(b"2".to_vec()))
        .unwrap();
    assert_eq!(again, ordo_builder::Applied::AlreadyStored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_leader_takes_its_block_back_and_follows_once_healed() {
    let key = PrivateKeySigner::random();
    let spec = funded(&key);
    let faults = Faults::default();
    let replicas = group(&spec, &faults).await;
    let ids: Vec<NodeId> = replicas.iter().map(|r| r.id).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let by_id = |id: NodeId| replicas.iter().find(|r| r.id == id).unwrap();
    let leader = leader_among(&all, None).await;
    let first = seal_block(by_id(leader), &key, 0, 2).await.unwrap();
    for r in &replicas {
        wait_head(r, first).await;
    }

    faults.isolate(leader, &ids);
    let rest: Vec<&Replica> = replicas.iter().filter(|r| r.id != leader).collect();
    let next = leader_among(&rest, Some(leader)).await;

    // The old leader still believes it leads. Its block cannot be committed: it waits,
    // staged and unstored, while the others go on without it.
    let stale = by_id(leader);
    stale.pool.submit(transfer(&key, 2).unwrap()).await.unwrap();
    let stale_builder = stale.builder.clone();
    let sealing = tokio::task::spawn_blocking(move || stale_builder.build_one());
    by_id(next).raft.ensure_linearizable().await.unwrap();
    // The new leader's block 2 differs from the stale one (two transactions, not one).
    let second = seal_block(by_id(next), &key, 2, 2).await.unwrap();
    for r in &rest {
        wait_head(r, second).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sealing.is_finished(), "a cut-off leader's block finished");
    assert_eq!(stale.storage.block(2).unwrap(), None);
    assert_eq!(stale.builder.head().number(), 1);

    // Healed: it learns of the new term, takes its block back (state, tip and pool as
    // before), and follows: it executes the new leader's block 2 itself and stores it.
    faults.heal();
    let sealed = sealing.await.unwrap();
    assert!(
        sealed.is_err(),
        "a cut-off leader stored a block: {sealed:?}"
    );
    wait_head(stale, second).await;
    assert!(
        stale.builder.halted().is_none(),
        "{:?}",
        stale.builder.halted()
    );
    assert_eq!(stale.builder.tip().hash, second);
    assert_same_blocks(&replicas, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_behind_the_purged_log_catches_up_by_snapshot() {
    let key = PrivateKeySigner::random();
    let spec = funded(&key);
    let faults = Faults::default();
    let replicas = group(&spec, &faults).await;
    let ids: Vec<NodeId> = replicas.iter().map(|r| r.id).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let by_id = |id: NodeId| replicas.iter().find(|r| r.id == id).unwrap();
    let leader = by_id(leader_among(&all, None).await);
    let behind = replicas.iter().find(|r| r.id != leader.id).unwrap();

    // One block everywhere, then `behind` is cut off while the others go on.
    let mut nonce = 0;
    let first = seal_block(leader, &key, nonce, 2).await.unwrap();
    nonce += 2;
    wait_head(behind, first).await;
    faults.isolate(behind.id, &ids);
    let mut last = first;
    for count in [3, 1, 4, 2] {
        last = seal_block(leader, &key, nonce, count).await.unwrap();
        nonce += count;
    }
    // Two transactions pooled on the leader, not yet in a block: the snapshot carries them.
    let pending: Vec<B256> = {
        let mut out = Vec::new();
        for n in nonce..nonce + 2 {
            out.push(
                leader
                    .pool
                    .submit(transfer(&key, n).unwrap())
                    .await
                    .unwrap(),
            );
        }
        out
    };

    // The leader snapshots and purges its whole log: `behind` can no longer be sent the
    // entries it missed.
    leader.raft.trigger().snapshot().await.unwrap();
    let snapshot = wait_metric(leader, "a snapshot", |m| m.snapshot).await;
    leader
        .raft
        .trigger()
        .purge_log(snapshot.index)
        .await
        .unwrap();
    wait_metric(leader, "the log purged", |m| {
        m.purged.filter(|p| p.index >= snapshot.index)
    })
    .await;
    assert_eq!(behind.builder.head().number(), 1);

    // Healed: it installs the snapshot (executing blocks 2..=5 it fetched), pools the
    // snapshot's transactions, and follows the log from there.
    faults.heal();
    wait_head(behind, last).await;
    let installed = wait_metric(behind, "the snapshot installed", |m| m.snapshot).await;
    assert_eq!(installed.index, snapshot.index);
    for hash in &pending {
        assert!(behind.pool.contains(hash), "pending {hash} not pooled");
    }
    // The next block (the two pending and one more) reaches it through the log.
    leader
        .pool
        .submit(transfer(&key, nonce + 2).unwrap())
        .await
        .unwrap();
    let builder = leader.builder.clone();
    let sealed = tokio::task::spawn_blocking(move || builder.build_one())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sealed.block.transactions.len(), 3);
    wait_head(behind, sealed.block.hash).await;
    // The other follower applies the block in its own time: every replica must hold it
    // before they are compared.
    for r in &replicas {
        wait_head(r, sealed.block.hash).await;
    }
    assert_same_blocks(&replicas, 6);
}

/// Every replica stores the same blocks `0..=upto`.
fn assert_same_blocks(replicas: &[Replica], upto: u64) {
    for number in 0..=upto {
        let hashes: Vec<Option<B256>> = replicas
            .iter()
            .map(|r| {
                // The head moves when a block is staged; its batch may still be landing.
                if let Err(e) = r.builder.wait_stored() {
                    panic!("replica {}: {e}", r.id);
                }
                match r.storage.block(number) {
                    Ok(block) => block.map(|b| b.hash),
                    Err(e) => panic!("replica {}: {e}", r.id),
                }
            })
            .collect();
        assert!(hashes[0].is_some(), "block {number} missing");
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "block {number}: {hashes:?}"
        );
    }
}

/// Waits until `what` of `replica`'s Raft metrics is there.
async fn wait_metric<T>(
    replica: &Replica,
    name: &str,
    what: impl Fn(&openraft::RaftMetrics<NodeId, ordo_replica::ReplicaNode>) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = what(&replica.raft.metrics().borrow()) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica {}: no {name}",
            replica.id
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn txs_entry(
    term: u64,
    index: u64,
    txs: &[&PooledTx],
) -> openraft::Entry<ordo_replica::TypeConfig> {
    openraft::Entry {
        log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index),
        payload: openraft::EntryPayload::Normal(ordo_replica::Command::Txs(
            txs.iter().map(|t| (t.encoded.clone(), t.sender)).collect(),
        )),
    }
}

/// A restart pools the log to its end, entries past what the replica knew committed
/// included: they may be committed, and it may lead before it applies them. When the log
/// then drops such an entry (truncated for another leader's), what the restart pooled from
/// it leaves the pool: left there, it would keep out the transaction the group did commit
/// with the same nonce (at the same fees it is no replacement), which this replica would
/// then lack as leader. A transaction a known-committed entry carries stays pooled, even if
/// a dropped entry carried it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_pools_the_whole_log_and_a_truncation_takes_back_only_what_it_drops() {
    use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
    let key = PrivateKeySigner::random();
    let spec = funded(&key);
    let c = chain(&spec).unwrap();
    let first = transfer_to(&key, 0, Address::repeat_byte(0x11)).unwrap();
    let second = transfer_to(&key, 1, Address::repeat_byte(0x22)).unwrap();
    let dropped = transfer_to(&key, 2, Address::repeat_byte(0xaa)).unwrap();
    // Before the stop: entries 1 and 2 known committed; entry 3 (nonce 2, to 0xaa) and 4
    // (`first` again: a client's retry) past it, never committed.
    {
        let mut log = LogStore::new(c.storage.clone());
        log.blocking_append([
            txs_entry(1, 1, &[&first]),
            txs_entry(1, 2, &[&second]),
            txs_entry(1, 3, &[&dropped]),
            txs_entry(1, 4, &[&first]),
        ])
        .await
        .unwrap();
        log.save_committed(Some(openraft::LogId::new(
            openraft::CommittedLeaderId::new(1, 1),
            2,
        )))
        .await
        .unwrap();
    }

    // The start: the pool is rebuilt from the log, before Raft runs.
    c.pool.keep_in_group_log();
    let machine = ChainMachine::new(
        1,
        ReplicaParts {
            builder: c.builder.clone(),
            pool: c.pool.clone(),
            storage: c.storage.clone(),
            batcher: None,
            operations: None,
        },
        HttpNetwork::new(1, SECRET.into(), Faults::default()),
    );
    let pooled = tokio::task::spawn_blocking({
        let machine = machine.clone();
        move || testing::restore_pool(&machine)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(pooled, 3);
    assert_eq!(
        machine.provisional().len(),
        1,
        "only entry 3's transaction is provisional"
    );

    // The transaction the group committed with nonce 2: while the one a restart pooled
    // stays, it is kept out (the same fees are no replacement).
    let committed = transfer_to(&key, 2, Address::repeat_byte(0xbb)).unwrap();
    assert_eq!(c.pool.adopt(vec![committed.clone()]).unwrap(), 0);
    assert!(!c.pool.contains(&committed.hash));

    // The next leader's log differs from index 3 on: this replica's entries 3 and 4 go.
    let mut log =
        LogStore::new(c.storage.clone()).withdrawing_from(c.pool.clone(), machine.provisional());
    log.truncate(openraft::LogId::new(
        openraft::CommittedLeaderId::new(1, 1),
        3,
    ))
    .await
    .unwrap();
    assert!(
        !c.pool.contains(&dropped.hash),
        "a dropped entry's transaction stayed pooled"
    );
    assert_eq!(
        c.pool.dropped_reason(&dropped.hash).as_deref(),
        Some("not committed by the replica group")
    );
    assert!(c.pool.contains(&first.hash) && c.pool.contains(&second.hash));
    assert!(machine.provisional().is_empty());

    // Now it is pooled as its entry applies.
    log.blocking_append([txs_entry(2, 3, &[&committed])])
        .await
        .unwrap();
    c.pool.adopt(vec![committed.clone()]).unwrap();
    assert!(c.pool.contains(&committed.hash));
    assert_eq!(c.pool.pending_nonce(&key.address()), 3);
}
