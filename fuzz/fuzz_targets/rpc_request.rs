//! The public JSON-RPC port of a node on a small chain, in process: any HTTP body goes
//! through the router the node serves, so through framing (single, batch, notification, bad
//! JSON, depth and batch limits), parameter parsing and dispatch to the eth, net and web3
//! methods and to every namespace the node mounts there (ordo, bundles, txpool, debug, chain
//! config, extras, simulate), all answering from the real chain. An input whose first byte is
//! 0x01 (never the start of JSON) is the rest of it sent signed by a searcher
//! (`X-Flashbots-Signature`). Every body gets HTTP 200 and the answer JSON-RPC prescribes:
//! nothing for notifications, else well-formed responses carrying the request ids, in order,
//! and never an internal error (see `ordo_fuzz::jsonrpc`); never a panic, in the request's
//! task or any other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_fuzz::{
    jsonrpc,
    node::{self, Node},
    seeds,
};

/// The first byte that marks a signed request.
const SIGNED: u8 = 0x01;

fuzz_target!(
    init: seeds::write_if_asked("rpc_request", seeds::rpc_request),
    |data: &[u8]| {
        let node = Node::get();
        let (body, key) = match data.split_first() {
            Some((&SIGNED, rest)) => (rest, Some(node::searcher())),
            _ => (data, None),
        };
        let answer = node.post(body, key.as_ref());
        jsonrpc::check(body, &answer);
        // Accepted bundles would fill the pool for later inputs.
        node.forget_bundles();
    }
);
