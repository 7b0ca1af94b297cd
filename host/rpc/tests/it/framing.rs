//! JSON-RPC 2.0 framing, geth's way.

use std::sync::{Arc, atomic::Ordering};

use axum::http::StatusCode;
use ordo_rpc::RpcConfig;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::{app, app_with, call, post, post_raw};

#[tokio::test]
async fn single_call_echoes_id_and_version() {
    let (_, router) = app();
    let response = post(
        &router,
        json!({"jsonrpc": "2.0", "id": "abc", "method": "eth_chainId", "params": []}),
    )
    .await;
    assert_eq!(
        response,
        json!({"jsonrpc": "2.0", "id": "abc", "result": "0x7a69"})
    );
}

#[tokio::test]
async fn missing_params_member_is_accepted() {
    let (_, router) = app();
    let response = post(
        &router,
        json!({"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber"}),
    )
    .await;
    assert_eq!(
        response,
        json!({"jsonrpc": "2.0", "id": 7, "result": "0x0"})
    );
}

#[tokio::test]
async fn null_id_is_a_call_not_a_notification() {
    let (_, router) = app();
    let response = post(
        &router,
        json!({"jsonrpc": "2.0", "id": null, "method": "net_version"}),
    )
    .await;
    assert_eq!(
        response,
        json!({"jsonrpc": "2.0", "id": null, "result": "31337"})
    );
}

#[tokio::test]
async fn invalid_json_is_a_parse_error_with_null_id() {
    let (_, router) = app();
    for body in [r#"{"jsonrpc":"2.0","id":1,"#, "[{]", "nonsense"] {
        let (status, text) = post_raw(&router, body).await;
        assert_eq!(status, StatusCode::OK);
        let response: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            response,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}),
            "{body}"
        );
    }
}

#[tokio::test]
async fn wrong_shapes_are_invalid_requests() {
    let (_, router) = app();
    // Not an object, no method, wrong version, object id.
    for (body, id) in [
        (json!(42), json!(null)),
        (json!({"jsonrpc": "2.0", "id": 3}), json!(3)),
        (
            json!({"jsonrpc": "1.0", "id": 4, "method": "eth_chainId"}),
            json!(4),
        ),
        (
            json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "eth_chainId"}),
            json!(null),
        ),
    ] {
        let response = post(&router, body.clone()).await;
        assert_eq!(response["error"]["code"], -32600, "{body}");
        assert_eq!(response["error"]["message"], "invalid request", "{body}");
        assert_eq!(response["id"], id, "{body}");
    }
}

#[tokio::test]
async fn unknown_method_uses_geths_message() {
    let (_, router) = app();
    let response = call(&router, "eth_frobnicate", json!([])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32601, "message": "the method eth_frobnicate does not exist/is not available"})
    );
}

#[tokio::test]
async fn bad_params_say_what_was_wrong() {
    let (_, router) = app();
    let response = call(&router, "eth_getBalance", json!(["0x1234"])).await;
    assert_eq!(response["error"]["code"], -32602);
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("invalid argument 0:"), "{message}");

    let response = call(&router, "eth_getBalance", json!([])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "missing value for required argument 0"})
    );

    let response = call(&router, "eth_blockNumber", json!({"named": true})).await;
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "non-array args"})
    );

    let response = call(
        &router,
        "eth_getCode",
        json!(["0x0000000000000000000000000000000000000001", "latest", 3]),
    )
    .await;
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "too many arguments, want at most 2"})
    );
}

#[tokio::test]
async fn batch_answers_in_order_and_skips_notifications() {
    let (_, router) = app();
    let response = post(
        &router,
        json!([
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "method": "eth_blockNumber"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope_nope"},
            17,
            {"jsonrpc": "2.0", "id": "three", "method": "web3_clientVersion", "params": []}
        ]),
    )
    .await;
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 4, "{response}");
    assert_eq!(
        entries[0],
        json!({"jsonrpc": "2.0", "id": 1, "result": "0x7a69"})
    );
    assert_eq!(entries[1]["id"], 2);
    assert_eq!(entries[1]["error"]["code"], -32601);
    assert_eq!(
        entries[2],
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "invalid request"}})
    );
    assert_eq!(entries[3]["id"], "three");
    assert_eq!(entries[3]["result"], ordo_primitives::CLIENT_VERSION);
}

