//! JSON-RPC 2.0 framing, geth's way: one body in, at most one body out.
//!
//! - a single object or a batch array; an empty batch is -32600 "empty batch", a batch over the
//!   limit -32600 "batch too large";
//! - invalid JSON is -32700 "parse error" with `id: null`; a well-formed value that is not a
//!   request (wrong `jsonrpc`, no `method`, object/array `id`) is -32600 "invalid request";
//! - a request without an `id` member is a notification: it runs, nothing is answered;
//!   `"id": null` is a call answered with `"id": null`;
//! - the batch array is read entry by entry and reading stops past the limit, so a huge batch
//!   is refused without being materialised;
//! - batch entries run concurrently (so `eth_sendRawTransaction`s share a group commit), at
//!   most `max_batch_concurrency` at a time and at most `max_client_concurrency` calls per
//!   client overall; responses keep the request order; a batch of notifications answers nothing.
//!
//! Responses are written straight into one byte buffer; `id`, `params` and `result` travel as
//! raw JSON slices, never as `serde_json::Value`.

use std::borrow::Cow;

use futures::StreamExt;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::{
    BackendError, Params,
    server::{RequestContext, Server},
};

/// One request object, borrowed from the body.
#[derive(Debug, Deserialize)]
struct RawRequest<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    /// `None` if the member is absent (a notification); `Some("null")` for `"id": null`.
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

/// Keeps a present `null` as `Some` (serde maps it to `None` for `Option` by default).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

impl RawRequest<'_> {
    fn has_valid_version(&self) -> bool {
        self.jsonrpc.as_deref() == Some("2.0")
    }

    fn valid_id(&self) -> Option<&RawValue> {
        self.id
            .filter(|id| !matches!(id.get().as_bytes().first(), Some(b'{' | b'[')))
    }

    fn method(&self) -> Option<&str> {
        self.method.as_deref().filter(|method| !method.is_empty())
    }
}

/// Handles one HTTP body or WebSocket message; `None` when nothing must be answered.
pub(crate) async fn handle(
    server: &Server,
    body: &[u8],
    ctx: RequestContext<'_>,
) -> Option<Vec<u8>> {
    let limit = server.config.max_json_depth;
    if json_depth_exceeds(body, limit) {
        return Some(error_response(
            RawValue::NULL,
            &BackendError::invalid_request(format!(
                "invalid request: JSON nested deeper than {limit} levels"
            )),
        ));
    }
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first == Some(&b'[') {
        return handle_batch(server, body, ctx).await;
    }
    match serde_json::from_slice::<RawRequest<'_>>(body) {
        Ok(request) => handle_request(server, request, ctx).await,
        Err(err) if err.is_data() => Some(error_response(
            RawValue::NULL,
            &BackendError::invalid_request("invalid request"),
        )),
        Err(_) => Some(error_response(RawValue::NULL, &BackendError::parse_error())),
    }
}

/// Whether `body` nests arrays/objects deeper than `limit` (brackets inside strings do not
/// count). One pass, before any parsing, so a deep body costs nothing to refuse.
fn json_depth_exceeds(body: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// How reading a batch array ended.
enum BatchRead<'a> {
    /// Every entry, not yet parsed as requests.
    Entries(Vec<&'a RawValue>),
    /// More than the limit: reading stopped at the first entry over it.
    TooLarge(Vec<&'a RawValue>),
    /// Not a JSON array of values.
    Invalid,
}

/// Reads the entries of a batch one by one, stopping at the first one over `max`: a huge
/// batch costs `max` entries of scanning, never a vector of all of them.
fn read_batch(body: &[u8], max: usize) -> BatchRead<'_> {
    struct Entries<'s, 'a> {
        max: usize,
        out: &'s mut Vec<&'a RawValue>,
        too_large: &'s mut bool,
    }
    impl<'de> serde::de::Visitor<'de> for Entries<'_, 'de> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON-RPC batch")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(entry) = seq.next_element::<&'de RawValue>()? {
                if self.out.len() >= self.max {
                    *self.too_large = true;
                    return Err(serde::de::Error::custom("batch too large"));
                }
                self.out.push(entry);
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut too_large = false;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = serde::Deserializer::deserialize_seq(
        &mut deserializer,
        Entries {
            max,
            out: &mut out,
            too_large: &mut too_large,
        },
    )
    .and_then(|()| deserializer.end());
    match read {
        _ if too_large => BatchRead::TooLarge(out),
        Ok(()) => BatchRead::Entries(out),
        Err(_) => BatchRead::Invalid,
    }
}

async fn handle_batch(server: &Server, body: &[u8], ctx: RequestContext<'_>) -> Option<Vec<u8>> {
    let entries = match read_batch(body, server.config.max_batch_len) {
        BatchRead::Entries(entries) => entries,
        BatchRead::TooLarge(read) => {
            // geth: one error in an array, carrying the id of the batch's first call.
            let requests: Vec<RawRequest<'_>> = read
                .iter()
                .filter_map(|entry| serde_json::from_str(entry.get()).ok())
                .collect();
            let id = requests
                .iter()
                .find(|request| request.has_valid_version() && request.method().is_some())
                .and_then(RawRequest::valid_id)
                .unwrap_or(RawValue::NULL);
            let mut out = vec![b'['];
            out.extend_from_slice(&error_response(
                id,
                &BackendError::invalid_request("batch too large"),
            ));
            out.push(b']');
            return Some(out);
        }
        BatchRead::Invalid => {
            return Some(error_response(RawValue::NULL, &BackendError::parse_error()));
        }
    };
    if entries.is_empty() {
        return Some(error_response(
            RawValue::NULL,
            &BackendError::invalid_request("empty batch"),
        ));
    }
    // Entries run concurrently (sendRawTransactions share a group commit), but only a few at
    // a time: a batch of a thousand expensive calls must not take a thousand workers.
    let max = server.config.max_batch_concurrency.max(1);
    let mut responses: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
    let mut running = futures::stream::FuturesOrdered::new();
    let mut entries = entries.into_iter();
    loop {
        while running.len() < max {
            match entries.next() {
                Some(entry) => running.push_back(handle_entry(server, entry, ctx)),
                None => break,
            }
        }
        match running.next().await {
            Some(response) => responses.push(response),
            None => break,
        }
    }
    let total: usize = responses.iter().flatten().map(|r| r.len() + 1).sum();
    if total == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(total + 1);
    out.push(b'[');
    for response in responses.into_iter().flatten() {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(&response);
    }
    out.push(b']');
    Some(out)
}

async fn handle_entry(
    server: &Server,
    entry: &RawValue,
    ctx: RequestContext<'_>,
) -> Option<Vec<u8>> {
    match serde_json::from_str::<RawRequest<'_>>(entry.get()) {
        Ok(request) => handle_request(server, request, ctx).await,
        Err(_) => Some(error_response(
            RawValue::NULL,
            &BackendError::invalid_request("invalid request"),
        )),
    }
}

