//! Method shapes: quantities, defaults, call objects, errors.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::keccak256;
use serde_json::json;

use crate::{app, call, mock::block_hash, result};

const ALICE: &str = "0x0000000000000000000000000000000000000003";

#[tokio::test]
async fn static_methods_answer_like_geth() {
    let (_, router) = app();
    assert_eq!(result(&router, "net_version", json!([])).await, "31337");
    assert_eq!(result(&router, "net_listening", json!([])).await, true);
    assert_eq!(result(&router, "net_peerCount", json!([])).await, "0x0");
    assert_eq!(result(&router, "eth_syncing", json!([])).await, false);
    assert_eq!(result(&router, "eth_accounts", json!([])).await, json!([]));
    assert_eq!(
        result(&router, "eth_gasPrice", json!([])).await,
        "0x77359400"
    );
    assert_eq!(
        result(&router, "eth_maxPriorityFeePerGas", json!([])).await,
        "0x3b9aca00"
    );
    assert_eq!(
        result(&router, "web3_sha3", json!(["0x68656c6c6f"])).await,
        json!(keccak256(b"hello"))
    );
}

#[tokio::test]
async fn block_number_follows_the_head() {
    let (backend, router) = app();
    backend.mine(Vec::new());
    backend.mine(Vec::new());
    assert_eq!(result(&router, "eth_blockNumber", json!([])).await, "0x2");
}

#[tokio::test]
async fn state_reads_default_to_latest_and_accept_eip1898() {
    let (_, router) = app();
    assert_eq!(
        result(&router, "eth_getBalance", json!([ALICE])).await,
        "0x29a2241af62c0000"
    );
    let by_hash = json!([ALICE, {"blockHash": block_hash(0)}]);
    assert_eq!(
        result(&router, "eth_getBalance", by_hash).await,
        "0x29a2241af62c0000"
    );
    let response = call(&router, "eth_getBalance", json!([ALICE, "0x99"])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32001, "message": "header not found"})
    );

    assert_eq!(
        result(&router, "eth_getTransactionCount", json!([ALICE])).await,
        "0x5"
    );
    assert_eq!(
        result(
            &router,
            "eth_getTransactionCount",
            json!([ALICE, "pending"])
        )
        .await,
        "0x7"
    );
    assert_eq!(
        result(&router, "eth_getCode", json!([ALICE, "latest"])).await,
        "0x6000"
    );
    assert_eq!(
        result(&router, "eth_getStorageAt", json!([ALICE, "0x1", "latest"])).await,
        json!(format!("0x{}01", "00".repeat(31)))
    );
}

#[tokio::test]
async fn call_objects_accept_input_or_data_and_no_block() {
    let (backend, router) = app();
    assert_eq!(
        result(
            &router,
            "eth_call",
            json!([{"to": ALICE, "data": "0x1234"}])
        )
        .await,
        "0x1234"
    );
    let (_, at, overridden) = backend.last_call.lock().clone().unwrap();
    assert_eq!((at, overridden), (BlockId::latest(), false));

    let with_everything = json!([
        {"from": ALICE, "to": ALICE, "input": "0xabcd", "chainId": "0x7a69", "maxPriorityFeePerGas": "0x1"},
        "pending",
        {ALICE: {"balance": "0x1"}}
    ]);
    assert_eq!(result(&router, "eth_call", with_everything).await, "0xabcd");
    let (_, at, overridden) = backend.last_call.lock().clone().unwrap();
    assert_eq!((at, overridden), (BlockId::pending(), true));

    assert_eq!(
        result(
            &router,
            "eth_estimateGas",
            json!([{"to": ALICE, "input": "0x00"}])
        )
        .await,
        "0x5218"
    );
    let list = result(&router, "eth_createAccessList", json!([{"to": ALICE}])).await;
    assert_eq!(list, json!({"accessList": [], "gasUsed": "0x5208"}));
}

#[tokio::test]
async fn reverts_carry_code_3_and_data() {
    let (_, router) = app();
    let response = call(
        &router,
        "eth_call",
        json!([{"to": ALICE, "data": "0xdead"}]),
    )
    .await;
    assert_eq!(
        response["error"],
        json!({"code": 3, "message": "execution reverted: no way", "data": "0xdead"})
    );
}

#[tokio::test]
async fn send_raw_transaction_returns_the_hash_or_a_tx_error() {
    let (_, router) = app();
    assert_eq!(
        result(&router, "eth_sendRawTransaction", json!(["0x02f8"])).await,
        json!(keccak256([0x02, 0xf8]))
    );
    let response = call(&router, "eth_sendRawTransaction", json!(["0x"])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32000, "message": "typed transaction too short"})
    );
}