#[tokio::test]
async fn notifications_get_no_response_body() {
    let (backend, router) = app();
    let (status, body) = post_raw(
        &router,
        r#"{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["0x01"]}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    // The notification still ran.
    assert_eq!(backend.sent.load(std::sync::atomic::Ordering::Relaxed), 1);
    let (status, body) = post_raw(
        &router,
        r#"[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"}]"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
}

#[tokio::test]
async fn empty_batch_is_a_single_error() {
    let (_, router) = app();
    let response = post(&router, json!([])).await;
    assert_eq!(
        response,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "empty batch"}})
    );
}

#[tokio::test]
async fn batch_over_the_limit_is_refused() {
    let (_, router) = app_with(RpcConfig {
        max_batch_len: 2,
        ..RpcConfig::default()
    });
    let call = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "eth_chainId"});
    let response = post(&router, json!([call(5), call(6), call(7)])).await;
    assert_eq!(
        response,
        json!([{"jsonrpc": "2.0", "id": 5, "error": {"code": -32600, "message": "batch too large"}}])
    );
    assert_eq!(
        post(&router, json!([call(5), call(6)]))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn oversized_body_is_rejected_with_413() {
    let (_, router) = app_with(RpcConfig {
        max_body_bytes: 64,
        ..RpcConfig::default()
    });
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "web3_sha3", "params": [format!("0x{}", "00".repeat(64))]});
    let (status, _) = post_raw(&router, body.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn batched_sends_run_concurrently() {
    let (backend, router) = app();
    // Each send waits until all three are inside the backend: sequential handling would time out.
    *backend.send_barrier.lock() = Some(Arc::new(Barrier::new(3)));
    let send = |id: u64, raw: &str| json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw]});
    let response = post(
        &router,
        json!([send(1, "0x01"), send(2, "0x02"), send(3, "0x03")]),
    )
    .await;
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["id"], i as u64 + 1, "{response}");
        let raw = [i as u8 + 1];
        assert_eq!(
            entry["result"],
            json!(alloy_primitives::keccak256(raw)),
            "{response}"
        );
    }
}

#[tokio::test]
async fn internal_errors_are_not_leaked() {
    let (_, router) = app();
    let response = call(&router, "eth_call", json!([{"data": "0xbad0"}])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32603, "message": "internal error"})
    );
}

#[tokio::test]
async fn subscriptions_are_not_available_over_http() {
    let (_, router) = app();
    let response = call(&router, "eth_subscribe", json!(["newHeads"])).await;
    assert_eq!(
        response["error"],
        json!({"code": -32601, "message": "notifications not supported"})
    );
}

#[tokio::test]
async fn health_answers_ok() {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;
    let (_, router) = app();
    let response = router
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 16)
        .await
        .unwrap();
    assert_eq!(&body[..], b"ok");
}

#[tokio::test]
async fn a_huge_batch_is_refused_before_it_is_read_to_the_end() {
    let (backend, router) = app();
    // 1001 calls, then bytes that are not JSON at all: reading stops at the 1001st entry, so
    // the answer is "batch too large", not a parse error of the whole body.
    let calls: Vec<String> = (0..1001)
        .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"eth_sendRawTransaction","params":["0x01"]}}"#))
        .collect();
    let body = format!("[{}, this is not JSON", calls.join(","));
    let (status, text) = post_raw(&router, body).await;
    assert_eq!(status, StatusCode::OK);
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        response,
        json!([{"jsonrpc": "2.0", "id": 0, "error": {"code": -32600, "message": "batch too large"}}])
    );
    assert_eq!(backend.sent.load(Ordering::Relaxed), 0, "nothing ran");
}

#[tokio::test]
async fn batch_entries_run_a_bounded_number_at_a_time() {
    let (backend, router) = app();
    *backend.send_delay.lock() = Some(std::time::Duration::from_millis(20));
    let calls: Vec<Value> = (0..300)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x01"]}))
        .collect();
    let response = post(&router, Value::Array(calls)).await;
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 300);
    assert!(
        entries
            .iter()
            .enumerate()
            .all(|(i, e)| e["id"] == i as u64 && e.get("result").is_some()),
        "every entry answered, in order"
    );
    let most = backend.max_sending.load(Ordering::SeqCst);
    assert!(
        // The default max_batch_concurrency.
        most <= 64,
        "{most} batch entries ran at once"
    );
    assert!(most > 1, "entries still run concurrently");
}
