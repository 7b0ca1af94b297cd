//! A node on a small chain inside the fuzzer's process: storage in a scratch datadir, the
//! executor, pool, bundle pool, builder and batcher, and the JSON-RPC router with the
//! namespaces `ordo_node::launch` mounts on the public port. No socket, no block loop and no
//! plugins: requests go straight into the router as HTTP requests, and the chain is what
//! [`Node::get`] seals at start (transactions of every type, a contract call that logs, a
//! creation, a stored batch, one pending and one queued transaction).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use ordo_api::NodeApi;
use ordo_batcher::{Batcher, BatcherConfig, NoPlugins};
use ordo_builder::{BlockParamsConfig, Builder, HeadCell};
use ordo_exec::{Executor, StateDb};
use ordo_pool::{BundleLimits, BundlePool, Pool, PoolLimits, StateReader};
use ordo_primitives::{
    ChainSpec, DEV_ACCOUNTS, DEV_CHAIN_ID, GenesisAccount,
    alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy},
    alloy_eips::{
        eip2718::Encodable2718,
        eip2930::{AccessList, AccessListItem},
    },
    alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, address, hex, keccak256},
};
use ordo_storage::Storage;
use tower::ServiceExt;

/// The chain's id: `ordo dev`'s.
pub const CHAIN_ID: u64 = DEV_CHAIN_ID;

/// A contract in the genesis state. Runtime: store the first calldata word in slot 0, log
/// it under topic `0xaa`, return it.
pub const CONTRACT: Address = address!("0x000000000000000000000000000000000000c0de");
const RUNTIME: [u8; 24] = hex!("60003560005560003560005260aa60206000a160206000f3");
/// Copies the 24 bytes after it into memory and returns them: a creation of [`RUNTIME`].
const INIT_PREFIX: [u8; 12] = hex!("6018600c60003960186000f3");

/// Nonces of [`sender`] that start-up sealed in blocks 1 (0 to 4) and 2 (5).
pub const SEALED_NONCES: std::ops::Range<u64> = 0..6;
/// The nonce start-up left pending in the pool.
pub const PENDING_NONCE: u64 = 6;
/// The next nonce the pool accepts from [`sender`] (its first seed sends it).
pub const NEXT_NONCE: u64 = 7;
/// The nonce start-up left queued behind the gap at [`NEXT_NONCE`].
pub const QUEUED_NONCE: u64 = 8;

/// The funded account every start-up and seed transaction comes from.
pub fn sender() -> PrivateKeySigner {
    key(0x5a)
}

/// The searcher whose `X-Flashbots-Signature` the targets put on signed requests.
pub fn searcher() -> PrivateKeySigner {
    key(0x5e)
}

/// An account the genesis does not fund.
pub fn pauper() -> PrivateKeySigner {
    key(0x9a)
}

fn key(byte: u8) -> PrivateKeySigner {
    // A repeated byte below the curve order is a valid secret key.
    PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).expect("a valid secret key")
}

/// The transaction [`sender`] signs with `nonce`, on this chain: its shape cycles through
/// a transfer, a call of [`CONTRACT`], a legacy (EIP-155) transfer, an EIP-2930 call and a
/// creation, so the sealed blocks hold every kind.
pub fn sender_tx(nonce: u64) -> Bytes {
    signed_tx(&sender(), CHAIN_ID, nonce)
}

/// [`sender_tx`]'s shapes, signed by `key` for chain `chain_id`.
pub fn signed_tx(key: &PrivateKeySigner, chain_id: u64, nonce: u64) -> Bytes {
    let gwei = 1_000_000_000u128;
    let word = B256::from(U256::from(nonce + 0x2a));
    let call = |nonce| TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 10 * gwei,
        max_priority_fee_per_gas: gwei,
        to: TxKind::Call(CONTRACT),
        value: U256::ZERO,
        access_list: AccessList::default(),
        input: Bytes::copy_from_slice(word.as_slice()),
    };
    let envelope = match nonce % 5 {
        0 => sign(
            key,
            TxEip1559 {
                gas_limit: 21_000,
                to: TxKind::Call(DEV_ACCOUNTS[1]),
                value: U256::from(10u64).pow(U256::from(15)),
                input: Bytes::new(),
                ..call(nonce)
            },
        ),
        1 => sign(key, call(nonce)),
        2 => sign(
            key,
            TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price: 10 * gwei,
                gas_limit: 21_000,
                to: TxKind::Call(DEV_ACCOUNTS[2]),
                value: U256::from(7),
                input: Bytes::new(),
            },
        ),
        3 => sign(
            key,
            TxEip2930 {
                chain_id,
                nonce,
                gas_price: 10 * gwei,
                gas_limit: 100_000,
                to: TxKind::Call(CONTRACT),
                value: U256::ZERO,
                access_list: AccessList(vec![AccessListItem {
                    address: CONTRACT,
                    storage_keys: vec![B256::ZERO],
                }]),
                input: Bytes::copy_from_slice(word.as_slice()),
            },
        ),
        _ => sign(
            key,
            TxEip1559 {
                gas_limit: 200_000,
                to: TxKind::Create,
                input: Bytes::from([&INIT_PREFIX[..], &RUNTIME[..]].concat()),
                ..call(nonce)
            },
        ),
    };
    Bytes::from(envelope.encoded_2718())
}

