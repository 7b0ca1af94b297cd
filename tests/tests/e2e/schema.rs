//! JSON-RPC result shapes against the result schemas of the Ethereum execution-apis OpenRPC
//! specification (github.com/ethereum/execution-apis, `src/schemas/*.yaml` and the
//! `eth_feeHistory` result in `src/eth/fee_market.yaml`).
//!
//! The spec is not vendored: below is our own compact table of field -> kind (and
//! required/optional) per object type, checked with plain character tests (no regex). The
//! kinds mirror the spec's base types:
//!
//! | kind     | spec pattern                            |
//! |----------|-----------------------------------------|
//! | uint     | `0x` then `0` or lowercase hex, no leading zero |
//! | uint256  | `0x` + 64 lowercase hex digits          |
//! | hash32   | `0x` + 64 lowercase hex digits (bytes32) |
//! | bytes    | `0x` + lowercase hex digits             |
//! | bytes8   | `0x` + 16 lowercase hex digits          |
//! | bytes256 | `0x` + 512 lowercase hex digits         |
//! | address  | `0x` + 40 hex digits, either case       |
//! | byte     | `0x` + 1 or 2 hex digits, either case   |
//!
//! Objects the spec marks `additionalProperties: false` (receipt, log, access list entry,
//! fee history) also reject unknown fields. Every mismatch is collected with its JSON path
//! and the test fails once, listing them all.
//!
//! Flow: a hand-signed EIP-1559 transfer, a hand-signed legacy (EIP-155) transfer, a
//! contract deploy (to = null) and a `set()` call that emits a log; then the raw JSON of
//! eth_getTransactionByHash, eth_getTransactionReceipt, eth_getBlockByNumber (hashes and
//! full txs), eth_getBlockReceipts, eth_feeHistory and eth_getLogs is validated.

use std::collections::BTreeSet;

