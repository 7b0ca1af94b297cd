//! `X-Flashbots-Signature`: searcher identity on `POST /`.

use alloy_primitives::{Address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::app;

const HEADER: &str = "X-Flashbots-Signature";

/// What Flashbots' tooling sends: `<address>:<personal_sign(hex(keccak256(body)))>`.
fn sign(signer: &PrivateKeySigner, body: &str) -> String {
    let message = format!("{:#x}", keccak256(body.as_bytes()));
    let signature = signer.sign_message_sync(message.as_bytes()).unwrap();
    format!(
        "{}:0x{}",
        signer.address(),
        alloy_primitives::hex::encode(signature.as_bytes())
    )
}

/// POSTs `body` with the header (if any), expects HTTP 200 and returns the parsed JSON.
async fn post_with(router: &axum::Router, body: &str, signature: Option<&str>) -> Value {
    let mut request = Request::post("/").header(header::CONTENT_TYPE, "application/json");
    if let Some(signature) = signature {
        request = request.header(HEADER, signature);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{err}: {bytes:?}"))
}

fn whoami(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "ordo_whoami", "params": []}).to_string()
}

fn assert_refused(response: &Value, id: Value, message: &str) {
    assert_eq!(response["id"], id, "{response}");
    assert_eq!(response["error"]["code"], -32600, "{response}");
    assert_eq!(response["error"]["message"], message, "{response}");
    assert!(response.get("result").is_none(), "{response}");
}

#[tokio::test]
async fn signed_request_reaches_the_backend_with_the_searcher() {
    let (backend, router) = app();
    let signer = PrivateKeySigner::random();
    let body = whoami(7);
    let response = post_with(&router, &body, Some(&sign(&signer, &body))).await;
    assert_eq!(response["id"], 7, "{response}");
    let got: Address = serde_json::from_value(response["result"].clone()).unwrap();
    assert_eq!(got, signer.address());
    assert_eq!(*backend.last_searcher.lock(), Some(Some(signer.address())));
}

#[tokio::test]
async fn address_is_compared_case_insensitively_and_standard_methods_still_work() {
    let (backend, router) = app();
    let signer = PrivateKeySigner::random();
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).to_string();
    let header = sign(&signer, &body);
    let (address, signature) = header.split_once(':').unwrap();
    let lower = format!("{}:{signature}", address.to_lowercase());
    let response = post_with(&router, &body, Some(&lower)).await;
    assert_eq!(response["result"], "0x7a69", "{response}");
    let upper = format!("0x{}:{signature}", address[2..].to_uppercase());
    let response = post_with(&router, &body, Some(&upper)).await;
    assert_eq!(response["result"], "0x7a69", "{response}");
    // Not an extension method: the backend's extension_as was never called.
    assert_eq!(*backend.last_searcher.lock(), None);
}

#[tokio::test]
async fn signature_by_another_key_is_refused_and_nothing_runs() {
    let (backend, router) = app();
    let claimed = PrivateKeySigner::random();
    let other = PrivateKeySigner::random();
    let body = whoami(3);
    let forged =
        sign(&other, &body).replace(&other.address().to_string(), &claimed.address().to_string());
    let response = post_with(&router, &body, Some(&forged)).await;
    assert_refused(&response, json!(3), "invalid flashbots signature");
    assert_eq!(*backend.last_searcher.lock(), None);
}

#[tokio::test]
async fn signature_over_another_body_is_refused() {
    let (backend, router) = app();
    let signer = PrivateKeySigner::random();
    let header = sign(&signer, &whoami(1));
    let response = post_with(&router, &whoami(2), Some(&header)).await;
    assert_refused(&response, json!(2), "invalid flashbots signature");
    assert_eq!(*backend.last_searcher.lock(), None);
}

#[tokio::test]
async fn malformed_headers_are_refused() {
    let (backend, router) = app();
    let signer = PrivateKeySigner::random();
    let body = whoami(9);
    let good = sign(&signer, &body);
    let (address, signature) = good.split_once(':').unwrap();
    let cases = [
        "no-colon-here".to_owned(),
        format!("{address}{signature}"),
        format!("{address}:0xnothex"),
        format!("{address}:{}", &signature[..signature.len() - 2]),
        format!("0x1234:{signature}"),
        format!("not-an-address:{signature}"),
        format!(":{signature}"),
        format!("{address}:"),
    ];
    for header in &cases {
        let response = post_with(&router, &body, Some(header)).await;
        assert_refused(
            &response,
            json!(9),
            "malformed X-Flashbots-Signature header",
        );
    }
    assert_eq!(*backend.last_searcher.lock(), None);
}

#[tokio::test]
async fn refusal_has_null_id_when_the_body_is_not_a_request() {
    let (_, router) = app();
    let signer = PrivateKeySigner::random();
    let body = "{not json";
    let response = post_with(&router, body, Some(&format!("{}:0x00", signer.address()))).await;
    assert_refused(
        &response,
        Value::Null,
        "malformed X-Flashbots-Signature header",
    );
    let other = PrivateKeySigner::random();
    let batch = format!("[{}]", whoami(4));
    let forged =
        sign(&other, &batch).replace(&other.address().to_string(), &signer.address().to_string());
    let response = post_with(&router, &batch, Some(&forged)).await;
    assert_refused(&response, Value::Null, "invalid flashbots signature");
}

#[tokio::test]
async fn signed_batch_carries_the_searcher_to_every_entry() {
    let (_, router) = app();
    let signer = PrivateKeySigner::random();
    let body = format!("[{},{}]", whoami(1), whoami(2));
    let response = post_with(&router, &body, Some(&sign(&signer, &body))).await;
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        let got: Address = serde_json::from_value(entry["result"].clone()).unwrap();
        assert_eq!(got, signer.address());
    }
}

#[tokio::test]
async fn without_the_header_nothing_changes() {
    let (backend, router) = app();
    let response = post_with(&router, &whoami(5), None).await;
    assert_eq!(response["id"], 5, "{response}");
    assert_eq!(response["result"], Value::Null, "{response}");
    assert_eq!(*backend.last_searcher.lock(), Some(None));
    let response = post_with(
        &router,
        &json!({"jsonrpc": "2.0", "id": 6, "method": "eth_chainId"}).to_string(),
        None,
    )
    .await;
    assert_eq!(response["result"], "0x7a69", "{response}");
    // Unknown ordo_ methods still answer -32601.
    let response = post_with(
        &router,
        &json!({"jsonrpc": "2.0", "id": 8, "method": "ordo_nope", "params": []}).to_string(),
        None,
    )
    .await;
    assert_eq!(response["error"]["code"], -32601, "{response}");
}