fn sign<T>(key: &PrivateKeySigner, tx: T) -> TxEnvelope
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<ordo_primitives::alloy_consensus::Signed<T>>,
{
    let signature = key
        .sign_hash_sync(&tx.signature_hash())
        .expect("a local key signs");
    TxEnvelope::from(tx.into_signed(signature))
}

/// The `X-Flashbots-Signature` value `key` puts on `body`: EIP-191 over the hex text of
/// keccak256(body).
pub fn flashbots_signature(key: &PrivateKeySigner, body: &[u8]) -> String {
    let message = format!("{:#x}", keccak256(body));
    let signature = key
        .sign_message_sync(message.as_bytes())
        .expect("a local key signs");
    format!(
        "{:#x}:0x{}",
        key.address(),
        hex::encode(signature.as_bytes())
    )
}

/// What the router answered.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Vec<u8>,
}

/// The node. One per process, started by the first [`Node::get`].
pub struct Node {
    runtime: tokio::runtime::Runtime,
    router: Router,
    storage: Storage,
    bundles: Arc<BundlePool>,
    head: u64,
}

struct Reader(Arc<StateDb>);

impl StateReader for Reader {
    fn nonce(&self, address: &Address) -> u64 {
        self.0.nonce(address)
    }
    fn balance(&self, address: &Address) -> U256 {
        self.0.balance(address)
    }
}

struct Sequencer(PrivateKeySigner);

impl ordo_builder::BlockSigner for Sequencer {
    fn sign_block(&self, hash: B256) -> Bytes {
        let hash = ordo_primitives::block_signing_hash(CHAIN_ID, hash);
        self.0
            .sign_hash_sync(&hash)
            .map(|s| Bytes::from(s.as_bytes().to_vec()))
            .unwrap_or_default()
    }
}

static NODE: OnceLock<Node> = OnceLock::new();

