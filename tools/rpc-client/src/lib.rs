//! One small JSON-RPC 2.0 client over HTTP, shared by everything that talks to a node from
//! the outside: the `ordo` CLI (`ordo plugin load` → the admin API), `ordo-bench` (the load
//! generator) and the end-to-end tests.
//!
//! Flow: [`RpcClient::call`] / [`RpcClient::batch`] render the request (`"jsonrpc": "2.0"`,
//! ids `1` for a call, `0..n` for a batch) → [`RpcClient::post_raw`] (POST,
//! `Content-Type: application/json`, optional bearer token and extra headers) → the body is
//! parsed as JSON whatever the HTTP status (a JSON-RPC error may come with a 4xx/5xx) →
//! [`parse_response`] splits each response object into its result or its [`RpcError`];
//! batch answers are matched back to the calls by id.
//!
//! Errors ([`ClientError`]): the transport failed, the answer was not JSON (with the HTTP
//! status and the start of the body), the answer was JSON but not a JSON-RPC response, or
//! the node answered a JSON-RPC error object (code, message, data). In a batch each call has
//! its own result; an answer that lacks one call's id gives that call
//! [`ClientError::MissingFromBatch`].
//!
//! Why a crate of its own (`tools/rpc-client`) and not a `client` feature of `ordo-rpc`:
//! `ordo-rpc` is the server transport (axum, hyper, tower, the node's primitives); a feature
//! could hide the client's code but not those dependencies without making half of the
//! server optional. This crate depends on reqwest, serde_json and thiserror only, so
//! `ordo-bench` stays a client of public JSON-RPC that never compiles the node.
//!
//! Plain HTTP only (the workspace builds reqwest without TLS).

use std::time::Duration;

use serde_json::{Value, json};

pub use reqwest::StatusCode;

/// A JSON-RPC error object as the node answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// `error.code`.
    pub code: i64,
    /// `error.message`.
    pub message: String,
    /// `error.data`, if any.
    pub data: Option<Value>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for RpcError {}

/// Why a call has no result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node answered a JSON-RPC error object.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// Connecting, sending or reading failed (the URL is left out of the message).
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// The answer was not JSON: the HTTP status and the start of the body.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status.
        status: StatusCode,
        /// The first 200 bytes of the body (lossy UTF-8).
        body: String,
    },
    /// The answer was JSON but not a JSON-RPC response to what was asked.
    #[error("invalid JSON-RPC response: {0}")]
    Invalid(String),
    /// A batch answer without this call's id.
    #[error("missing in batch answer")]
    MissingFromBatch,
}

impl ClientError {
    /// The JSON-RPC error object, when the node answered one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            Self::Rpc(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of an answer that was not JSON.
    pub fn http_status(&self) -> Option<StatusCode> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How to build an [`RpcClient`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    timeout: Option<Duration>,
    max_idle_connections: Option<usize>,
    bearer: Option<String>,
}

impl ClientBuilder {
    /// A whole-request deadline (default: none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// At most `n` idle keep-alive connections kept to the node (default: reqwest's).
    pub fn max_idle_connections(mut self, n: usize) -> Self {
        self.max_idle_connections = Some(n);
        self
    }

