//! Searcher bundles as the node takes them in: the bundle object of `eth_sendBundle`,
//! `eth_callBundle` and `eth_cancelBundle` on the public port of a node on a small chain, and
//! the bundle record the pool stores and a replica adopts. The first byte picks what the rest
//! is (low two bits: 0 a stored record, 1 `eth_sendBundle`'s bundle, 2 `eth_callBundle`'s, 3
//! `eth_cancelBundle`'s) and whether the request is signed by a searcher (high bit:
//! `X-Flashbots-Signature`). Any bytes are refused or taken without a panic, every answer is
//! well-formed JSON-RPC, and:
//! - a record that decodes encodes back to the same bytes, its transactions hash to their
//!   bytes and recover the same senders, and its bundle hash is that of its transactions;
//! - a bundle `eth_sendBundle` accepts keeps what acceptance promises (1 to 16 transactions
//!   of this chain, a target block after the head and at most 256 ahead, no more reverting
//!   hashes than transactions, a timestamp window that is not empty, the signer as searcher
//!   and a uuid only from a signer), is held under the hash answered, and its stored record
//!   reads back the same, also in a pool restored from storage.
#![no_main]

use std::time::{SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use ordo_fuzz::{
    jsonrpc,
    node::{self, CHAIN_ID, Node},
    seeds,
};
use ordo_pool::{BundleLimits, BundlePool, MAX_BUNDLE_TXS};
use ordo_primitives::{
    Bundle,
    alloy_consensus::Transaction,
    alloy_primitives::{Address, B256, keccak256},
    decode_raw_tx,
};
use serde::Deserialize;

fn record(bytes: &[u8]) {
    let Ok(bundle) = Bundle::decode_record(bytes) else {
        return;
    };
    assert!(
        bundle.encode_record() == bytes,
        "a record decodes from one encoding only"
    );
    let mut hashes = Vec::new();
    for tx in &bundle.txs {
        assert_eq!(tx.hash, keccak256(&tx.encoded));
        let again = decode_raw_tx(&tx.encoded).expect("a bundle transaction decodes again");
        assert_eq!(again.sender, tx.sender);
        hashes.extend_from_slice(tx.hash.as_slice());
    }
    assert_eq!(bundle.bundle_hash(), keccak256(&hashes));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    bundle_hash: B256,
}

fn accepted(node: &Node, answer: &str, searcher: Option<Address>, sent_at: u64) {
    let sent: Sent = serde_json::from_str(answer).expect("eth_sendBundle answers a bundle hash");
    let held: Vec<Bundle> = node
        .bundles()
        .records()
        .iter()
        .map(|r| Bundle::decode_record(r).expect("a held bundle's record decodes"))
        .collect();
    let Some(bundle) = held.iter().find(|b| b.bundle_hash() == sent.bundle_hash) else {
        // An empty bundle with a uuid cancels, and is answered the hash of no transactions.
        assert_eq!(
            sent.bundle_hash,
            keccak256([]),
            "an accepted bundle is not held"
        );
        return;
    };
    let head = node.head();
    assert!((1..=MAX_BUNDLE_TXS).contains(&bundle.txs.len()));
    assert!(bundle.block_number > head);
    assert!(bundle.block_number <= head + ordo_api::MAX_BUNDLE_LOOKAHEAD);
    assert!(bundle.reverting_tx_hashes.len() <= bundle.txs.len());
    if let (Some(min), Some(max)) = (bundle.min_timestamp, bundle.max_timestamp) {
        assert!(min <= max, "a bundle no block can hold was accepted");
    }
    assert_eq!(bundle.searcher, searcher);
    if let Some(uuid) = &bundle.replacement_uuid {
        assert!(searcher.is_some() && !uuid.is_empty() && uuid.len() <= ordo_api::MAX_UUID_LEN);
    }
    for tx in &bundle.txs {
        assert_eq!(tx.tx.chain_id(), Some(CHAIN_ID));
    }
    assert_eq!(
        Bundle::decode_record(&bundle.encode_record()).as_ref(),
        Ok(bundle)
    );
    let restored = BundlePool::new(node.storage().clone(), BundleLimits::default());
    restored
        .restore_from_storage_at(head, sent_at)
        .expect("the stored bundles are read back");
    let again: Vec<Bundle> = restored
        .records()
        .iter()
        .filter_map(|r| Bundle::decode_record(r).ok())
        .collect();
    assert!(
        again.contains(bundle),
        "an accepted bundle is not restored from storage"
    );
}

fuzz_target!(
    init: seeds::write_if_asked("bundle", seeds::bundle),
    |data: &[u8]| {
        let Some((&selector, rest)) = data.split_first() else {
            return;
        };
        let method = match selector & 3 {
            0 => return record(rest),
            1 => "eth_sendBundle",
            2 => "eth_callBundle",
            _ => "eth_cancelBundle",
        };
        let node = Node::get();
        let key = (selector & 0x80 != 0).then(node::searcher);
        let mut body =
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":["#).into_bytes();
        body.extend_from_slice(rest);
        body.extend_from_slice(b"]}");
        let sent_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let answer = node.post(&body, key.as_ref());
        jsonrpc::check(&body, &answer);
        if method == "eth_sendBundle"
            && let Some(result) = jsonrpc::result(&answer)
        {
            accepted(node, result.get(), key.map(|k| k.address()), sent_at);
        }
        node.forget_bundles();
    }
);
