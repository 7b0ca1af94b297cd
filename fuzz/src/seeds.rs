//! The seeds the targets start from. A target started with `ORDO_FUZZ_WRITE_SEEDS=<dir>`
//! writes its own into `<dir>/<target>/seed-*` and exits, so they follow what they depend
//! on (the node's start-up chain and keys, the shipped codecs, the targets' input formats):
//!
//! ```sh
//! ORDO_FUZZ_WRITE_SEEDS=$PWD/fuzz/corpus ./scripts/fuzz rpc_request 1
//! ```

use std::path::PathBuf;

use ordo_primitives::{
    BatchBlock, BatchFrame, BatchHeader, BatchPayload, Bundle, CODEC_NONE,
    alloy_primitives::{Address, B256, Bytes, keccak256},
    decode_raw_tx,
};

use crate::{
    codecs,
    node::{self, CONTRACT, NEXT_NONCE, PENDING_NONCE, sender_tx, signed_tx},
};

/// Named seed inputs.
pub type Seeds = Vec<(String, Vec<u8>)>;

/// Writes `target`'s seeds and exits when `ORDO_FUZZ_WRITE_SEEDS` names a directory.
pub fn write_if_asked(target: &str, seeds: fn() -> Seeds) {
    let Some(dir) = std::env::var_os("ORDO_FUZZ_WRITE_SEEDS") else {
        return;
    };
    let dir = PathBuf::from(dir).join(target);
    std::fs::create_dir_all(&dir).expect("the corpus directory is created");
    let seeds = seeds();
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("a seed is written");
    }
    eprintln!("{} seeds written to {}", seeds.len(), dir.display());
    std::process::exit(0);
}

fn call(id: u32, method: &str, params: &str) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#).into_bytes()
}

/// A bundle `eth_sendBundle` takes from the searcher: the next transaction, then one more,
/// the second allowed to revert, within a timestamp window, under a uuid.
fn full_bundle_json() -> String {
    format!(
        r#"{{"txs":["{}","{}"],"blockNumber":"0x3","minTimestamp":0,"maxTimestamp":4102444800,"revertingTxHashes":["{}"],"replacementUuid":"0d2f9b4e-7f1c-4c8e-9a51-3f6b2a1c0e77"}}"#,
        sender_tx(NEXT_NONCE),
        sender_tx(NEXT_NONCE + 2),
        keccak256(sender_tx(NEXT_NONCE + 2)),
    )
}

