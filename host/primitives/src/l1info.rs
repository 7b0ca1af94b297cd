//! The L1-attributes deposit: the first transaction of a block that moves to a new L1
//! origin, OP's, handing L1Block the origin's values and the chain's fee scalars.

use alloy_primitives::{B256, Bytes, TxKind, U256};

use crate::{DepositTx, L1FeeScalars, L1Origin, TxDeposit};

/// Gas of the L1-attributes deposit (OP's since Regolith; it uses far less and pays nothing).
pub const L1_INFO_GAS: u64 = 1_000_000;

/// `setL1BlockValuesEcotone()`: L1Block's entry for the L1-attributes deposit.
const SET_L1_BLOCK_VALUES_ECOTONE: [u8; 4] = [0x44, 0x0a, 0x5e, 0x20];

/// The L1-attributes deposit of `origin`: the first transaction of the block that moves to
/// that origin, before its user deposits. From the depositor account to L1Block, it stores
/// the origin's number, time, hash, base fee and blob base fee and the chain's `scalars`,
/// which the L1 data fee of every later transaction is priced with, so the fee follows from
/// the chain alone (a replica or `ordo verify` re-executing the block charges the same).
/// OP's transaction, source hash and 164-byte packed calldata; OP puts one in every block
/// (sequence number counting up), Ordo only where the origin moves, so the number is 0.
pub fn l1_info_deposit(origin: &L1Origin, scalars: L1FeeScalars) -> DepositTx {
    let fees = origin.fees.unwrap_or_default();
    let sequence_number = 0u64;
    let mut input = Vec::with_capacity(164);
    input.extend_from_slice(&SET_L1_BLOCK_VALUES_ECOTONE);
    input.extend_from_slice(&scalars.base_fee_scalar.to_be_bytes());
    input.extend_from_slice(&scalars.blob_base_fee_scalar.to_be_bytes());
    input.extend_from_slice(&sequence_number.to_be_bytes());
    input.extend_from_slice(&origin.timestamp.to_be_bytes());
    input.extend_from_slice(&origin.number.to_be_bytes());
    input.extend_from_slice(&U256::from(fees.base_fee).to_be_bytes::<32>());
    input.extend_from_slice(&U256::from(fees.blob_base_fee).to_be_bytes::<32>());
    input.extend_from_slice(origin.hash.as_slice());
    // The batcher hash: Ordo's batches are authenticated by the sequencer's signature and
    // the inbox, not by L1Block, so it stays zero.
    input.extend_from_slice(B256::ZERO.as_slice());
    DepositTx::new(TxDeposit {
        source_hash: op_alloy_consensus::L1InfoDepositSource::new(origin.hash, sequence_number)
            .source_hash(),
        from: crate::DEPOSITOR,
        to: TxKind::Call(crate::L1_BLOCK),
        mint: 0,
        value: U256::ZERO,
        gas_limit: L1_INFO_GAS,
        is_system_transaction: false,
        input: Bytes::from(input),
    })
}
