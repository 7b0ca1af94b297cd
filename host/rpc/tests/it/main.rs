//! Integration tests: the real router around a [`mock::MockBackend`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod filters;
mod flashbots;
mod framing;
mod limits;
mod methods;
mod mock;
mod ws;

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use ordo_rpc::{RpcConfig, router};
use serde_json::Value;
use tower::ServiceExt;

use crate::mock::MockBackend;

/// A router around a fresh mock with the default config.
pub(crate) fn app() -> (Arc<MockBackend>, Router) {
    app_with(RpcConfig::default())
}

pub(crate) fn app_with(config: RpcConfig) -> (Arc<MockBackend>, Router) {
    let backend = Arc::new(MockBackend::new());
    let router = router(backend.clone(), vec![backend.clone()], config);
    (backend, router)
}

/// POSTs `body` and returns the status and the raw response body.
pub(crate) async fn post_raw(router: &Router, body: impl Into<String>) -> (StatusCode, String) {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// POSTs `body`, expects HTTP 200 and returns the parsed JSON.
pub(crate) async fn post(router: &Router, body: Value) -> Value {
    let (status, text) = post_raw(router, body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text:?}"))
}

/// Calls `method` with `params` and returns the whole response object.
pub(crate) async fn call(router: &Router, method: &str, params: Value) -> Value {
    post(
        router,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

/// Calls `method` and returns its `result`, failing on an error response.
pub(crate) async fn result(router: &Router, method: &str, params: Value) -> Value {
    let response = call(router, method, params).await;
    assert!(response.get("error").is_none(), "{method}: {response}");
    response["result"].clone()
}
