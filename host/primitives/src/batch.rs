//! Batches: the canonical, versioned encoding of a run of sealed blocks that derivation
//! needs to rebuild them (everything that fixes each header, plus the raw transactions),
//! the frame posted to L1 around the compressed payload, and the stored batch record.
//!
//! ```text
//! payload (v1) = 0x01 ‖ rlp([block, ...])           block = [number, timestamp, parent_hash,
//!                                                            beneficiary, gas_limit, base_fee,
//!                                                            extra_data, [raw tx, ...],
//!                                                            beacon_root?]
//! frame   (v1) = 0x01 ‖ rlp([header, compressed payload])
//! ```
//! `beacon_root` (the L1 origin's parent beacon block root, which the header names) is left
//! out when zero, so batches of an L1 without one, and those written before it existed, are
//! the same bytes. Everything else in a header is derived: `mix_hash` is keccak(parent hash),
//! and the roots, bloom and gas used come from executing the transactions.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use crate::block::BlockRecord;

/// Version byte of [`BatchPayload`]'s encoding.
pub const PAYLOAD_VERSION: u8 = 1;
/// Version byte of [`BatchFrame`]'s encoding.
pub const FRAME_VERSION: u8 = 1;
/// Codec id of the identity codec (no compression plugin active).
pub const CODEC_NONE: u32 = 0;

/// Why batch bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchDecodeError {
    /// No bytes at all.
    #[error("empty batch data")]
    Empty,
    /// A version this node does not know.
    #[error("unknown {what} version {version}")]
    Version {
        /// payload or frame.
        what: &'static str,
        /// The version byte.
        version: u8,
    },
    /// Malformed RLP, or bytes after the end.
    #[error("{what} rlp: {source}")]
    Rlp {
        /// payload or frame.
        what: &'static str,
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
}

/// One block as derivation needs it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct BatchBlock {
    /// Block number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Fee recipient.
    pub beneficiary: Address,
    /// Gas limit.
    pub gas_limit: u64,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Header extra data.
    pub extra_data: Bytes,
    /// Raw EIP-2718 transactions, in block order.
    pub txs: Vec<Bytes>,
    /// The parent beacon block root the header names (its L1 origin's); None for zero.
    pub beacon_root: Option<B256>,
}

impl BatchBlock {
    /// The derivation view of a sealed block.
    pub fn from_record(block: &BlockRecord) -> Self {
        let h = &block.header;
        Self {
            number: h.number,
            timestamp: h.timestamp,
            parent_hash: h.parent_hash,
            beneficiary: h.beneficiary,
            gas_limit: h.gas_limit,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            extra_data: h.extra_data.clone(),
            txs: block.transactions.clone(),
            beacon_root: h.parent_beacon_block_root.filter(|root| !root.is_zero()),
        }
    }

    /// The parent beacon block root the block's header names.
    pub fn beacon_root_or_zero(&self) -> B256 {
        self.beacon_root.unwrap_or_default()
    }
}

/// The uncompressed content of a batch: consecutive blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchPayload {
    /// Consecutive blocks, ascending.
    pub blocks: Vec<BatchBlock>,
}

impl BatchPayload {
    /// `PAYLOAD_VERSION ‖ rlp(blocks)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.blocks.length());
        out.push(PAYLOAD_VERSION);
        self.blocks.encode(&mut out);
        out
    }

    /// The inverse of [`Self::encode`]; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchDecodeError> {
        let (&version, mut rest) = bytes.split_first().ok_or(BatchDecodeError::Empty)?;
        if version != PAYLOAD_VERSION {
            return Err(BatchDecodeError::Version {
                what: "payload",
                version,
            });
        }
        let rlp = |source| BatchDecodeError::Rlp {
            what: "payload",
            source,
        };
        let blocks = Vec::<BatchBlock>::decode(&mut rest).map_err(rlp)?;
        if !rest.is_empty() {
            return Err(rlp(alloy_rlp::Error::UnexpectedLength));
        }
        Ok(Self { blocks })
    }

    /// Encoded size of one more block (what the batcher measures while filling a batch).
    pub fn block_size(block: &BatchBlock) -> usize {
        block.length()
    }
}

