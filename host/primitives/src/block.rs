//! Sealed blocks and receipts as stored, the block's provenance, and the base fee rule.

use crate::OrdoReceiptEnvelope;
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// A sealed block as stored: the header, the raw transactions in block order and their
/// recovered senders (so reads never pay for signature recovery twice).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct BlockRecord {
    /// The Ethereum header; its keccak is the block hash.
    pub header: Header,
    /// The block hash (cached; equals `header.hash_slow()`).
    pub hash: B256,
    /// EIP-2718 encoded transactions, in block order.
    pub transactions: Vec<Bytes>,
    /// Senders, parallel to `transactions`.
    pub senders: Vec<Address>,
    /// Transaction hashes, parallel to `transactions`.
    pub tx_hashes: Vec<B256>,
    /// Who ordered the block.
    pub provenance: Provenance,
    /// The L1 block this block derives its deposits from (its hash is also the header's
    /// extra data, so the block hash commits to it); None on a chain without an L1.
    pub l1_origin: Option<L1Origin>,
    /// An imported Ethereum block's ommers and withdrawals; None for Ordo's own blocks,
    /// which have neither.
    pub extras: Option<BodyExtras>,
}

/// What an Ethereum block body holds besides its transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct BodyExtras {
    /// Ommer (uncle) headers, before the merge.
    pub ommers: Vec<Header>,
    /// Beacon-chain withdrawals, from Shanghai.
    pub withdrawals: Option<alloy_eips::eip4895::Withdrawals>,
}

/// An L2 block's L1 origin: the L1 block whose deposits the first L2 block with this origin
/// starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct L1Origin {
    pub number: u64,
    pub hash: B256,
    /// Seconds; an L2 block is never older than its origin.
    pub timestamp: u64,
    /// What the block charged, which prices L2's data on L1 (read with the block; None in
    /// records stored before the node read them).
    pub fees: Option<L1Fees>,
    /// The block's own parent beacon block root (EIP-4788), which every L2 block with this
    /// origin names and stores as OP Stack's do; None on an L1 before Cancun and in records
    /// stored before the node read it (zero then).
    pub beacon_root: Option<B256>,
}

impl L1Origin {
    /// The parent beacon block root the origin has: its own, zero where it has none.
    pub fn beacon_root_or_zero(&self) -> B256 {
        self.beacon_root.unwrap_or_default()
    }

    /// The parent beacon block root L2 block `number` with this origin names on a chain
    /// whose blocks name it from block `from` on ([`crate::ChainSpec::beacon_roots_from`]):
    /// the origin's, and zero before `from`.
    pub fn beacon_root_of_block(&self, number: u64, from: u64) -> B256 {
        if number >= from {
            self.beacon_root_or_zero()
        } else {
            B256::ZERO
        }
    }
}

/// An L1 block's base fee and blob base fee: what the L1-attributes deposit hands L1Block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct L1Fees {
    /// The block's base fee (wei).
    pub base_fee: u128,
    /// The block's blob base fee (wei; 1 on an L1 without blobs, as OP takes it).
    pub blob_base_fee: u128,
}

impl BlockRecord {
    /// Block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The ommers the body holds (none but in an imported pre-merge block).
    pub fn ommers(&self) -> &[Header] {
        self.extras.as_ref().map_or(&[], |e| e.ommers.as_slice())
    }

    /// The withdrawals the body holds: an imported block's own; on Ordo's chains an empty
    /// list, as their headers commit to (None before Shanghai, when the header has no
    /// withdrawals root).
    pub fn withdrawals(&self) -> Option<alloy_eips::eip4895::Withdrawals> {
        match &self.extras {
            Some(e) => e.withdrawals.clone(),
            None => self.header.withdrawals_root.map(|_| Default::default()),
        }
    }