impl Node {
    /// The process's node, started (and its chain sealed) on first use.
    pub fn get() -> &'static Node {
        NODE.get_or_init(Node::start)
    }

    fn start() -> Node {
        let dir = datadir();
        let storage = Storage::open(dir.join("db")).expect("storage opens");
        let mut spec = ChainSpec::dev(CHAIN_ID);
        spec.alloc.insert(
            sender().address(),
            GenesisAccount {
                balance: U256::from(10u64).pow(U256::from(21)),
                ..Default::default()
            },
        );
        spec.alloc.insert(
            CONTRACT,
            GenesisAccount {
                code: Bytes::from_static(&RUNTIME),
                storage: [(B256::ZERO, U256::from(1))].into(),
                ..Default::default()
            },
        );
        let genesis = ordo_exec::write_genesis(&storage, &spec).expect("genesis is written");
        let state = Arc::new(StateDb::open(storage.clone()).expect("the state opens"));
        let exec = Executor::new(state.clone(), CHAIN_ID);
        let pool = Pool::new(
            Default::default(),
            PoolLimits {
                chain_id: CHAIN_ID,
                block_gas_limit: spec.gas_limit,
                min_base_fee: spec.min_base_fee,
            },
            Arc::new(Reader(state)),
            storage.clone(),
        );
        let head: HeadCell = Arc::new(parking_lot::RwLock::new(Arc::new(genesis)));
        let params = BlockParamsConfig {
            block_time: Duration::from_secs(1),
            gas_limit: spec.gas_limit,
            min_base_fee: spec.min_base_fee,
            base_fee_params: spec.base_fee_params,
            coinbase: Address::repeat_byte(0xcb),
            extra_data: Bytes::from_static(b"ordo"),
            beacon_roots_from: spec.beacon_roots_from,
        };
        let builder = Builder::new(exec.clone(), pool.clone(), head, params);
        builder.set_signer(Arc::new(Sequencer(key(0x5c))));
        let bundles = Arc::new(BundlePool::new(storage.clone(), BundleLimits::default()));
        builder.set_bundle_pool(bundles.clone());
        let batcher = Batcher::open(
            storage.clone(),
            BatcherConfig::default(),
            Arc::new(NoPlugins),
        )
        .expect("the batcher opens");

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let api = {
            // NodeApi forwards chain events from tasks of its own.
            let _entered = runtime.enter();
            NodeApi::new(storage.clone(), exec, pool, builder.clone())
        };
        api.set_batcher(batcher.clone());
        let namespaces: Vec<Arc<dyn ordo_rpc::Namespace>> = vec![
            Arc::new(ordo_api::OrdoNamespace(api.clone())),
            Arc::new(ordo_api::MevNamespace(api.clone())),
            Arc::new(ordo_api::TxpoolNamespace(api.clone())),
            Arc::new(ordo_api::DebugNamespace(api.clone())),
            Arc::new(ordo_api::ChainConfigNamespace(api.clone())),
            Arc::new(ordo_api::EthExtrasNamespace(api.clone())),
            Arc::new(ordo_api::SimulateNamespace(api.clone())),
        ];
        let config = ordo_rpc::RpcConfig {
            read_threads: 1,
            ..Default::default()
        };
        let router = ordo_rpc::router(api, namespaces, config);
        let mut node = Node {
            runtime,
            router,
            storage,
            bundles,
            head: 0,
        };

        for nonce in SEALED_NONCES {
            node.send(nonce);
            if nonce == 4 || nonce + 1 == SEALED_NONCES.end {
                builder.build_one().expect("a block is sealed");
            }
        }
        node.head = builder.head().number();
        assert_eq!(node.head, 2, "start-up seals two blocks");
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let batches = batcher
            .tick(node.head, now_ms + 3_600_000)
            .expect("the batch is stored");
        assert_eq!(batches.len(), 1, "start-up stores one batch");
        for nonce in SEALED_NONCES {
            let hash = keccak256(sender_tx(nonce));
            let receipt = node.call(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":["{hash}"]}}"#
            ));
            assert!(
                receipt.contains(r#""status":"0x1""#),
                "start-up transaction {nonce} succeeded: {receipt}"
            );
        }
        node.send(PENDING_NONCE);
        node.send(QUEUED_NONCE);
        node
    }

    fn send(&self, nonce: u64) {
        let answer = self.call(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["{}"]}}"#,
            sender_tx(nonce)
        ));
        assert!(
            answer.contains(r#""result""#),
            "start-up transaction {nonce} is accepted: {answer}"
        );
    }

    fn call(&self, body: &str) -> String {
        let answer = self.post(body.as_bytes(), None);
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    /// POSTs `body` to `/` as a wallet would, with `signer`'s `X-Flashbots-Signature` when
    /// given, and reads the whole answer.
    pub fn post(&self, body: &[u8], signer: Option<&PrivateKeySigner>) -> Answer {
        let mut request = Request::post("/").header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = signer {
            request = request.header("x-flashbots-signature", flashbots_signature(key, body));
        }
        let request = request
            .body(Body::from(body.to_vec()))
            .expect("a well-formed HTTP request");
        self.runtime.block_on(async {
            let response = match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the answer's body is read");
            Answer {
                status,
                body: body.to_vec(),
            }
        })
    }

    /// The pool `eth_sendBundle` fills.
    pub fn bundles(&self) -> &Arc<BundlePool> {
        &self.bundles
    }

    /// The node's storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The head block number (the chain does not grow after start-up).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Drops every held bundle, so one input's bundles never fill the pool for the next.
    pub fn forget_bundles(&self) {
        if !self.bundles.is_empty() {
            self.bundles.prune(u64::MAX, 0);
        }
    }
}

/// A fresh datadir named by the process id under `$TMPDIR/ordo-fuzz`. libFuzzer leaves by
/// `exit`, so no process removes its own: the datadirs of processes that are gone are
/// removed here instead.
fn datadir() -> PathBuf {
    let root = std::env::temp_dir().join("ordo-fuzz");
    let proc = Path::new("/proc");
    if proc.join("self").exists()
        && let Ok(entries) = std::fs::read_dir(&root)
    {
        for entry in entries.flatten() {
            let gone = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
                .is_some_and(|pid| !proc.join(pid.to_string()).exists());
            if gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the datadir is created");
    dir
}