/// What identifies a batch and how to read it: posted uncompressed in front of the payload
/// and handed to prover hooks. `output_root` is encoded last and may be absent: headers
/// written before output roots existed (stored records, frames on L1) still decode, with a
/// zero output root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, RlpEncodable)]
pub struct BatchHeader {
    /// Batch number, from 0, without gaps.
    pub index: u64,
    /// First block in the batch.
    pub first_block: u64,
    /// Last block in the batch.
    pub last_block: u64,
    /// Hash of the last block.
    pub last_block_hash: B256,
    /// State root after the last block.
    pub state_root: B256,
    /// Codec that compressed the payload ([`CODEC_NONE`]: stored as is).
    pub codec_id: u32,
    /// Code hash of the compression plugin that produced it (zero: native).
    pub codec_hash: B256,
    /// The last block's output root (OP's version 0: state root, message passer storage
    /// root, block hash), what the proposer posts to L1 and the prover attests.
    pub output_root: B256,
}

impl Decodable for BatchHeader {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = alloy_rlp::Header::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut fields, rest) = buf
            .split_at_checked(header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        let decoded = Self {
            index: Decodable::decode(&mut fields)?,
            first_block: Decodable::decode(&mut fields)?,
            last_block: Decodable::decode(&mut fields)?,
            last_block_hash: Decodable::decode(&mut fields)?,
            state_root: Decodable::decode(&mut fields)?,
            codec_id: Decodable::decode(&mut fields)?,
            codec_hash: Decodable::decode(&mut fields)?,
            output_root: if fields.is_empty() {
                B256::ZERO
            } else {
                Decodable::decode(&mut fields)?
            },
        };
        if !fields.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: header.payload_length - fields.len(),
                got: header.payload_length,
            });
        }
        *buf = rest;
        Ok(decoded)
    }
}

/// What goes to L1: the header and the compressed payload.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchFrame {
    /// The header.
    pub header: BatchHeader,
    /// The payload as compressed by the header's codec.
    pub data: Bytes,
}

impl BatchFrame {
    /// `FRAME_VERSION ‖ rlp([header, data])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.length());
        out.push(FRAME_VERSION);
        Encodable::encode(self, &mut out);
        out
    }

    /// The inverse of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchDecodeError> {
        let (&version, mut rest) = bytes.split_first().ok_or(BatchDecodeError::Empty)?;
        if version != FRAME_VERSION {
            return Err(BatchDecodeError::Version {
                what: "frame",
                version,
            });
        }
        let rlp = |source| BatchDecodeError::Rlp {
            what: "frame",
            source,
        };
        let frame = <Self as Decodable>::decode(&mut rest).map_err(rlp)?;
        if !rest.is_empty() {
            return Err(rlp(alloy_rlp::Error::UnexpectedLength));
        }
        Ok(frame)
    }
}

/// Where a batch is on its way to L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStatus {
    /// Built and stored, not sent (or no L1 configured).
    Built,
    /// Sent in an L1 transaction, not yet confirmed.
    Submitted {
        /// The L1 transaction.
        tx_hash: B256,
        /// Its nonce.
        nonce: u64,
        /// Fee cap used.
        max_fee_per_gas: u128,
        /// Tip used.
        max_priority_fee_per_gas: u128,
        /// When it was sent (ms since the epoch).
        submitted_at_ms: u64,
        /// Blob fee cap for a blob transaction; None: calldata.
        max_fee_per_blob_gas: Option<u128>,
        /// Earlier transactions for this batch that it replaced (any may still be mined).
        replaced: Vec<B256>,
    },
    /// Included in L1 with enough confirmations; watched until L1 finalizes its block, since
    /// a reorg deeper than the confirmations sends it back to `Submitted`.
    Confirmed {
        /// The L1 transaction.
        tx_hash: B256,
        /// L1 block number.
        l1_block: u64,
        /// L1 block hash.
        l1_block_hash: B256,
        /// Carried in blobs (else calldata).
        blobs: bool,
        /// L1 has finalized the block (its `finalized` tag reached it): no reorg can undo it.
        finalized: bool,
        /// The mined transaction's nonce and fees, and the transactions it replaced: what the
        /// poster sends again, unchanged, if a reorg drops the block before it is final.
        nonce: u64,
        /// Fee cap of the mined transaction.
        max_fee_per_gas: u128,
        /// Tip of the mined transaction.
        max_priority_fee_per_gas: u128,
        /// Blob fee cap of a blob transaction; None: calldata.
        max_fee_per_blob_gas: Option<u128>,
        /// Earlier transactions for this batch (any may be mined on another branch).
        replaced: Vec<B256>,
    },
}