use alloy::{
    consensus::TxLegacy,
    network::TransactionBuilder,
    primitives::{B256, Bytes, TxKind, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

// ---------------------------------------------------------------------------------------------
// The schema table
// ---------------------------------------------------------------------------------------------

/// The kind of one JSON value.
#[derive(Debug, Clone, Copy)]
enum K {
    Uint,
    Uint256,
    Hash32,
    Bytes,
    Bytes8,
    Bytes256,
    Address,
    Byte,
    Bool,
    /// A JSON number (the fee history's gas used ratios).
    Ratio,
    /// A string equal to this one (the `type` tag of a tx schema).
    Exact(&'static str),
    /// `null` or the inner kind.
    OrNull(&'static K),
    /// An array of the inner kind.
    List(&'static K),
    /// An array whose items this table does not describe.
    AnyList,
    /// A nested object.
    Obj(&'static Schema),
    /// A signed transaction (`TransactionSigned`: dispatched on its `type`), optionally
    /// with the `TransactionInfo` context fields.
    Tx {
        info_required: bool,
    },
}

/// Required / optional.
const R: bool = true;
const O: bool = false;

/// One field: name, kind, required.
struct F(&'static str, K, bool);

/// An object type.
struct Schema {
    name: &'static str,
    fields: &'static [F],
    /// `additionalProperties: false`.
    closed: bool,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const TO_OR_NULL: K = K::OrNull(&K::Address);

const ACCESS_ENTRY: Schema = Schema {
    name: "AccessListEntry",
    closed: true,
    fields: &[
        F("address", K::Address, R),
        F("storageKeys", K::List(&K::Hash32), R),
    ],
};
const ACCESS_LIST: K = K::List(&K::Obj(&ACCESS_ENTRY));

const AUTHORIZATION: Schema = Schema {
    name: "Authorization",
    closed: false,
    fields: &[
        F("chainId", K::Uint, R),
        F("nonce", K::Uint, R),
        F("address", K::Address, R),
        F("yParity", K::Byte, R),
        F("r", K::Uint256, R),
        F("s", K::Uint256, R),
    ],
};

const TX_LEGACY: Schema = Schema {
    name: "TransactionLegacySigned",
    closed: false,
    fields: &[
        F("type", K::Exact("0x0"), R),
        F("nonce", K::Uint, R),
        F("to", TO_OR_NULL, O),
        F("gas", K::Uint, R),
        F("value", K::Uint, R),
        F("input", K::Bytes, R),
        F("gasPrice", K::Uint, R),
        F("chainId", K::Uint, O),
        F("v", K::Uint, R),
        F("r", K::Uint, R),
        F("s", K::Uint, R),
    ],
};

const TX_2930: Schema = Schema {
    name: "Transaction2930Signed",
    closed: false,
    fields: &[
        F("type", K::Exact("0x1"), R),
        F("nonce", K::Uint, R),
        F("to", TO_OR_NULL, O),
        F("gas", K::Uint, R),
        F("value", K::Uint, R),
        F("input", K::Bytes, R),
        F("gasPrice", K::Uint, R),
        F("accessList", ACCESS_LIST, R),
        F("chainId", K::Uint, R),
        F("yParity", K::Byte, R),
        F("v", K::Byte, O),
        F("r", K::Uint, R),
        F("s", K::Uint, R),
    ],
};

const TX_1559: Schema = Schema {
    name: "Transaction1559Signed",
    closed: false,
    fields: &[
        F("type", K::Exact("0x2"), R),
        F("nonce", K::Uint, R),
        F("to", TO_OR_NULL, O),
        F("gas", K::Uint, R),
        F("value", K::Uint, R),
        F("input", K::Bytes, R),
        F("maxFeePerGas", K::Uint, R),
        F("maxPriorityFeePerGas", K::Uint, R),
        F("gasPrice", K::Uint, R),
        F("accessList", ACCESS_LIST, R),
        F("chainId", K::Uint, R),
        F("yParity", K::Byte, R),
        F("v", K::Byte, O),
        F("r", K::Uint, R),
        F("s", K::Uint, R),
    ],
};

const TX_7702: Schema = Schema {
    name: "Transaction7702Signed",
    closed: false,
    fields: &[
        F("type", K::Exact("0x4"), R),
        F("nonce", K::Uint, R),
        F("to", K::Address, R),
        F("gas", K::Uint, R),
        F("value", K::Uint, R),
        F("input", K::Bytes, R),
        F("maxPriorityFeePerGas", K::Uint, R),
        F("maxFeePerGas", K::Uint, R),
        F("gasPrice", K::Uint, O),
        F("accessList", ACCESS_LIST, R),
        F("chainId", K::Uint, R),
        F("authorizationList", K::List(&K::Obj(&AUTHORIZATION)), R),
        F("yParity", K::Byte, R),
        F("v", K::Byte, O),
        F("r", K::Uint, R),
        F("s", K::Uint, R),
    ],
};

/// `TransactionInfo`'s contextual part (eth_getTransactionByHash & co: all required).
const TX_INFO: Schema = Schema {
    name: "TransactionInfo",
    closed: false,
    fields: &[
        F("blockHash", K::Hash32, R),
        F("blockNumber", K::Uint, R),
        F("blockTimestamp", K::Uint, R),
        F("from", K::Address, R),
        F("hash", K::Hash32, R),
        F("transactionIndex", K::Uint, R),
    ],
};

/// The same fields where the spec only asks for `TransactionSigned` (a block's full txs):
/// checked when present.
const TX_INFO_OPTIONAL: Schema = Schema {
    name: "TransactionInfo (optional in blocks)",
    closed: false,
    fields: &[
        F("blockHash", K::Hash32, O),
        F("blockNumber", K::Uint, O),
        F("blockTimestamp", K::Uint, O),
        F("from", K::Address, O),
        F("hash", K::Hash32, O),
        F("transactionIndex", K::Uint, O),
    ],
};

const BLOCK: Schema = Schema {
    name: "Block",
    closed: false,
    fields: &[
        F("parentHash", K::Hash32, R),
        F("sha3Uncles", K::Hash32, R),
        F("miner", K::Address, R),
        F("stateRoot", K::Hash32, R),
        F("transactionsRoot", K::Hash32, R),
        F("receiptsRoot", K::Hash32, R),
        F("logsBloom", K::Bytes256, R),
        F("difficulty", K::Bytes, O),
        F("number", K::Uint, R),
        F("gasLimit", K::Uint, R),
        F("gasUsed", K::Uint, R),
        F("timestamp", K::Uint, R),
        F("extraData", K::Bytes, R),
        F("mixHash", K::Hash32, R),
        F("nonce", K::Bytes8, R),
        F("totalDifficulty", K::Uint, O),
        F("baseFeePerGas", K::Uint, O),
        F("withdrawalsRoot", K::Hash32, O),
        F("size", K::Uint, R),
        // Items checked separately (hashes or full txs, depending on the request).
        F("transactions", K::AnyList, R),
        F("withdrawals", K::AnyList, O),
        F("uncles", K::List(&K::Hash32), R),
        // Not in block.yaml's property list (which leaves extra properties open), but every
        // client returns it: checked as a hash32 when present.
        F("hash", K::Hash32, O),
    ],
};

const LOG: Schema = Schema {
    name: "Log",
    closed: true,
    fields: &[
        F("removed", K::Bool, O),
        F("logIndex", K::Uint, O),
        F("transactionIndex", K::Uint, O),
        F("transactionHash", K::Hash32, R),
        F("blockHash", K::Hash32, O),
        F("blockNumber", K::Uint, O),
        F("blockTimestamp", K::Uint, O),
        F("address", K::Address, O),
        F("data", K::Bytes, O),
        F("topics", K::List(&K::Hash32), O),
    ],
};

const RECEIPT_INFO: Schema = Schema {
    name: "ReceiptInfo",
    closed: true,
    fields: &[
        F("type", K::Byte, O),
        F("transactionHash", K::Hash32, R),
        F("transactionIndex", K::Uint, R),
        F("blockHash", K::Hash32, R),
        F("blockNumber", K::Uint, R),
        F("from", K::Address, R),
        F("to", TO_OR_NULL, O),
        F("cumulativeGasUsed", K::Uint, R),
        F("gasUsed", K::Uint, R),
        F("blobGasUsed", K::Uint, O),
        F("contractAddress", TO_OR_NULL, O),
        F("logs", K::List(&K::Obj(&LOG)), R),
        F("logsBloom", K::Bytes256, R),
        F("root", K::Hash32, O),
        F("status", K::Uint, O),
        F("payer", K::Address, O),
        F("frameReceipts", K::AnyList, O),
        F("effectiveGasPrice", K::Uint, R),
        F("blobGasPrice", K::Uint, O),
    ],
};

const FEE_HISTORY: Schema = Schema {
    name: "feeHistoryResults",
    closed: true,
    fields: &[
        F("oldestBlock", K::Uint, R),
        F("baseFeePerGas", K::List(&K::Uint), R),
        F("baseFeePerBlobGas", K::List(&K::Uint), O),
        F("gasUsedRatio", K::List(&K::Ratio), R),
        F("blobGasUsedRatio", K::List(&K::Ratio), O),
        F("reward", K::List(&K::List(&K::Uint)), O),
    ],
};

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

fn lower_hex(c: char) -> bool {
    c.is_ascii_digit() || ('a'..='f').contains(&c)
}

/// `0x` + `len` (or any number of, if `None`) digits accepted by `digit`.
fn hex_str(s: &str, len: Option<usize>, digit: fn(char) -> bool) -> bool {
    let Some(body) = s.strip_prefix("0x") else {
        return false;
    };
    len.is_none_or(|n| body.len() == n) && body.chars().all(digit)
}

fn is_uint(s: &str) -> bool {
    let Some(body) = s.strip_prefix("0x") else {
        return false;
    };
    body == "0" || (!body.is_empty() && !body.starts_with('0') && body.chars().all(lower_hex))
}

/// Checks `v` against `k`; appends `path: problem (got …)` to `errs` for every mismatch.
fn check(v: &Value, k: K, path: &str, errs: &mut Vec<String>) {
    let mut bad = |what: &str| errs.push(format!("{path}: expected {what}, got {v}"));
    let s = v.as_str();
    let string_ok = |f: &dyn Fn(&str) -> bool| s.is_some_and(f);
    match k {
        K::Uint => {
            if !string_ok(&is_uint) {
                bad("uint (0x, no leading zeros, lowercase)")
            }
        }
        K::Uint256 => {
            if !string_ok(&|s| hex_str(s, Some(64), lower_hex)) {
                bad("uint256 (0x + 64 lowercase hex)")
            }
        }
        K::Hash32 => {
            if !string_ok(&|s| hex_str(s, Some(64), lower_hex)) {
                bad("hash32 (0x + 64 lowercase hex)")
            }
        }
        K::Bytes => {
            if !string_ok(&|s| hex_str(s, None, lower_hex)) {
                bad("bytes (0x + lowercase hex)")
            }
        }
        K::Bytes8 => {
            if !string_ok(&|s| hex_str(s, Some(16), lower_hex)) {
                bad("bytes8 (0x + 16 lowercase hex)")
            }
        }
        K::Bytes256 => {
            if !string_ok(&|s| hex_str(s, Some(512), lower_hex)) {
                bad("bytes256 (0x + 512 lowercase hex)")
            }
        }
        K::Address => {
            if !string_ok(&|s| hex_str(s, Some(40), |c| c.is_ascii_hexdigit())) {
                bad("address (0x + 40 hex)")
            }
        }
        K::Byte => {
            let ok = s.is_some_and(|s| {
                s.strip_prefix("0x").is_some_and(|b| {
                    (1..=2).contains(&b.len()) && b.chars().all(|c| c.is_ascii_hexdigit())
                })
            });
            if !ok {
                bad("byte (0x + 1-2 hex)")
            }
        }
        K::Bool => {
            if !v.is_boolean() {
                bad("boolean")
            }
        }
        K::Ratio => {
            if !v.as_f64().is_some_and(|x| x.is_finite() && x >= 0.0) {
                bad("a non-negative number")
            }
        }
        K::Exact(want) => {
            if s != Some(want) {
                bad(&format!("{want:?}"))
            }
        }
        K::OrNull(inner) => {
            if !v.is_null() {
                check(v, *inner, path, errs)
            }
        }
        K::List(inner) => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(item, *inner, &format!("{path}[{i}]"), errs);
                }
            }
            None => bad("array"),
        },
        K::AnyList => {
            if !v.is_array() {
                bad("array")
            }
        }
        K::Obj(schema) => check_obj(v, schema, path, errs),
        K::Tx { info_required } => check_tx(v, info_required, path, errs),
    }
}

fn check_obj(v: &Value, schema: &Schema, path: &str, errs: &mut Vec<String>) {
    let Some(obj) = v.as_object() else {
        errs.push(format!(
            "{path}: expected a {} object, got {v}",
            schema.name
        ));
        return;
    };
    for F(name, kind, required) in schema.fields {
        match obj.get(*name) {
            Some(field) => check(field, *kind, &format!("{path}.{name}"), errs),
            None if *required => errs.push(format!(
                "{path}.{name}: missing (required by {})",
                schema.name
            )),
            None => {}
        }
    }
    if schema.closed {
        for (key, field) in obj {
            if !schema.fields.iter().any(|f| f.0 == key) {
                errs.push(format!(
                    "{path}.{key}: not allowed ({} has additionalProperties: false), got {field}",
                    schema.name
                ));
            }
        }
    }
}

fn check_tx(v: &Value, info_required: bool, path: &str, errs: &mut Vec<String>) {
    let info = if info_required {
        &TX_INFO
    } else {
        &TX_INFO_OPTIONAL
    };
    check_obj(v, info, path, errs);
    let schema = match v.get("type").and_then(Value::as_str) {
        Some("0x0") => &TX_LEGACY,
        Some("0x1") => &TX_2930,
        Some("0x2") => &TX_1559,
        Some("0x4") => &TX_7702,
        other => {
            errs.push(format!(
                "{path}.type: expected one of 0x0/0x1/0x2/0x4 (the types this test covers), got {other:?}"
            ));
            return;
        }
    };
    check_obj(v, schema, path, errs);
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_match_execution_apis_schemas() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let alice = dev_signer(0);
            let p = node.provider(&alice);
            let rpc = node.rpc();
            let nonce = p.get_transaction_count(alice.address()).await?;
            let bob = random_address();

            // A hand-signed EIP-1559 transfer and a hand-signed legacy (EIP-155) transfer.
            let (raw1559, h1559) = sign_raw(
                &alice,
                transfer_1559(
                    DEV_CHAIN_ID,
                    nonce,
                    bob,
                    U256::from(ETHER),
                    100 * GWEI,
                    GWEI,
                ),
            );
            let legacy = TxLegacy {
                chain_id: Some(DEV_CHAIN_ID),
                nonce: nonce + 1,
                gas_price: 100 * GWEI,
                gas_limit: 21_000,
                to: TxKind::Call(bob),
                value: U256::from(1),
                input: Bytes::new(),
            };
            let (raw_legacy, h_legacy) = sign_raw(&alice, legacy);
            for (raw, h) in [(&raw1559, h1559), (&raw_legacy, h_legacy)] {
                let got = rpc
                    .send_raw(raw)
                    .await?
                    .map_err(|e| eyre!("send {h}: {e}"))?;
                ensure!(got == h, "node's tx hash {got} != signed hash {h}");
            }

            // A contract deploy (to = null), then set() emits a Set log (another account, so
            // alloy's nonce filler does not race the hand-signed txs).
            let carol = dev_signer(1);
            let pc = node.provider(&carol);
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let h_deploy = *pc.send_transaction(deploy).await?.tx_hash();
            let dr = wait_receipt(&pc, h_deploy, RECEIPT).await?;
            ensure!(dr.status(), "deploy reverted");
            let store_addr = dr
                .contract_address
                .ok_or_else(|| eyre!("deploy receipt without contractAddress"))?;
            let store = Store::new(store_addr, pc.clone());
            let h_set = *store.set(U256::from(42)).send().await?.tx_hash();

            let hashes: [B256; 4] = [h1559, h_legacy, h_deploy, h_set];
            let mut blocks = BTreeSet::new();
            for h in hashes {
                let r = wait_receipt(&p, h, RECEIPT).await?;
                ensure!(r.status(), "{h} reverted");
                blocks.insert(r.block_number.ok_or_else(|| eyre!("no blockNumber"))?);
            }
            let set_receipt = wait_receipt(&p, h_set, RECEIPT).await?;
            ensure!(
                set_receipt.inner.logs().len() == 1,
                "set() should emit exactly one log"
            );

            let mut errs = Vec::new();

            // Transactions and receipts, one by one.
            let mut types = BTreeSet::new();
            for h in hashes {
                let tx: Value = rpc.ok("eth_getTransactionByHash", json!([h])).await?;
                check(
                    &tx,
                    K::Tx {
                        info_required: true,
                    },
                    &format!("eth_getTransactionByHash({h})"),
                    &mut errs,
                );
                types.insert(tx["type"].to_string());
                let r: Value = rpc.ok("eth_getTransactionReceipt", json!([h])).await?;
                check_obj(
                    &r,
                    &RECEIPT_INFO,
                    &format!("eth_getTransactionReceipt({h})"),
                    &mut errs,
                );
            }
            ensure!(
                types.contains("\"0x0\"") && types.contains("\"0x2\""),
                "expected a legacy and an EIP-1559 tx, got types {types:?}"
            );

            // Blocks (genesis, the blocks holding our txs, latest), with hashes and with full
            // txs, and their receipts.
            let mut tags: Vec<String> = vec!["0x0".into()];
            tags.extend(blocks.iter().map(|n| format!("{n:#x}")));
            tags.push("latest".into());
            for tag in &tags {
                let b: Value = rpc.ok("eth_getBlockByNumber", json!([tag, false])).await?;
                let path = format!("eth_getBlockByNumber({tag}, false)");
                check_obj(&b, &BLOCK, &path, &mut errs);
                check(
                    &b["transactions"],
                    K::List(&K::Hash32),
                    &format!("{path}.transactions"),
                    &mut errs,
                );

                let b: Value = rpc.ok("eth_getBlockByNumber", json!([tag, true])).await?;
                let path = format!("eth_getBlockByNumber({tag}, true)");
                check_obj(&b, &BLOCK, &path, &mut errs);
                check(
                    &b["transactions"],
                    K::List(&K::Tx {
                        info_required: false,
                    }),
                    &format!("{path}.transactions"),
                    &mut errs,
                );

                let rs: Value = rpc.ok("eth_getBlockReceipts", json!([tag])).await?;
                check(
                    &rs,
                    K::List(&K::Obj(&RECEIPT_INFO)),
                    &format!("eth_getBlockReceipts({tag})"),
                    &mut errs,
                );
            }

            // Fee history, with and without reward percentiles.
            for params in [
                json!(["0x4", "latest", [25.0, 75.0]]),
                json!(["0x2", "latest", []]),
            ] {
                let fh: Value = rpc.ok("eth_feeHistory", params.clone()).await?;
                check_obj(
                    &fh,
                    &FEE_HISTORY,
                    &format!("eth_feeHistory({params})"),
                    &mut errs,
                );
            }

            // Logs, by range and by block hash; our Set log must be among them.
            let set_block = set_receipt
                .block_hash
                .ok_or_else(|| eyre!("set receipt without blockHash"))?;
            for filter in [
                json!({"fromBlock": "0x0", "toBlock": "latest"}),
                json!({"blockHash": set_block, "address": store_addr}),
            ] {
                let logs: Value = rpc.ok("eth_getLogs", json!([filter])).await?;
                ensure!(
                    logs.as_array()
                        .is_some_and(|l| l.iter().any(|x| x["transactionHash"] == json!(h_set))),
                    "eth_getLogs({filter}) lacks the Set log: {logs}"
                );
                check(
                    &logs,
                    K::List(&K::Obj(&LOG)),
                    &format!("eth_getLogs({filter})"),
                    &mut errs,
                );
            }

            ensure!(
                errs.is_empty(),
                "{} result(s) violate the execution-apis schemas:\n  {}",
                errs.len(),
                errs.join("\n  ")
            );
            Ok(())
        })
        .await
}

#[test]
fn checker_rejects_what_the_spec_rejects() {
    let mut errs = Vec::new();
    for good in ["0x0", "0x1", "0xabc"] {
        check(&json!(good), K::Uint, "ok", &mut errs);
    }
    check(
        &json!(format!("0x{}", "ab".repeat(32))),
        K::Hash32,
        "ok",
        &mut errs,
    );
    check(
        &json!(format!("0x{}", "aB".repeat(20))),
        K::Address,
        "ok",
        &mut errs,
    );
    check(&json!("0x"), K::Bytes, "ok", &mut errs);
    check(&json!("0x1b"), K::Byte, "ok", &mut errs);
    check(&Value::Null, TO_OR_NULL, "ok", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");

    let bad: &[(Value, K)] = &[
        (json!("0x"), K::Uint),
        (json!("0x01"), K::Uint),
        (json!("0xA"), K::Uint),
        (json!("1"), K::Uint),
        (json!(1), K::Uint),
        (json!(format!("0x{}", "AB".repeat(32))), K::Hash32),
        (json!(format!("0x{}", "ab".repeat(31))), K::Hash32),
        (json!(format!("0x{}", "ab".repeat(19))), K::Address),
        (json!("0xAB"), K::Bytes),
        (json!("0x123"), K::Byte),
        (json!("0x0000000000000000"), K::Bytes256),
        (json!("0x1"), K::Exact("0x2")),
        (json!("true"), K::Bool),
    ];
    for (v, k) in bad {
        let before = errs.len();
        check(v, *k, "bad", &mut errs);
        assert_eq!(errs.len(), before + 1, "{v} accepted as {k:?}");
    }

    let mut errs = Vec::new();
    check_obj(
        &json!({"transactionHash": format!("0x{}", "00".repeat(32)), "extra": 1}),
        &LOG,
        "log",
        &mut errs,
    );
    check_obj(&json!({}), &LOG, "log", &mut errs);
    assert_eq!(errs.len(), 2, "{errs:?}");
}
