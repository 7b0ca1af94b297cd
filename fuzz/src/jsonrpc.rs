//! What the JSON-RPC port must answer to any body, by JSON-RPC 2.0 and geth's framing:
//! HTTP 200; nothing for a notification (or a batch of them); else one response object
//! (single request, or a batch refused whole) or an array of them in request order, each
//! with `"jsonrpc":"2.0"`, the request's id byte for byte (`null` when the request had no
//! usable one) and exactly one of `result` and `error` (an integer code and a message). The
//! one answer that may stand in for any other is the refusal of a body nested too deep
//! (-32600, id `null`). A -32603 answers a failure of the node, which a healthy node never
//! has, or one request geth answers with it (see [`healthy`]).

use std::borrow::Cow;

use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::node::Answer;

/// The most requests a batch may hold ([`ordo_rpc::RpcConfig`]'s default).
const MAX_BATCH_LEN: usize = ordo_rpc::DEFAULT_MAX_BATCH_LEN;
const INVALID_REQUEST: i64 = -32600;
const PARSE_ERROR: i64 = -32700;
const INTERNAL_ERROR: i64 = -32603;

/// The members of a request object that decide whether and how it is answered. Unknown
/// members are ignored; a repeated member makes it invalid.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "params")]
    _params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Response<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<ErrorObject<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorObject<'a> {
    code: i64,
    #[serde(borrow, rename = "message")]
    _message: Cow<'a, str>,
    #[serde(default, borrow, rename = "data")]
    _data: Option<&'a RawValue>,
}

/// A member that is present, `null` included (serde reads a `null` as an absent `Option`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// What a call must be answered with: the id its answer carries, and the method it names
/// (empty when it names none).
struct Expected {
    id: String,
    method: String,
}

/// What `request` must be answered with, `None` when it is a notification (a well-formed
/// call without an `id` member).
fn expected(request: &[u8]) -> Option<Expected> {
    let Ok(request) = serde_json::from_slice::<Request<'_>>(request) else {
        return Some(Expected {
            id: "null".into(),
            method: String::new(),
        });
    };
    let usable = request
        .id
        .filter(|id| !matches!(id.get().as_bytes().first(), Some(b'{' | b'[')));
    let method = request.method.as_deref().unwrap_or_default().to_string();
    let call = request.jsonrpc.as_deref() == Some("2.0") && !method.is_empty();
    let id = match (call, request.id, usable) {
        (true, None, _) => return None,
        (_, _, Some(id)) => id.get().to_string(),
        _ => "null".into(),
    };
    Some(Expected { id, method })
}

/// One response object, well-formed: its id, and its error code if it is an error.
fn response(text: &[u8], request: &[u8]) -> (String, Option<i64>) {
    let context = || {
        format!(
            "request {:?}\nanswer {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(text)
        )
    };
    let r: Response<'_> = serde_json::from_slice(text)
        .unwrap_or_else(|e| panic!("a malformed response object ({e}): {}", context()));
    assert_eq!(r.jsonrpc, "2.0", "{}", context());
    assert!(
        !matches!(r.id.get().as_bytes().first(), Some(b'{' | b'[')),
        "an object or array id: {}",
        context()
    );
    let code = match (r.result, r.error) {
        (Some(_), None) => None,
        (None, Some(error)) => Some(error.code),
        _ => panic!("not exactly one of result and error: {}", context()),
    };
    (r.id.get().to_string(), code)
}

/// A -32603 is a failure of the node, except where geth itself answers one: eth_simulateV1
/// for a sender whose nonce is at its maximum.
fn healthy(code: Option<i64>, method: &str) -> bool {
    code != Some(INTERNAL_ERROR) || method == "eth_simulateV1"
}

/// Whether a response is the refusal of a whole body (nested too deep, not JSON, an empty
/// batch): an error with a `null` id.
fn refused_whole((id, code): &(String, Option<i64>)) -> bool {
    id == "null" && matches!(code, Some(INVALID_REQUEST | PARSE_ERROR))
}

/// Checks `answer` against what `request` must be answered with; panics with both
/// otherwise.
pub fn check(request: &[u8], answer: &Answer) {
    let context = || {
        format!(
            "request {:?}\nanswer {} {:?}",
            String::from_utf8_lossy(request),
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
    };
    assert_eq!(answer.status, StatusCode::OK, "{}", context());
    let body = answer.body.as_slice();
    let batch = request.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if !batch {
        match (expected(request), body.is_empty()) {
            (None, true) => {}
            (Some(_), true) => panic!("a call went unanswered: {}", context()),
            (expected, false) => {
                let got = response(body, request);
                let method = expected.as_ref().map_or("", |e| e.method.as_str());
                assert!(healthy(got.1, method), "an internal error: {}", context());
                assert!(
                    expected.as_ref().is_some_and(|e| e.id == got.0) || refused_whole(&got),
                    "answered with id {} instead of {:?}: {}",
                    got.0,
                    expected.map(|e| e.id),
                    context()
                );
            }
        }
        return;
    }
    let entries = serde_json::from_slice::<Vec<&RawValue>>(request);
    if body.is_empty() {
        let entries =
            entries.unwrap_or_else(|e| panic!("unanswered, not a batch ({e}): {}", context()));
        assert!(
            !entries.is_empty()
                && entries
                    .iter()
                    .all(|e| expected(e.get().as_bytes()).is_none()),
            "a batch holding calls went unanswered: {}",
            context()
        );
        return;
    }
    if body.first() == Some(&b'{') {
        let got = response(body, request);
        assert!(
            refused_whole(&got),
            "a batch answered with one object: {}",
            context()
        );
        return;
    }
    let responses: Vec<&RawValue> = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("a batch answer that is not an array ({e}): {}", context()));
    let got: Vec<(String, Option<i64>)> = responses
        .iter()
        .map(|r| response(r.get().as_bytes(), request))
        .collect();
    match entries {
        Ok(entries) if entries.len() <= MAX_BATCH_LEN => {
            let expected: Vec<Expected> = entries
                .iter()
                .filter_map(|e| expected(e.get().as_bytes()))
                .collect();
            let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
            let want: Vec<&str> = expected.iter().map(|e| e.id.as_str()).collect();
            assert!(
                ids == want,
                "batch answered with ids {ids:?}, expected {want:?}: {}",
                context()
            );
            for ((_, code), e) in got.iter().zip(&expected) {
                assert!(
                    healthy(*code, &e.method),
                    "an internal error: {}",
                    context()
                );
            }
        }
        // Too long (or not JSON past the limit, where reading stops): one refusal.
        _ => assert!(
            got.len() == 1 && got[0].1 == Some(INVALID_REQUEST),
            "an oversized batch answered otherwise: {}",
            context()
        ),
    }
}

/// The `result` of a single answer, if it has one.
pub fn result(answer: &Answer) -> Option<&RawValue> {
    serde_json::from_slice::<Response<'_>>(&answer.body)
        .ok()
        .and_then(|r| r.result)
}