/// A stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    /// The frame as it is (or will be) posted.
    pub frame: BatchFrame,
    /// Uncompressed payload size (bytes).
    pub raw_size: u64,
    /// Number of transactions in the batch.
    pub tx_count: u64,
    /// What the prover hook attested (empty without a prover).
    pub attestation: Bytes,
    /// Code hash of the prover hook (zero: none).
    pub prover_hash: B256,
    /// Time the batch was built (ms since the epoch).
    pub built_at_ms: u64,
    /// L1 progress.
    pub status: BatchStatus,
}

#[derive(RlpEncodable, RlpDecodable)]
struct RecordWire {
    frame: Bytes,
    raw_size: u64,
    tx_count: u64,
    attestation: Bytes,
    prover_hash: B256,
    built_at_ms: u64,
    /// 0 built, 1 submitted, 2 confirmed, 3 confirmed and finalized.
    status: u8,
    tx_hash: B256,
    nonce: u64,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    at_ms: u64,
    l1_block: u64,
    l1_block_hash: B256,
    /// 0: calldata (a blob fee cap is at least 1 wei).
    max_fee_per_blob_gas: u128,
    replaced: Vec<B256>,
    blobs: bool,
}

impl BatchRecord {
    /// The RLP storage record.
    pub fn encode(&self) -> Vec<u8> {
        let mut wire = RecordWire {
            frame: self.frame.encode().into(),
            raw_size: self.raw_size,
            tx_count: self.tx_count,
            attestation: self.attestation.clone(),
            prover_hash: self.prover_hash,
            built_at_ms: self.built_at_ms,
            status: 0,
            tx_hash: B256::ZERO,
            nonce: 0,
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
            at_ms: 0,
            l1_block: 0,
            l1_block_hash: B256::ZERO,
            max_fee_per_blob_gas: 0,
            replaced: Vec::new(),
            blobs: false,
        };
        match &self.status {
            BatchStatus::Built => {}
            BatchStatus::Submitted {
                tx_hash,
                nonce,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                submitted_at_ms,
                max_fee_per_blob_gas,
                replaced,
            } => {
                wire.status = 1;
                wire.max_fee_per_blob_gas = max_fee_per_blob_gas.unwrap_or(0);
                wire.replaced = replaced.clone();
                wire.tx_hash = *tx_hash;
                wire.nonce = *nonce;
                wire.max_fee_per_gas = *max_fee_per_gas;
                wire.max_priority_fee_per_gas = *max_priority_fee_per_gas;
                wire.at_ms = *submitted_at_ms;
            }
            BatchStatus::Confirmed {
                tx_hash,
                l1_block,
                l1_block_hash,
                blobs,
                finalized,
                nonce,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                max_fee_per_blob_gas,
                replaced,
            } => {
                // A new status code rather than a new field: records written before finality
                // was tracked still decode (as confirmed, not final).
                wire.status = if *finalized { 3 } else { 2 };
                wire.blobs = *blobs;
                wire.tx_hash = *tx_hash;
                wire.l1_block = *l1_block;
                wire.l1_block_hash = *l1_block_hash;
                wire.nonce = *nonce;
                wire.max_fee_per_gas = *max_fee_per_gas;
                wire.max_priority_fee_per_gas = *max_priority_fee_per_gas;
                wire.max_fee_per_blob_gas = max_fee_per_blob_gas.unwrap_or(0);
                wire.replaced = replaced.clone();
            }
        }
        let mut out = Vec::with_capacity(wire.length());
        wire.encode(&mut out);
        out
    }