    /// The length of the block's consensus RLP (header, transactions, ommers,
    /// withdrawals): what the RPC reports as `size`.
    pub fn size(&self) -> usize {
        use alloy_rlp::Encodable;
        let list = |payload: usize| payload + alloy_rlp::length_of_length(payload);
        // A typed transaction is an RLP string of its EIP-2718 bytes; a legacy one its list.
        let txs: usize = self
            .transactions
            .iter()
            .map(|t| match t.first() {
                Some(b) if *b >= 0xc0 => t.len(),
                _ => t.as_ref().length(),
            })
            .sum();
        let withdrawals = self.withdrawals().map_or(0, |w| w.length());
        list(self.header.length() + list(txs) + self.ommers().to_vec().length() + withdrawals)
    }
}

/// One receipt as stored, with the per-transaction facts a receipt's RPC shape needs that
/// are not in the consensus receipt.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct ReceiptRecord {
    /// The consensus receipt (typed envelope with status, cumulative gas, logs, bloom; a
    /// deposit's carries its nonce and receipt version, as OP Stack's does). Encoded as
    /// alloy's `ReceiptEnvelope` encodes the signed types, so stored receipts read back.
    pub receipt: OrdoReceiptEnvelope,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// The price per gas actually paid (base fee + effective tip).
    pub effective_gas_price: u128,
    /// Address of a contract this transaction created, or zero.
    pub contract_address: Address,
    /// Index of this receipt's first log within the block.
    pub first_log_index: u64,
    /// The L1 data fee the transaction paid and what priced it; None for a deposit, on a
    /// chain without L1 pricing (no L1 origin yet), and in records stored before the fee
    /// was charged.
    pub l1_fee: Option<L1FeeCharged>,
}

/// The L1 data fee of one transaction, as its receipt reports it (OP's `l1Fee`, `l1GasUsed`,
/// `l1GasPrice`, `l1BlobBaseFee` and the scalars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct L1FeeCharged {
    /// What the sender paid (wei), into the L1 fee vault.
    pub fee: alloy_primitives::U256,
    /// The estimated compressed size at 16 gas a byte (OP's deprecated `l1GasUsed`).
    pub gas_used: u64,
    /// The pricing: L1Block's values when the transaction ran.
    pub params: crate::L1FeeParams,
}

/// Which ordering policy produced a block. Recorded in every block (policy provenance).
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct Provenance {
    /// Name of the policy (`native-priority-fee`, or a plugin's name).
    pub policy: String,
    /// Version of the policy.
    pub version: String,
    /// Content hash of the plugin's code; zero for native policies.
    pub code_hash: B256,
    /// Why a fallback ran, empty when the chosen policy produced the block.
    pub fallback_reason: String,
    /// The sequencer's signature over the block hash (65 bytes r‖s‖v; see the node's
    /// `keys::block_signing_hash`). None for blocks sealed without a key (genesis, derived).
    pub signature: Option<Bytes>,
    /// Transactions the host placed after the policy's order because they had waited the
    /// inclusion floor (`[builder] inclusion_floor_blocks`) while the policy left them
    /// out; None when there were none. A policy can order, it cannot censor.
    pub host_placed: Option<Vec<B256>>,
}

#[cfg(test)]
mod tests {
    use alloy_rlp::{Decodable, Encodable};

    use super::*;

    #[test]
    fn provenance_round_trips_with_and_without_its_trailing_fields() {
        let base = Provenance {
            policy: "p".into(),
            version: "1".into(),
            ..Default::default()
        };
        let signed = Provenance {
            signature: Some(Bytes::from_static(&[7; 65])),
            ..base.clone()
        };
        let placed_unsigned = Provenance {
            host_placed: Some(vec![B256::repeat_byte(1)]),
            ..base.clone()
        };
        let placed_signed = Provenance {
            host_placed: Some(vec![B256::repeat_byte(2), B256::repeat_byte(3)]),
            ..signed.clone()
        };
        for p in [base, signed, placed_unsigned, placed_signed] {
            let mut out = Vec::new();
            p.encode(&mut out);
            assert_eq!(Provenance::decode(&mut out.as_slice()).unwrap(), p);
        }
    }