async fn handle_request(
    server: &Server,
    request: RawRequest<'_>,
    ctx: RequestContext<'_>,
) -> Option<Vec<u8>> {
    let valid_version = request.has_valid_version();
    let id = request.valid_id();
    let method = request.method();
    let Some(method) = method.filter(|_| valid_version) else {
        let error = BackendError::invalid_request("invalid request");
        return Some(error_response(id.unwrap_or(RawValue::NULL), &error));
    };
    if request.id.is_some() && id.is_none() {
        // An object or array id.
        return Some(error_response(
            RawValue::NULL,
            &BackendError::invalid_request("invalid request"),
        ));
    }
    let admitted = ctx
        .client
        .is_none_or(|ip| server.config.per_ip.check(&crate::clients::client_key(ip)));
    // One client's calls run a bounded number at a time, however many batches and
    // connections it spreads them over.
    let _permit = if admitted {
        server.clients.call_permit(ctx.client).await
    } else {
        None
    };
    let started = std::time::Instant::now();
    // Only names the dispatcher recognised become metric labels: the method is the
    // caller's text, and every distinct label would be a series kept forever.
    let mut label = "unknown";
    let result = if !admitted {
        metrics::counter!("ordo_rpc_rate_limited_total", "limit" => "ip").increment(1);
        label = "rate_limited";
        Err(BackendError::limit_exceeded("rate limit exceeded"))
    } else {
        match Params::parse(request.params) {
            Ok(params) => {
                let result = server.dispatch(method, params, ctx).await;
                if !matches!(&result, Err(e) if e.code == crate::METHOD_NOT_FOUND) {
                    label = method;
                }
                result
            }
            Err(err) => Err(err),
        }
    };
    let label = label.to_string();
    if result.is_err() {
        metrics::counter!("ordo_rpc_errors_total", "method" => label.clone()).increment(1);
    }
    metrics::histogram!("ordo_rpc_request_duration_seconds", "method" => label)
        .record(started.elapsed().as_secs_f64());
    let id = id?;
    Some(match result {
        Ok(value) => result_response(id, &value),
        Err(err) => error_response(id, &err),
    })
}

/// The error answer to a body refused before dispatch (e.g. a bad `X-Flashbots-Signature`):
/// carries the request's id when the body is a single request with a usable id, else `null`.
pub(crate) fn reject(body: &[u8], error: &BackendError) -> Vec<u8> {
    let request = serde_json::from_slice::<RawRequest<'_>>(body).ok();
    let id = request
        .as_ref()
        .and_then(RawRequest::valid_id)
        .unwrap_or(RawValue::NULL);
    error_response(id, error)
}

const PREFIX: &[u8] = br#"{"jsonrpc":"2.0","id":"#;

/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}`
pub(crate) fn result_response(id: &RawValue, result: &RawValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX.len() + id.get().len() + result.get().len() + 12);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(id.get().as_bytes());
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result.get().as_bytes());
    out.push(b'}');
    out
}

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":..,"message":..,"data"?:..}}`
pub(crate) fn error_response(id: &RawValue, error: &BackendError) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX.len() + id.get().len() + error.message.len() + 48);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(id.get().as_bytes());
    out.extend_from_slice(br#","error":"#);
    if serde_json::to_writer(&mut out, error).is_err() {
        // Serializing a code, a string and a JSON value into a Vec cannot fail; keep the
        // response well-formed regardless.
        out.extend_from_slice(br#"{"code":-32603,"message":"internal error"}"#);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::json_depth_exceeds;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(json_depth_exceeds(deep.as_bytes(), 64));
        assert!(!json_depth_exceeds(deep.as_bytes(), 65));
        let quoted = format!(r#"{{"a":"{}\"[["}}"#, "[".repeat(500));
        assert!(!json_depth_exceeds(quoted.as_bytes(), 2));
        assert!(!json_depth_exceeds(
            br#"{"jsonrpc":"2.0","params":[{"a":[1]}]}"#,
            4
        ));
        assert!(json_depth_exceeds(
            br#"{"jsonrpc":"2.0","params":[{"a":[1]}]}"#,
            3
        ));
    }
}
