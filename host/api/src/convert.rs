//! Stored records into the JSON shapes geth returns: headers, logs, receipts.

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::{Header, Log};
use ordo_primitives::{
    BlockRecord, OrdoTxEnvelope, ReceiptRecord, alloy_eips::eip2718::Decodable2718,
};
use ordo_rpc::{BackendError, BackendResult};

pub(crate) fn decode_tx(raw: &Bytes) -> BackendResult<TxEnvelope> {
    let mut buf = raw.as_ref();
    TxEnvelope::decode_2718(&mut buf).map_err(|_| BackendError::internal("corrupt stored tx"))
}
/// A stored block's transaction (signed, or a deposit).
pub(crate) fn decode_block_tx(raw: &Bytes) -> BackendResult<OrdoTxEnvelope> {
    let mut buf = raw.as_ref();
    OrdoTxEnvelope::decode_2718(&mut buf).map_err(|_| BackendError::internal("corrupt stored tx"))
}

/// The RPC header of a stored block (with hash and size).
pub fn rpc_header(block: &BlockRecord) -> Header {
    Header {
        hash: block.hash,
        inner: block.header.clone(),
        // geth no longer reports it: after the merge it says nothing about the chain.
        total_difficulty: None,
        size: Some(U256::from(block.size())),
    }
}

/// The RPC logs of one receipt, with block, transaction and log indices filled in.
pub(crate) fn receipt_logs(block: &BlockRecord, index: usize, r: &ReceiptRecord) -> Vec<Log> {
    r.receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(j, log)| rpc_log(block, index, r.first_log_index + j as u64, log))
        .collect()
}

/// A log of transaction `index` of `block`, at `log_index` within the block, as the RPC
/// shows it.
pub(crate) fn rpc_log(
    block: &BlockRecord,
    index: usize,
    log_index: u64,
    log: &alloy_primitives::Log,
) -> Log {
    Log {
        inner: log.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        block_timestamp: Some(block.header.timestamp),
        transaction_hash: block.tx_hashes.get(index).copied(),
        transaction_index: Some(index as u64),
        log_index: Some(log_index),
        removed: false,
    }
}

pub(crate) fn block_logs(block: &BlockRecord, receipts: &[ReceiptRecord]) -> Vec<Log> {
    receipts
        .iter()
        .enumerate()
        .flat_map(|(i, r)| receipt_logs(block, i, r))
        .collect()
}

/// Transaction `index`'s receipt in `block`; `blob_gas_price` is the block's (None on a
/// chain without blobs).
pub(crate) fn rpc_receipt(
    block: &BlockRecord,
    index: usize,
    r: &ReceiptRecord,
    blob_gas_price: Option<u128>,
) -> BackendResult<ordo_rpc::RpcReceipt> {
    let raw = block
        .transactions
        .get(index)
        .ok_or_else(|| BackendError::internal("receipt without tx"))?;
    let tx = decode_block_tx(raw)?;
    let to = tx.to();
    let blob_gas_used = tx.blob_gas_used();
    let tx_hash = block.tx_hashes[index];
    let logs = receipt_logs(block, index, r);
    let mut logs_iter = logs.into_iter();
    let inner = r
        .receipt
        .clone()
        .map_logs(|_| logs_iter.next().unwrap_or_default());
    let l1 = r.l1_fee.unwrap_or_default();
    let l1_block_info = match r.l1_fee {
        Some(_) => op_alloy_rpc_types::L1BlockInfo {
            l1_gas_price: Some(l1.params.l1_base_fee),
            l1_gas_used: Some(u128::from(l1.gas_used)),
            l1_fee: Some(u128::try_from(l1.fee).unwrap_or(u128::MAX)),
            l1_base_fee_scalar: Some(u128::from(l1.params.base_fee_scalar)),
            l1_blob_base_fee: Some(l1.params.blob_base_fee),
            l1_blob_base_fee_scalar: Some(u128::from(l1.params.blob_base_fee_scalar)),
            ..Default::default()
        },
        // A deposit pays none (and a receipt stored before the fee was charged says none).
        None => Default::default(),
    };
    let inner = alloy_rpc_types_eth::TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price,
        blob_gas_used,
        blob_gas_price: blob_gas_used.and(blob_gas_price),
        from: block.senders[index],
        to,
        contract_address: (r.contract_address != Address::ZERO).then_some(r.contract_address),
    };
    Ok(ordo_rpc::RpcReceipt {
        inner,
        l1_block_info,
    })
}