    /// Sends `Authorization: Bearer <token>` (the admin API).
    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    /// The client (`TCP_NODELAY` on: requests are small and latency is what is measured).
    pub fn build(self) -> Result<RpcClient, ClientError> {
        let mut builder = reqwest::Client::builder().tcp_nodelay(true);
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        if let Some(n) = self.max_idle_connections {
            builder = builder.pool_max_idle_per_host(n);
        }
        Ok(RpcClient {
            client: builder.build().map_err(ClientError::Transport)?,
            url: self.url,
            bearer: self.bearer,
        })
    }
}

/// A JSON-RPC 2.0 client for one HTTP endpoint; cheap to clone (connections are shared).
#[derive(Debug, Clone)]
pub struct RpcClient {
    client: reqwest::Client,
    url: String,
    bearer: Option<String>,
}

impl RpcClient {
    /// A builder for `url`.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_string(),
            timeout: None,
            max_idle_connections: None,
            bearer: None,
        }
    }

    /// A client for `url` with the defaults.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        Self::builder(url).build()
    }

    /// The same client (same connections), sending `Authorization: Bearer <token>`.
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs `body` verbatim with `headers` added; returns the status and the body text.
    pub async fn post_raw(
        &self,
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, String), ClientError> {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json");
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let resp = request
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.without_url()))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| ClientError::Transport(e.without_url()))?;
        Ok((status, text))
    }

    /// POSTs `body` and parses the answer as JSON (whatever the HTTP status).
    pub async fn post_json(
        &self,
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<Value, ClientError> {
        let (status, text) = self.post_raw(body, headers).await?;
        serde_json::from_str(&text).map_err(|_| ClientError::Http {
            status,
            body: prefix(&text, 200),
        })
    }

    /// Sends a pre-rendered single-call body (with `headers`) and returns its result.
    pub async fn call_body(
        &self,
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<Value, ClientError> {
        let answer = self.post_json(body, headers).await?;
        Ok(parse_response(&answer)??)
    }

    /// One call (id 1).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.call_body(request(1, method, params).to_string(), &[])
            .await
    }

    /// A batch (ids `0..n`): the whole request fails, or each call has its own result, in
    /// call order.
    pub async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, ClientError>>, ClientError> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (method, params))| request(i as u64, method, params.clone()))
            .collect();
        let answer = self.post_json(Value::Array(body).to_string(), &[]).await?;
        let items = answer.as_array().ok_or_else(|| {
            ClientError::Invalid(format!("batch answer is not an array: {}", short(&answer)))
        })?;
        let mut out: Vec<Option<Result<Value, ClientError>>> =
            (0..calls.len()).map(|_| None).collect();
        for item in items {
            let slot = item
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| out.get_mut(i))
                .ok_or_else(|| {
                    ClientError::Invalid(format!(
                        "batch answer item with a bad id: {}",
                        short(item)
                    ))
                })?;
            *slot = Some(parse_response(item)?.map_err(ClientError::Rpc));
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or(Err(ClientError::MissingFromBatch)))
            .collect())
    }
}

/// A JSON-RPC 2.0 request object.
pub fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Splits one JSON-RPC response object into its result or its error object; `Err` when it
/// is neither (or its error has no integer code).
pub fn parse_response(resp: &Value) -> Result<Result<Value, RpcError>, ClientError> {
    if let Some(err) = resp.get("error") {
        let code = err
            .get("code")
            .and_then(Value::as_i64)
            .ok_or_else(|| ClientError::Invalid(format!("error without code: {}", short(resp))))?;
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        return Ok(Err(RpcError {
            code,
            message,
            data: err.get("data").cloned(),
        }));
    }
    match resp.get("result") {
        Some(v) => Ok(Ok(v.clone())),
        None => Err(ClientError::Invalid(format!(
            "response has neither result nor error: {}",
            short(resp)
        ))),
    }
}

/// A JSON value for an error message, cut to 200 characters.
fn short(v: &Value) -> String {
    prefix(&v.to_string(), 200)
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_split_into_result_or_error() {
        let ok = parse_response(&json!({"jsonrpc": "2.0", "id": 1, "result": null}));
        assert!(matches!(ok, Ok(Ok(Value::Null))));
        let err = parse_response(&json!({
            "jsonrpc": "2.0", "id": 1,
            "error": {"code": -32000, "message": "nonce too low", "data": "0x"}
        }));
        let Ok(Err(e)) = err else {
            panic!("expected an error object, got {err:?}")
        };
        assert_eq!((e.code, e.message.as_str()), (-32000, "nonce too low"));
        assert_eq!(e.data, Some(json!("0x")));
        assert!(parse_response(&json!({"jsonrpc": "2.0", "id": 1})).is_err());
        assert!(parse_response(&json!({"error": {"message": "no code"}})).is_err());
    }

    #[test]
    fn prefixes_cut_at_char_boundaries() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("abc", 10), "abc");
    }

    #[test]
    fn request_shape() {
        assert_eq!(
            request(7, "eth_chainId", json!([])),
            json!({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []})
        );
    }
}