    /// Decodes a storage record.
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchDecodeError> {
        let mut buf = bytes;
        let rlp = |source| BatchDecodeError::Rlp {
            what: "batch record",
            source,
        };
        let w = RecordWire::decode(&mut buf).map_err(rlp)?;
        let status = match w.status {
            0 => BatchStatus::Built,
            1 => BatchStatus::Submitted {
                tx_hash: w.tx_hash,
                nonce: w.nonce,
                max_fee_per_gas: w.max_fee_per_gas,
                max_priority_fee_per_gas: w.max_priority_fee_per_gas,
                submitted_at_ms: w.at_ms,
                max_fee_per_blob_gas: (w.max_fee_per_blob_gas != 0)
                    .then_some(w.max_fee_per_blob_gas),
                replaced: w.replaced,
            },
            2 | 3 => BatchStatus::Confirmed {
                tx_hash: w.tx_hash,
                l1_block: w.l1_block,
                l1_block_hash: w.l1_block_hash,
                blobs: w.blobs,
                finalized: w.status == 3,
                nonce: w.nonce,
                max_fee_per_gas: w.max_fee_per_gas,
                max_priority_fee_per_gas: w.max_priority_fee_per_gas,
                max_fee_per_blob_gas: (w.max_fee_per_blob_gas != 0)
                    .then_some(w.max_fee_per_blob_gas),
                replaced: w.replaced,
            },
            _ => return Err(rlp(alloy_rlp::Error::Custom("unknown batch status"))),
        };
        Ok(Self {
            frame: BatchFrame::decode(&w.frame)?,
            raw_size: w.raw_size,
            tx_count: w.tx_count,
            attestation: w.attestation,
            prover_hash: w.prover_hash,
            built_at_ms: w.built_at_ms,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: u64) -> BatchBlock {
        BatchBlock {
            number: n,
            timestamp: 1_700_000_000 + n,
            parent_hash: B256::repeat_byte(n as u8),
            beneficiary: Address::repeat_byte(0x42),
            gas_limit: 30_000_000,
            base_fee: 7,
            extra_data: Bytes::from_static(b"ordo"),
            txs: vec![
                Bytes::from(vec![2, 0xc0 + n as u8]),
                Bytes::from(vec![n as u8; 40]),
            ],
            beacon_root: None,
        }
    }

    #[test]
    fn a_beacon_root_is_carried_only_when_there_is_one() {
        /// A block as it was encoded before it carried a beacon root.
        #[derive(RlpEncodable)]
        struct OldBlock {
            number: u64,
            timestamp: u64,
            parent_hash: B256,
            beneficiary: Address,
            gas_limit: u64,
            base_fee: u64,
            extra_data: Bytes,
            txs: Vec<Bytes>,
        }
        let b = block(4);
        let old = OldBlock {
            number: b.number,
            timestamp: b.timestamp,
            parent_hash: b.parent_hash,
            beneficiary: b.beneficiary,
            gas_limit: b.gas_limit,
            base_fee: b.base_fee,
            extra_data: b.extra_data.clone(),
            txs: b.txs.clone(),
        };
        assert_eq!(alloy_rlp::encode(&old), alloy_rlp::encode(&b));
        let with_root = BatchBlock {
            beacon_root: Some(B256::repeat_byte(0x4b)),
            ..block(5)
        };
        let payload = BatchPayload {
            blocks: vec![b, with_root.clone()],
        };
        let decoded = BatchPayload::decode(&payload.encode()).unwrap();
        assert_eq!(decoded, payload);
        assert_eq!(decoded.blocks[0].beacon_root_or_zero(), B256::ZERO);
        assert_eq!(
            decoded.blocks[1].beacon_root_or_zero(),
            B256::repeat_byte(0x4b)
        );
        // From a sealed block: a zero root is left out, another one kept.
        let mut header = ordo_header(5);
        let record = |header: &alloy_consensus::Header| BlockRecord {
            hash: header.hash_slow(),
            header: header.clone(),
            transactions: Vec::new(),
            senders: Vec::new(),
            tx_hashes: Vec::new(),
            provenance: Default::default(),
            l1_origin: None,
            extras: None,
        };
        assert_eq!(BatchBlock::from_record(&record(&header)).beacon_root, None);
        header.parent_beacon_block_root = Some(B256::repeat_byte(7));
        assert_eq!(
            BatchBlock::from_record(&record(&header)).beacon_root,
            Some(B256::repeat_byte(7))
        );
    }

    fn ordo_header(number: u64) -> alloy_consensus::Header {
        alloy_consensus::Header {
            number,
            parent_beacon_block_root: Some(B256::ZERO),
            ..Default::default()
        }
    }

    #[test]
    fn a_header_written_before_output_roots_decodes_with_a_zero_one() {
        /// The header as it was encoded before it carried an output root.
        #[derive(RlpEncodable)]
        struct OldHeader {
            index: u64,
            first_block: u64,
            last_block: u64,
            last_block_hash: B256,
            state_root: B256,
            codec_id: u32,
            codec_hash: B256,
        }
        let old = OldHeader {
            index: 3,
            first_block: 10,
            last_block: 12,
            last_block_hash: B256::repeat_byte(1),
            state_root: B256::repeat_byte(2),
            codec_id: 1,
            codec_hash: B256::repeat_byte(3),
        };
        let mut bytes = Vec::new();
        old.encode(&mut bytes);
        let header = BatchHeader::decode(&mut bytes.as_slice()).unwrap();
        assert_eq!((header.index, header.last_block), (3, 12));
        assert_eq!(header.codec_hash, B256::repeat_byte(3));
        assert_eq!(header.output_root, B256::ZERO);
        // A current header round-trips, and junk after the fields is refused.
        let current = BatchHeader {
            output_root: B256::repeat_byte(9),
            ..header
        };
        let encoded = alloy_rlp::encode(current);
        assert_eq!(
            BatchHeader::decode(&mut encoded.as_slice()).unwrap(),
            current
        );
        // One field more than a header has.
        let mut flat = Vec::new();
        let mut payload = Vec::new();
        for part in [
            alloy_rlp::encode(3u64),
            alloy_rlp::encode(10u64),
            alloy_rlp::encode(12u64),
            alloy_rlp::encode(B256::repeat_byte(1)),
            alloy_rlp::encode(B256::repeat_byte(2)),
            alloy_rlp::encode(1u32),
            alloy_rlp::encode(B256::repeat_byte(3)),
            alloy_rlp::encode(B256::repeat_byte(9)),
            alloy_rlp::encode(7u8),
        ] {
            payload.extend_from_slice(&part);
        }
        alloy_rlp::Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut flat);
        flat.extend_from_slice(&payload);
        assert!(BatchHeader::decode(&mut flat.as_slice()).is_err());
    }

    #[test]
    fn payload_frame_and_record_round_trip_and_refuse_garbage() {
        let payload = BatchPayload {
            blocks: vec![block(1), block(2), block(3)],
        };
        let bytes = payload.encode();
        assert_eq!(bytes[0], PAYLOAD_VERSION);
        assert_eq!(BatchPayload::decode(&bytes).unwrap(), payload);
        let mut long = bytes.clone();
        long.push(0);
        assert!(BatchPayload::decode(&long).is_err());
        assert!(matches!(
            BatchPayload::decode(&[9, 0xc0]),
            Err(BatchDecodeError::Version { version: 9, .. })
        ));
        assert_eq!(BatchPayload::decode(&[]), Err(BatchDecodeError::Empty));

        let frame = BatchFrame {
            header: BatchHeader {
                index: 4,
                first_block: 1,
                last_block: 3,
                last_block_hash: B256::repeat_byte(3),
                state_root: B256::repeat_byte(0x55),
                output_root: B256::repeat_byte(0x0e),
                codec_id: 1,
                codec_hash: B256::repeat_byte(0xcc),
            },
            data: Bytes::from(bytes),
        };
        let encoded = frame.encode();
        assert_eq!(BatchFrame::decode(&encoded).unwrap(), frame);
        for status in [
            BatchStatus::Built,
            BatchStatus::Submitted {
                tx_hash: B256::repeat_byte(1),
                nonce: 9,
                max_fee_per_gas: 100,
                max_priority_fee_per_gas: 2,
                submitted_at_ms: 5,
                max_fee_per_blob_gas: None,
                replaced: vec![],
            },
            BatchStatus::Submitted {
                tx_hash: B256::repeat_byte(3),
                nonce: 10,
                max_fee_per_gas: 100,
                max_priority_fee_per_gas: 2,
                submitted_at_ms: 6,
                max_fee_per_blob_gas: Some(7),
                replaced: vec![B256::repeat_byte(4), B256::repeat_byte(5)],
            },
            BatchStatus::Confirmed {
                tx_hash: B256::repeat_byte(1),
                l1_block: 77,
                l1_block_hash: B256::repeat_byte(7),
                blobs: true,
                finalized: false,
                nonce: 12,
                max_fee_per_gas: 300,
                max_priority_fee_per_gas: 3,
                max_fee_per_blob_gas: Some(9),
                replaced: vec![B256::repeat_byte(8)],
            },
            BatchStatus::Confirmed {
                tx_hash: B256::repeat_byte(2),
                l1_block: 78,
                l1_block_hash: B256::repeat_byte(6),
                blobs: false,
                finalized: true,
                nonce: 13,
                max_fee_per_gas: 301,
                max_priority_fee_per_gas: 4,
                max_fee_per_blob_gas: None,
                replaced: vec![],
            },
        ] {
            let record = BatchRecord {
                frame: frame.clone(),
                raw_size: 123,
                tx_count: 6,
                attestation: Bytes::from_static(b"att"),
                prover_hash: B256::repeat_byte(0xab),
                built_at_ms: 42,
                status,
            };
            assert_eq!(BatchRecord::decode(&record.encode()).unwrap(), record);
        }
    }
}