    /// Origins stored before they carried the L1 fees still read, with none.
    #[test]
    fn an_origin_without_fees_still_decodes() {
        #[derive(RlpEncodable)]
        struct Old {
            number: u64,
            hash: B256,
            timestamp: u64,
        }
        let mut old = Vec::new();
        Old {
            number: 7,
            hash: B256::repeat_byte(1),
            timestamp: 9,
        }
        .encode(&mut old);
        let read = L1Origin::decode(&mut old.as_slice()).unwrap();
        assert_eq!((read.number, read.timestamp, read.fees), (7, 9, None));
        assert_eq!(read.beacon_root_or_zero(), B256::ZERO);
        let rooted = L1Origin {
            beacon_root: Some(B256::repeat_byte(2)),
            ..read
        };
        assert_eq!(rooted.beacon_root_of_block(5, 0), B256::repeat_byte(2));
        assert_eq!(rooted.beacon_root_of_block(5, 5), B256::repeat_byte(2));
        assert_eq!(rooted.beacon_root_of_block(4, 5), B256::ZERO);
        let new = L1Origin {
            fees: Some(L1Fees {
                base_fee: 3,
                blob_base_fee: 1,
            }),
            ..read
        };
        let mut out = Vec::new();
        new.encode(&mut out);
        assert_eq!(L1Origin::decode(&mut out.as_slice()).unwrap(), new);
        // A record with fees and no beacon root (stored before the node read it) reads as
        // such, and one with both round-trips.
        let newest = L1Origin {
            beacon_root: Some(B256::repeat_byte(0x4b)),
            ..new
        };
        let mut out = Vec::new();
        newest.encode(&mut out);
        assert_eq!(L1Origin::decode(&mut out.as_slice()).unwrap(), newest);
        // A root without fees (not what the node writes) still round-trips.
        let rootless_fees = L1Origin {
            fees: None,
            ..newest
        };
        let mut out = Vec::new();
        rootless_fees.encode(&mut out);
        assert_eq!(
            L1Origin::decode(&mut out.as_slice()).unwrap(),
            rootless_fees
        );
    }
}

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxLocation {
    /// Block number.
    pub block: u64,
    /// Index within the block.
    pub index: u64,
}

/// Computes the EIP-1559 base fee of the block after `parent`, never below `min_base_fee`.
pub fn next_base_fee(
    parent_gas_used: u64,
    parent_gas_limit: u64,
    parent_base_fee: u64,
    params: alloy_eips::eip1559::BaseFeeParams,
    min_base_fee: u64,
) -> u64 {
    let next = alloy_eips::eip1559::calc_next_block_base_fee(
        parent_gas_used,
        parent_gas_limit,
        parent_base_fee,
        params,
    );
    next.max(min_base_fee)
}

#[cfg(test)]
mod receipt_tests {
    use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
    use alloy_primitives::{Log, LogData};
    use alloy_rlp::{Decodable, Encodable};

    use super::*;

    /// Receipts stored before deposits existed (alloy's Ethereum envelope) read back as the
    /// OP envelope and encode to the same bytes.
    #[test]
    fn a_receipt_stored_as_ethereums_envelope_reads_back_byte_for_byte() {
        let receipt = Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: 42_000,
            logs: vec![Log {
                address: Address::repeat_byte(1),
                data: LogData::new_unchecked(vec![B256::repeat_byte(2)], Bytes::from_static(b"x")),
            }],
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        for old in [
            ReceiptEnvelope::Legacy(with_bloom.clone()),
            ReceiptEnvelope::Eip1559(with_bloom.clone()),
            ReceiptEnvelope::Eip7702(with_bloom),
        ] {
            let mut bytes = Vec::new();
            old.encode(&mut bytes);
            let read = OrdoReceiptEnvelope::decode(&mut bytes.as_slice()).unwrap();
            let mut again = Vec::new();
            read.encode(&mut again);
            assert_eq!(again, bytes);
            assert_eq!(read.cumulative_gas_used(), 42_000);
        }
    }
}