/// Requests covering every method the public port serves, each against something the
/// start-up chain holds, and the framing cases (batch, notification, bad JSON, bad ids and
/// versions, named parameters, a signed request).
pub fn rpc_request() -> Seeds {
    let s = format!("{:#x}", node::sender().address());
    let c = format!("{CONTRACT:#x}");
    let tx = keccak256(sender_tx(1));
    let word = format!("0x{:064x}", 0x2a);
    let request = format!(r#"{{"from":"{s}","to":"{c}","data":"{word}"}}"#);
    let topic = format!("0x{:064x}", 0xaa);
    let mut seeds: Seeds = [
        ("eth_chainId", "[]".to_string()),
        ("eth_blockNumber", "[]".into()),
        ("eth_getBlockByNumber", r#"["0x1",true]"#.into()),
        ("eth_getBlockByNumber-latest", r#"["latest",false]"#.into()),
        ("eth_getBlockByHash", format!(r#"["{}",false]"#, B256::ZERO)),
        ("eth_getBalance", format!(r#"["{s}","latest"]"#)),
        ("eth_getTransactionCount", format!(r#"["{s}","pending"]"#)),
        ("eth_getCode", format!(r#"["{c}","0x1"]"#)),
        ("eth_getStorageAt", format!(r#"["{c}","0x0","latest"]"#)),
        ("eth_getProof", format!(r#"["{c}",["0x0"],"latest"]"#)),
        ("eth_call", format!(r#"[{request},"latest"]"#)),
        (
            "eth_call-overrides",
            format!(
                r#"[{{"to":"{c}","data":"{word}"}},"0x1",{{"{c}":{{"balance":"0x1"}}}},{{"number":"0x10"}}]"#
            ),
        ),
        ("eth_estimateGas", format!("[{request}]")),
        ("eth_createAccessList", format!(r#"[{request},"latest"]"#)),
        ("eth_gasPrice", "[]".into()),
        ("eth_maxPriorityFeePerGas", "[]".into()),
        ("eth_feeHistory", r#"["0x4","latest",[25,75]]"#.into()),
        (
            "eth_getLogs",
            format!(
                r#"[{{"fromBlock":"0x0","toBlock":"latest","address":"{c}","topics":["{topic}"]}}]"#
            ),
        ),
        (
            "eth_newFilter",
            format!(r#"[{{"fromBlock":"0x1","address":"{c}"}}]"#),
        ),
        ("eth_newBlockFilter", "[]".into()),
        ("eth_getFilterChanges", r#"["0x1"]"#.into()),
        ("eth_uninstallFilter", r#"["0x1"]"#.into()),
        ("eth_getTransactionByHash", format!(r#"["{tx}"]"#)),
        ("eth_getTransactionReceipt", format!(r#"["{tx}"]"#)),
        ("eth_getBlockReceipts", r#"["0x1"]"#.into()),
        (
            "eth_getTransactionByBlockNumberAndIndex",
            r#"["0x1","0x1"]"#.into(),
        ),
        ("eth_getBlockTransactionCountByNumber", r#"["0x1"]"#.into()),
        ("eth_getUncleCountByBlockNumber", r#"["0x1"]"#.into()),
        (
            "eth_sendRawTransaction",
            format!(r#"["{}"]"#, sender_tx(NEXT_NONCE)),
        ),
        (
            "eth_sendRawTransaction-known",
            format!(r#"["{}"]"#, sender_tx(PENDING_NONCE)),
        ),
        (
            "eth_sendRawTransactionSync",
            format!(r#"["{}",500]"#, sender_tx(0)),
        ),
        ("eth_syncing", "[]".into()),
        ("eth_subscribe", r#"["newHeads"]"#.into()),
        ("net_version", "[]".into()),
        ("web3_clientVersion", "[]".into()),
        ("web3_sha3", r#"["0x68656c6c6f"]"#.into()),
        (
            "debug_traceTransaction",
            format!(r#"["{tx}",{{"tracer":"callTracer"}}]"#),
        ),
        (
            "debug_traceCall",
            format!(r#"[{request},"latest",{{"tracer":"prestateTracer"}}]"#),
        ),
        ("debug_traceBlockByNumber", r#"["0x1",{}]"#.into()),
        ("debug_getRawBlock", r#"["0x1"]"#.into()),
        ("debug_getRawHeader", r#"["0x1"]"#.into()),
        ("debug_getRawReceipts", r#"["0x1"]"#.into()),
        ("debug_getRawTransaction", format!(r#"["{tx}"]"#)),
        ("txpool_status", "[]".into()),
        ("txpool_content", "[]".into()),
        ("txpool_inspect", "[]".into()),
        ("txpool_contentFrom", format!(r#"["{s}"]"#)),
        ("ordo_getBlockProvenance", r#"["0x1"]"#.into()),
        ("ordo_getBatch", r#"["0x0"]"#.into()),
        ("ordo_txStatus", format!(r#"["{tx}"]"#)),
        ("ordo_nodeStatus", "[]".into()),
        ("ordo_rollupConfig", "[]".into()),
        ("ordo_clusterStatus", "[]".into()),
        ("ordo_outputAtBlock", r#"["0x1"]"#.into()),
        ("ordo_searcherStats", "[]".into()),
        ("eth_config", "[]".into()),
        ("eth_blobBaseFee", "[]".into()),
        ("eth_baseFee", "[]".into()),
        (
            "eth_getStorageValues",
            format!(r#"[{{"{c}":["{}"]}},"latest"]"#, B256::ZERO),
        ),
        ("eth_capabilities", "[]".into()),
        (
            "eth_simulateV1",
            format!(r#"[{{"blockStateCalls":[{{"calls":[{request}]}}],"validation":false}},"latest"]"#),
        ),
        (
            "eth_callBundle",
            format!(
                r#"[{{"txs":["{}"],"blockNumber":"0x3","stateBlockNumber":"latest"}}]"#,
                sender_tx(PENDING_NONCE)
            ),
        ),
        (
            "eth_sendBundle",
            format!(
                r#"[{{"txs":["{}"],"blockNumber":"0x3"}}]"#,
                sender_tx(NEXT_NONCE)
            ),
        ),
    ]
    .into_iter()
    .map(|(method, params)| {
        let name = method.to_string();
        let method = method.split('-').next().unwrap_or(method);
        (name, call(1, method, &params))
    })
    .collect();

    let signed = |body: Vec<u8>| [&[0x01u8][..], &body].concat();
    seeds.push((
        "signed-eth_sendBundle".into(),
        signed(call(
            7,
            "eth_sendBundle",
            &format!("[{}]", full_bundle_json()),
        )),
    ));
    seeds.push((
        "signed-eth_cancelBundle".into(),
        signed(call(
            8,
            "eth_cancelBundle",
            r#"[{"replacementUuid":"0d2f9b4e-7f1c-4c8e-9a51-3f6b2a1c0e77"}]"#,
        )),
    ));
    let framing: [(&str, String); 9] = [
        (
            "batch",
            r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"},{"jsonrpc":"2.0","id":"a","method":"eth_getBlockByNumber","params":["0x2",false]}]"#.into(),
        ),
        (
            "notification",
            r#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[]}"#.into(),
        ),
        ("bad-json", r#"{"jsonrpc":"2.0","id":1,"method":"#.into()),
        ("empty-batch", "[]".into()),
        (
            "null-id",
            r#"{"jsonrpc":"2.0","id":null,"method":"eth_chainId"}"#.into(),
        ),
        (
            "object-id",
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}"#.into(),
        ),
        (
            "wrong-version",
            r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#.into(),
        ),
        (
            "named-params",
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{{"address":"{s}"}}}}"#),
        ),
        (
            "unknown-method",
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#.into(),
        ),
    ];
    seeds.extend(
        framing
            .into_iter()
            .map(|(name, body)| (name.to_string(), body.into_bytes())),
    );
    seeds
}

fn bundle_of(nonces: &[u64]) -> Bundle {
    Bundle {
        txs: nonces
            .iter()
            .map(|&n| std::sync::Arc::new(decode_raw_tx(&sender_tx(n)).expect("a seed tx decodes")))
            .collect(),
        block_number: 3,
        min_timestamp: None,
        max_timestamp: None,
        reverting_tx_hashes: Vec::new(),
        replacement_uuid: None,
        searcher: None,
    }
}

/// Stored records (a full and a bare one), and the bundle methods' arguments: a full bundle
/// signed and not, a cancellation by empty bundle, an extension Ordo refuses, a transaction
/// of another chain, `eth_callBundle`'s and `eth_cancelBundle`'s.
pub fn bundle() -> Seeds {
    let mut full = bundle_of(&[NEXT_NONCE, NEXT_NONCE + 2]);
    full.min_timestamp = Some(1);
    full.max_timestamp = Some(4_102_444_800);
    full.reverting_tx_hashes = vec![full.txs[1].hash];
    full.replacement_uuid = Some("0d2f9b4e-7f1c-4c8e-9a51-3f6b2a1c0e77".into());
    full.searcher = Some(node::searcher().address());
    let bare = bundle_of(&[NEXT_NONCE]);
    let next = sender_tx(NEXT_NONCE);
    let pending = sender_tx(PENDING_NONCE);
    let foreign = signed_tx(&node::sender(), 1, NEXT_NONCE);
    let uuid = r#""replacementUuid":"0d2f9b4e-7f1c-4c8e-9a51-3f6b2a1c0e77""#;
    let seeds: [(&str, u8, Vec<u8>); 10] = [
        ("record-full", 0, full.encode_record()),
        ("record-bare", 0, bare.encode_record()),
        (
            "send",
            1,
            format!(r#"{{"txs":["{next}"],"blockNumber":"0x3"}}"#).into_bytes(),
        ),
        ("send-signed", 0x81, full_bundle_json().into_bytes()),
        (
            "send-cancel",
            0x81,
            format!(r#"{{"txs":[],{uuid}}}"#).into_bytes(),
        ),
        (
            "send-refund",
            1,
            format!(r#"{{"txs":["{next}"],"refundPercent":10}}"#).into_bytes(),
        ),
        (
            "send-foreign",
            1,
            format!(r#"{{"txs":["{foreign}"],"blockNumber":"0x3"}}"#).into_bytes(),
        ),
        (
            "call",
            2,
            format!(r#"{{"txs":["{pending}"],"blockNumber":"0x3","stateBlockNumber":"latest","timestamp":1900000000}}"#)
                .into_bytes(),
        ),
        ("cancel-signed", 0x83, format!("{{{uuid}}}").into_bytes()),
        ("cancel", 3, format!("{{{uuid}}}").into_bytes()),
    ];
    seeds
        .into_iter()
        .map(|(name, selector, rest)| (name.to_string(), [&[selector][..], &rest].concat()))
        .collect()
}

/// A batch payload of the start-up chain's transactions, framed uncompressed and by every
/// shipped codec; and each codec's own output for the payload, for text and for nothing.
pub fn codec_decompress() -> Seeds {
    let block = |number: u64, nonces: std::ops::Range<u64>| BatchBlock {
        number,
        timestamp: 1_700_000_000 + number,
        parent_hash: B256::repeat_byte(number as u8),
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 30_000_000,
        base_fee: 1_000_000_000,
        extra_data: Bytes::from_static(b"ordo"),
        txs: nonces.map(sender_tx).collect(),
        beacon_root: (number == 2).then(|| B256::repeat_byte(0x4b)),
    };
    let payload = BatchPayload {
        blocks: vec![block(1, 0..5), block(2, 5..6)],
    }
    .encode();
    let header = BatchHeader {
        index: 0,
        first_block: 1,
        last_block: 2,
        last_block_hash: B256::repeat_byte(2),
        state_root: B256::repeat_byte(3),
        codec_id: CODEC_NONE,
        codec_hash: B256::ZERO,
        output_root: B256::repeat_byte(4),
    };
    let frame = |header: BatchHeader, data: Vec<u8>| {
        BatchFrame {
            header,
            data: data.into(),
        }
        .encode()
    };
    let mut seeds = vec![("none-frame".to_string(), frame(header, payload.clone()))];
    let text = b"ordo batch ".repeat(40);
    for codec in codecs::shipped() {
        let compress = |data: &[u8]| {
            codec
                .compress(data)
                .unwrap_or_else(|e| panic!("{} compresses a seed: {e}", codec.name()))
        };
        let name = codec.name();
        let header = BatchHeader {
            codec_id: codec.codec_id(),
            codec_hash: codec.code_hash(),
            ..header
        };
        seeds.push((format!("{name}-frame"), frame(header, compress(&payload))));
        seeds.push((format!("{name}-payload"), compress(&payload)));
        seeds.push((format!("{name}-text"), compress(&text)));
        seeds.push((format!("{name}-empty"), compress(&[])));
    }
    seeds
}

/// plugin_answers' input format (see the target), written front to back.
#[derive(Default)]
struct Answers(Vec<u8>);

impl Answers {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    /// Six candidates of two senders (sender 0 at 0, 2, 4; sender 1 at 1, 3, 5), 30 000 to
    /// 80 000 gas each, tips 1 to 6 gwei, under `gas_limit`.
    fn candidates(self, gas_limit: u32) -> Self {
        let mut w = self.u8(6).u8(1).u32(gas_limit);
        for i in 0..6u8 {
            w = w.u8(i % 2).u8(0).u16(900 + 1000 * u16::from(i)).u8(i + 1);
        }
        w
    }
    /// Two bundles: one of sender 1's next nonce on top of the block, one backrunning
    /// candidate 0.
    fn offers(self) -> Self {
        self.u8(2)
            .u8(0)
            .u8(1)
            .u8(3)
            .u8(0)
            .u16(50_000)
            .u32(1_000_000)
            .u8(0)
            .u8(0)
            .u8(9)
            .u8(1)
            .u16(21_000)
            .u32(7_000_000)
    }
    /// A searcher answer of one top-of-block bundle of one 120-byte transaction bidding 1 gwei.
    fn searcher(self) -> Self {
        self.u8(1)
            .u8(1)
            .u8(120)
            .u8(0)
            .u64(0)
            .u64(0)
            .u64(0)
            .u64(1_000_000_000)
    }
}

/// Accepted answers, and answers each check must refuse: a repeated index, an index out of
/// range, a sender's nonces reversed, more gas than the limit, a plan using a bundle twice,
/// and searcher answers over the contract's bounds.
pub fn plugin_answers() -> Seeds {
    let answer = |order: &[u8]| {
        Answers::default()
            .candidates(1_000_000)
            .u8(order.len() as u8)
            .bytes(order)
    };
    let plan = |w: Answers, steps: &[(u8, u8)]| {
        let mut w = w.offers().u8(steps.len() as u8);
        for &(kind, index) in steps {
            w = w.u8(kind).u8(index);
        }
        w
    };
    let ok_plan = [
        (1, 0),
        (0, 0),
        (1, 1),
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
        (0, 5),
    ];
    let seeds: [(&str, Answers); 8] = [
        (
            "accepted",
            plan(answer(&[1, 0, 3, 2, 5, 4]), &ok_plan).searcher(),
        ),
        ("duplicate", answer(&[0, 2, 0])),
        ("out-of-range", answer(&[0, 6])),
        ("nonce-order", answer(&[2, 0])),
        (
            "over-gas",
            Answers::default().candidates(40_000).u8(2).bytes(&[0, 1]),
        ),
        (
            "bundle-twice",
            plan(answer(&[0, 1]), &[(1, 0), (0, 0), (1, 0), (0, 1)]),
        ),
        (
            "searcher-oversized",
            plan(answer(&[]), &[])
                .u8(17)
                .u8(17)
                .bytes(&[2; 17])
                .u8(0)
                .u64(0)
                .u64(0)
                .u64(0)
                .u64(1),
        ),
        ("empty", Answers::default()),
    ];
    seeds
        .into_iter()
        .map(|(name, w)| (name.to_string(), w.0))
        .collect()
}
