//! Polling filters.

use std::time::Duration;

use alloy_primitives::{Address, B256};
use ordo_rpc::RpcConfig;
use serde_json::json;

use crate::{app, app_with, call, mock::block_hash, result};

#[tokio::test]
async fn block_filter_reports_each_new_block_once() {
    let (backend, router) = app();
    let id = result(&router, "eth_newBlockFilter", json!([])).await;
    let id = id.as_str().unwrap().to_owned();
    assert!(id.starts_with("0x") && id.len() == 34, "{id}");
    assert_eq!(
        result(&router, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );
    backend.mine(Vec::new());
    backend.mine(Vec::new());
    assert_eq!(
        result(&router, "eth_getFilterChanges", json!([id])).await,
        json!([block_hash(1), block_hash(2)])
    );
    assert_eq!(
        result(&router, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );
    assert_eq!(
        result(&router, "eth_uninstallFilter", json!([id])).await,
        true
    );
    assert_eq!(
        result(&router, "eth_uninstallFilter", json!([id])).await,
        false
    );
    let response = call(&router, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32000, "message": "filter not found"})
    );
}

#[tokio::test]
async fn log_filter_reports_new_matching_logs_and_all_logs_on_demand() {
    let (backend, router) = app();
    let token = Address::repeat_byte(0x11);
    let transfer = B256::repeat_byte(0xaa);
    backend.mine(vec![(token, transfer)]); // before the filter: not a change
    let id = result(
        &router,
        "eth_newFilter",
        json!([{"fromBlock": "0x0", "address": token, "topics": [transfer]}]),
    )
    .await;
    backend.mine(vec![
        (token, transfer),
        (Address::repeat_byte(0x99), transfer),
        (token, B256::ZERO),
    ]);
    let changes = result(&router, "eth_getFilterChanges", json!([id])).await;
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["blockNumber"], "0x2");
    assert_eq!(
        result(&router, "eth_getFilterChanges", json!([id])).await,
        json!([])
    );
    // The whole range: both matching logs.
    let all = result(&router, "eth_getFilterLogs", json!([id])).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pending_filter_collects_announced_hashes() {
    let (backend, router) = app();
    let id = result(&router, "eth_newPendingTransactionFilter", json!([])).await;
    // The pump task subscribes when the first filter is installed.
    for byte in 1..=3u8 {
        backend.announce_pending(B256::repeat_byte(byte));
    }
    let mut seen = Vec::new();
    for _ in 0..50 {
        let changes = result(&router, "eth_getFilterChanges", json!([id])).await;
        seen.extend(changes.as_array().unwrap().iter().cloned());
        if seen.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen,
        vec![
            json!(B256::repeat_byte(1)),
            json!(B256::repeat_byte(2)),
            json!(B256::repeat_byte(3))
        ]
    );
    // getFilterLogs is for log filters only.
    assert_eq!(
        call(&router, "eth_getFilterLogs", json!([id])).await["error"]["message"],
        "filter not found"
    );
}

#[tokio::test]
async fn unpolled_filters_expire() {
    let config = RpcConfig {
        filter_timeout: Duration::from_millis(50),
        ..RpcConfig::default()
    };
    let (_, router) = app_with(config);
    let id = result(&router, "eth_newBlockFilter", json!([])).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let response = call(&router, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(response["error"]["message"], "filter not found");
}

#[tokio::test]
async fn filter_count_is_bounded() {
    let config = RpcConfig {
        max_filters: 2,
        ..RpcConfig::default()
    };
    let (_, router) = app_with(config);
    result(&router, "eth_newBlockFilter", json!([])).await;
    result(&router, "eth_newBlockFilter", json!([])).await;
    let response = call(&router, "eth_newBlockFilter", json!([])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32005, "message": "too many filters"})
    );
}