#[tokio::test]
async fn blocks_by_number_and_hash() {
    let (backend, router) = app();
    backend.mine(Vec::new());
    let block = result(&router, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(block["number"], "0x1");
    assert_eq!(block["hash"], json!(block_hash(1)));
    assert_eq!(block["transactions"], json!([]));
    assert_eq!(block["baseFeePerGas"], "0x3b9aca00");
    // fullTx omitted defaults to false; unknown blocks are null.
    assert_eq!(
        result(&router, "eth_getBlockByNumber", json!(["0x0"])).await["number"],
        "0x0"
    );
    assert_eq!(
        result(&router, "eth_getBlockByNumber", json!(["0x5", true])).await,
        json!(null)
    );
    let by_hash = result(&router, "eth_getBlockByHash", json!([block_hash(0), true])).await;
    assert_eq!(by_hash["number"], "0x0");
    assert_eq!(
        result(
            &router,
            "eth_getBlockTransactionCountByNumber",
            json!(["earliest"])
        )
        .await,
        "0x0"
    );
    assert_eq!(
        result(
            &router,
            "eth_getBlockTransactionCountByHash",
            json!([block_hash(9)])
        )
        .await,
        json!(null)
    );
    assert_eq!(
        result(&router, "eth_getUncleCountByBlockNumber", json!(["latest"])).await,
        "0x0"
    );
    assert_eq!(
        result(&router, "eth_getBlockReceipts", json!(["latest"])).await,
        json!([])
    );
    assert_eq!(
        result(&router, "eth_getTransactionByHash", json!([block_hash(0)])).await,
        json!(null)
    );
    assert_eq!(
        result(
            &router,
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["latest", "0x0"])
        )
        .await,
        json!(null)
    );
    assert_eq!(
        result(&router, "eth_getTransactionReceipt", json!([block_hash(0)])).await,
        json!(null)
    );
}

#[tokio::test]
async fn fee_history_accepts_decimal_counts_and_checks_percentiles() {
    let (backend, router) = app();
    let history = result(&router, "eth_feeHistory", json!([2, "latest", [25, 75]])).await;
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 3);
    let (count, newest, percentiles) = backend.last_fee_history.lock().clone().unwrap();
    assert_eq!(
        (count, newest, percentiles),
        (2, BlockNumberOrTag::Latest, Some(vec![25.0, 75.0]))
    );

    result(&router, "eth_feeHistory", json!(["0x10000", "latest"])).await;
    assert_eq!(
        backend.last_fee_history.lock().clone().unwrap().0,
        ordo_rpc::MAX_FEE_HISTORY_BLOCKS
    );

    let response = call(
        &router,
        "eth_feeHistory",
        json!(["0x2", "latest", [75, 25]]),
    )
    .await;
    assert_eq!(response["error"]["code"], -32602);
}

#[tokio::test]
async fn get_logs_passes_the_filter_through() {
    let (backend, router) = app();
    let token = alloy_primitives::Address::repeat_byte(0x11);
    let other = alloy_primitives::Address::repeat_byte(0x22);
    let topic = alloy_primitives::B256::repeat_byte(0x33);
    backend.mine(vec![(token, topic), (other, topic)]);
    let logs = result(
        &router,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "address": token}]),
    )
    .await;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["address"], json!(token));
    assert_eq!(logs[0]["blockNumber"], "0x1");
    assert_eq!(logs[0]["logIndex"], "0x0");
    assert_eq!(logs[0]["topics"], json!([topic]));
}

#[tokio::test]
async fn fee_history_allows_at_most_100_reward_percentiles() {
    let (backend, router) = app();
    let hundred: Vec<f64> = (0..100).map(f64::from).collect();
    result(&router, "eth_feeHistory", json!([1, "latest", hundred])).await;
    let many: Vec<f64> = (0..=100).map(f64::from).collect();
    *backend.last_fee_history.lock() = None;
    let response = call(&router, "eth_feeHistory", json!([1, "latest", many])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "invalid reward percentile: over the query limit 100"})
    );
    assert!(
        backend.last_fee_history.lock().is_none(),
        "refused before the backend"
    );
}

#[tokio::test]
async fn filter_criteria_over_geths_bounds_are_refused() {
    let (_, router) = app();
    let addresses: Vec<String> = (0..1001u32).map(|i| format!("0x{:040x}", i + 1)).collect();
    let topics: Vec<String> = (0..1001u32).map(|i| format!("0x{:064x}", i + 1)).collect();
    for method in ["eth_getLogs", "eth_newFilter"] {
        let response = call(&router, method, json!([{"address": addresses}])).await;
        assert_eq!(
            response["error"],
            json!({"code": -32602, "message": "invalid argument 0: exceed max addresses"}),
            "{method}"
        );
        let response = call(&router, method, json!([{"topics": [topics]}])).await;
        assert_eq!(
            response["error"],
            json!({"code": -32602, "message": "invalid argument 0: exceed max topics"}),
            "{method}"
        );
        result(&router, method, json!([{"address": addresses[..1000]}])).await;
    }
}
