//! Flashbots-style bundles: an ordered group of transactions a searcher wants included
//! together in one target block, plus the RLP record they are stored as.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use crate::{DecodeError, PooledTx, decode_raw_tx};

/// A bundle as the pool holds it: decoded transactions (senders recovered) and the
/// inclusion conditions the searcher asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The transactions, in the order they must execute.
    pub txs: Vec<Arc<PooledTx>>,
    /// The only block this bundle may land in.
    pub block_number: u64,
    /// Earliest block timestamp (seconds) allowed; `None` means no lower bound.
    pub min_timestamp: Option<u64>,
    /// Latest block timestamp (seconds) allowed; `None` means no upper bound.
    pub max_timestamp: Option<u64>,
    /// Transactions allowed to revert without invalidating the bundle.
    pub reverting_tx_hashes: Vec<B256>,
    /// A searcher-chosen id; a later bundle with the same id (and searcher) replaces it.
    pub replacement_uuid: Option<String>,
    /// Who sent it (when known, e.g. from a signing header).
    pub searcher: Option<Address>,
}

/// Why a stored bundle record did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleDecodeError {
    /// The record's RLP is malformed.
    #[error("bundle record rlp: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// A transaction inside the record did not decode.
    #[error("bundle transaction: {0}")]
    Tx(#[from] DecodeError),
    /// The searcher field is neither empty nor 20 bytes.
    #[error("bundle record: bad searcher address")]
    BadSearcher,
}

/// The on-disk shape: raw transaction bytes, `0` / empty for absent optionals.
#[derive(RlpEncodable, RlpDecodable)]
struct BundleRecord {
    txs: Vec<Bytes>,
    block_number: u64,
    min_timestamp: u64,
    max_timestamp: u64,
    reverting_tx_hashes: Vec<B256>,
    replacement_uuid: Bytes,
    searcher: Bytes,
}

/// Maps the RPC convention "0 means none" to an `Option`.
pub fn timestamp_opt(ts: u64) -> Option<u64> {
    (ts != 0).then_some(ts)
}

impl Bundle {
    /// keccak256 of the concatenated 32-byte transaction hashes (Flashbots' bundle hash).
    pub fn bundle_hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(32 * self.txs.len());
        for tx in &self.txs {
            buf.extend_from_slice(tx.hash.as_slice());
        }
        keccak256(&buf)
    }

    /// True when a block at `timestamp` satisfies the bundle's timestamp window.
    pub fn timestamp_ok(&self, timestamp: u64) -> bool {
        self.min_timestamp.is_none_or(|min| timestamp >= min)
            && self.max_timestamp.is_none_or(|max| timestamp <= max)
    }

    /// The RLP storage record (keeps the exact raw transaction bytes).
    pub fn encode_record(&self) -> Vec<u8> {
        let record = BundleRecord {
            txs: self.txs.iter().map(|tx| tx.encoded.clone()).collect(),
            block_number: self.block_number,
            min_timestamp: self.min_timestamp.unwrap_or(0),
            max_timestamp: self.max_timestamp.unwrap_or(0),
            reverting_tx_hashes: self.reverting_tx_hashes.clone(),
            replacement_uuid: self
                .replacement_uuid
                .as_ref()
                .map(|u| Bytes::copy_from_slice(u.as_bytes()))
                .unwrap_or_default(),
            searcher: self
                .searcher
                .map(|a| Bytes::copy_from_slice(a.as_slice()))
                .unwrap_or_default(),
        };
        let mut out = Vec::with_capacity(record.length());
        record.encode(&mut out);
        out
    }

    /// Decodes a storage record, re-decoding every transaction and recovering its sender.
    pub fn decode_record(bytes: &[u8]) -> Result<Self, BundleDecodeError> {
        let mut buf = bytes;
        let record = BundleRecord::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength.into());
        }
        let txs = record
            .txs
            .iter()
            .map(|raw| decode_raw_tx(raw).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let replacement_uuid = if record.replacement_uuid.is_empty() {
            None
        } else {
            Some(
                String::from_utf8(record.replacement_uuid.to_vec())
                    .map_err(|_| alloy_rlp::Error::Custom("replacement uuid is not utf-8"))?,
            )
        };
        let searcher = match record.searcher.len() {
            0 => None,
            20 => Some(Address::from_slice(&record.searcher)),
            _ => return Err(BundleDecodeError::BadSearcher),
        };
        Ok(Self {
            txs,
            block_number: record.block_number,
            min_timestamp: timestamp_opt(record.min_timestamp),
            max_timestamp: timestamp_opt(record.max_timestamp),
            reverting_tx_hashes: record.reverting_tx_hashes,
            replacement_uuid,
            searcher,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_primitives::{TxKind, U256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    fn signed(nonce: u64) -> Arc<PooledTx> {
        let key = PrivateKeySigner::from_slice(&[7u8; 32]).unwrap();
        let tx = TxEip1559 {
            chain_id: 1337,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        Arc::new(PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap())
    }

    fn bundle() -> Bundle {
        let txs = vec![signed(0), signed(1)];
        Bundle {
            reverting_tx_hashes: vec![txs[1].hash],
            txs,
            block_number: 9,
            min_timestamp: Some(100),
            max_timestamp: None,
            replacement_uuid: Some("d9a3b1c2-uuid".into()),
            searcher: Some(Address::repeat_byte(0xab)),
        }
    }

    #[test]
    fn hash_is_keccak_of_concatenated_tx_hashes() {
        let b = bundle();
        let mut concat = Vec::new();
        concat.extend_from_slice(b.txs[0].hash.as_slice());
        concat.extend_from_slice(b.txs[1].hash.as_slice());
        assert_eq!(b.bundle_hash(), keccak256(&concat));
        let mut single = b.clone();
        single.txs.truncate(1);
        assert_eq!(single.bundle_hash(), keccak256(b.txs[0].hash));
        assert_ne!(single.bundle_hash(), b.bundle_hash());
    }

    #[test]
    fn record_round_trips_and_recovers_senders() {
        let b = bundle();
        let decoded = Bundle::decode_record(&b.encode_record()).unwrap();
        assert_eq!(decoded, b);
        assert_eq!(decoded.txs[0].sender, b.txs[0].sender);

        let bare = Bundle {
            min_timestamp: None,
            replacement_uuid: None,
            searcher: None,
            reverting_tx_hashes: vec![],
            ..b
        };
        assert_eq!(Bundle::decode_record(&bare.encode_record()).unwrap(), bare);
        assert!(Bundle::decode_record(&[0xc0]).is_err());
        assert!(Bundle::decode_record(b"garbage").is_err());
    }

    #[test]
    fn timestamp_window() {
        let mut b = bundle();
        b.max_timestamp = Some(200);
        assert!(!b.timestamp_ok(99));
        assert!(b.timestamp_ok(100));
        assert!(b.timestamp_ok(200));
        assert!(!b.timestamp_ok(201));
        assert_eq!(timestamp_opt(0), None);
        assert_eq!(timestamp_opt(5), Some(5));
    }
}
