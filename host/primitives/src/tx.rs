//! The transaction as it travels through the node, and the stateless part of ingress.

use alloy_consensus::{Transaction, TxEnvelope, TxType, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};

/// Largest accepted encoded transaction (geth's `txMaxSize`: 4 slots of 32 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Largest accepted blob transaction with its sidecar (geth's blob pool: 1 MiB).
pub const MAX_BLOB_TX_SIZE: usize = 1024 * 1024;

/// A decoded transaction with its recovered sender and the exact bytes it arrived as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledTx {
    /// The signed transaction.
    pub tx: TxEnvelope,
    /// Recovered sender.
    pub sender: Address,
    /// Transaction hash (keccak of the EIP-2718 bytes).
    pub hash: B256,
    /// The EIP-2718 bytes.
    pub encoded: Bytes,
}

/// A pooled transaction offered to an ordering policy, with its arrival facts.
///
/// Arrival matters to policies (first-come-first-served, arrival windows) but not to the
/// transaction itself, so it travels beside the shared [`PooledTx`] rather than inside it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The transaction.
    pub tx: std::sync::Arc<PooledTx>,
    /// The pool's arrival sequence: strictly increasing in arrival order. A restart
    /// renumbers the restored transactions in their original (WAL) order.
    pub arrival_seq: u64,
    /// When the node accepted it, in milliseconds since the Unix epoch (after a restart: when
    /// it was restored from the WAL).
    pub arrival_ms: u64,
}

impl std::ops::Deref for Candidate {
    type Target = PooledTx;

    fn deref(&self) -> &PooledTx {
        &self.tx
    }
}

/// Why a raw transaction was refused before any state was looked at.
///
/// `Display` strings are geth's, because wallets match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Empty input.
    #[error("empty typed transaction bytes")]
    Empty,
    /// RLP or EIP-2718 decoding failed.
    #[error("rlp: {0}")]
    Malformed(String),
    /// The envelope type is not accepted on this chain (blobs on an L2).
    #[error("transaction type not supported")]
    TypeNotSupported,
    /// Bigger than [`MAX_TX_SIZE`].
    #[error("oversized data")]
    Oversized,
    /// The signature does not recover to a sender.
    #[error("invalid sender")]
    InvalidSender,
    /// A blob transaction's blobs do not match its commitments, proofs or versioned hashes.
    #[error("invalid blob sidecar: {0}")]
    InvalidBlobs(String),
}

impl PooledTx {
    /// Nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }
    /// Gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }
    /// The fee cap (legacy: gas price).
    pub fn max_fee_per_gas(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }
    /// The tip cap (legacy: gas price).
    pub fn max_priority_fee_per_gas(&self) -> u128 {
        self.tx
            .max_priority_fee_per_gas()
            .unwrap_or_else(|| self.tx.max_fee_per_gas())
    }
    /// Tip per gas actually paid at `base_fee`; `None` if the fee cap is below it.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
    /// The most this transaction can cost its sender: `gas * fee cap + value`, or `None`
    /// when that does not fit in 256 bits. No balance covers such a transaction, and a
    /// wrapping sum would make it look free (value = 2^256 - gas * fee cap costs "0").
    pub fn max_cost(&self) -> Option<U256> {
        // u64 * u128 fits in 192 bits; only the additions can overflow.
        let blob_gas = self.tx.blob_gas_used().unwrap_or_default();
        let blob_fee = self.tx.max_fee_per_blob_gas().unwrap_or_default();
        (U256::from(self.tx.gas_limit()) * U256::from(self.tx.max_fee_per_gas()))
            .checked_add(U256::from(blob_gas) * U256::from(blob_fee))?
            .checked_add(self.tx.value())
    }
    /// Encoded size in bytes.
    pub fn size(&self) -> usize {
        self.encoded.len()
    }
    /// Intrinsic gas as Prague defines it (including the EIP-7623 calldata floor).
    pub fn intrinsic_gas(&self) -> u64 {
        intrinsic_gas(&self.tx)
    }

    /// Wraps an already-signed transaction (tests, the SDK, the dev tools).
    pub fn from_signed(tx: TxEnvelope) -> Result<Self, DecodeError> {
        let sender = tx
            .recover_signer()
            .map_err(|_| DecodeError::InvalidSender)?;
        let encoded = Bytes::from(tx.encoded_2718());
        let hash = *tx.hash();
        Ok(Self {
            tx,
            sender,
            hash,
            encoded,
        })
    }
}

/// Decodes EIP-2718 bytes, refuses blob transactions and oversized input, and recovers the
/// sender. This is the CPU-heavy part of ingress; callers run it off the async reactor.
pub fn decode_raw_tx(raw: &[u8]) -> Result<PooledTx, DecodeError> {
    let tx = decode_envelope(raw)?;
    let sender = tx
        .recover_signer()
        .map_err(|_| DecodeError::InvalidSender)?;
    Ok(pooled(tx, sender, raw))
}

/// [`decode_raw_tx`] on a chain that has blob transactions (an imported Ethereum chain; an
/// L2 has none): a type-3 transaction comes in its network form, with its sidecar, whose
/// blobs must match their commitments, proofs and the versioned hashes (KZG). `version` is
/// the sidecar version the chain takes now (0, blob proofs, before Osaka; 1, cell proofs,
/// from it); None takes either (what the pool restores was accepted under its fork). The
/// pooled transaction keeps the sidecar, and its bytes are the network form.
pub fn decode_raw_tx_with_blobs(raw: &[u8], version: Option<u8>) -> Result<PooledTx, DecodeError> {
    let Some(tx) = blob_envelope(raw, Sidecar::Check(version))? else {
        return decode_raw_tx(raw);
    };
    let sender = tx
        .recover_signer()
        .map_err(|_| DecodeError::InvalidSender)?;
    Ok(pooled(tx, sender, raw))
}

/// What is checked of a blob transaction's sidecar.
enum Sidecar {
    /// Its version (if given) and its blobs against their commitments and proofs.
    Check(Option<u8>),
    /// Nothing: the replica that accepted the transaction checked it.
    Trusted,
}

/// A type-3 transaction in its network form (its sidecar kept); `None` when `raw` is not
/// type 3.
fn blob_envelope(raw: &[u8], sidecar: Sidecar) -> Result<Option<TxEnvelope>, DecodeError> {
    if raw.first() != Some(&(TxType::Eip4844 as u8)) {
        return Ok(None);
    }
    if raw.len() > MAX_BLOB_TX_SIZE {
        return Err(DecodeError::Oversized);
    }
    type WithSidecar = alloy_consensus::EthereumTxEnvelope<
        alloy_consensus::TxEip4844WithSidecar<alloy_eips::eip7594::BlobTransactionSidecarVariant>,
    >;
    let network =
        WithSidecar::decode_2718_exact(raw).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if let (alloy_consensus::EthereumTxEnvelope::Eip4844(signed), Sidecar::Check(version)) =
        (&network, sidecar)
    {
        let got = match signed.tx().sidecar {
            alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip4844(_) => 0,
            alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip7594(_) => 1,
        };
        if let Some(want) = version
            && got != want
        {
            return Err(DecodeError::InvalidBlobs(format!(
                "unexpected sidecar version, want: {want}, got: {got}"
            )));
        }
        signed
            .tx()
            .validate_blob(alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get())
            .map_err(|e| DecodeError::InvalidBlobs(e.to_string()))?;
    }
    Ok(Some(network.into_envelope()))
}

/// [`decode_raw_tx`] for bytes whose sender is already known (the replica that accepted
/// them recovered it): the same checks, without the signature recovery.
pub fn decode_with_sender(raw: &[u8], sender: Address) -> Result<PooledTx, DecodeError> {
    Ok(pooled(decode_envelope(raw)?, sender, raw))
}

/// [`decode_with_sender`] for what a replica group committed: a type-3 transaction (an
/// imported Ethereum chain's) keeps its sidecar, as the replica that accepted it pooled it.
/// Its blobs are not checked again: that replica checked them, as it recovered the sender,
/// and the group takes both on its word.
pub fn decode_committed(raw: &[u8], sender: Address) -> Result<PooledTx, DecodeError> {
    match blob_envelope(raw, Sidecar::Trusted)? {
        Some(tx) => Ok(pooled(tx, sender, raw)),
        None => decode_with_sender(raw, sender),
    }
}

fn pooled(tx: TxEnvelope, sender: Address, raw: &[u8]) -> PooledTx {
    PooledTx {
        hash: *tx.hash(),
        tx,
        sender,
        encoded: Bytes::copy_from_slice(raw),
    }
}

fn decode_envelope(raw: &[u8]) -> Result<TxEnvelope, DecodeError> {
    if raw.is_empty() {
        return Err(DecodeError::Empty);
    }
    // Typed envelopes start with their type byte; only 1 (2930), 2 (1559), 4 (7702) are
    // accepted. 3 (blobs) is refused as on OP Stack L2s, whatever its size.
    if raw[0] <= 0x7f && !matches!(raw[0], 1 | 2 | 4) {
        return Err(DecodeError::TypeNotSupported);
    }
    if raw.len() > MAX_TX_SIZE {
        return Err(DecodeError::Oversized);
    }
    let tx =
        TxEnvelope::decode_2718_exact(raw).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if tx.tx_type() == TxType::Eip4844 {
        return Err(DecodeError::TypeNotSupported);
    }
    Ok(tx)
}

/// Intrinsic gas of a transaction under Prague rules: the larger of the standard intrinsic
/// cost and the EIP-7623 calldata floor.
pub fn intrinsic_gas(tx: &TxEnvelope) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let tokens = zeros + non_zeros * 4;
    let mut gas: u64 = 21_000 + zeros * 4 + non_zeros * 16;
    if matches!(tx.kind(), TxKind::Create) {
        // EIP-2: contract creation; EIP-3860: 2 gas per 32-byte word of initcode.
        gas += 32_000 + (input.len() as u64).div_ceil(32) * 2;
    }
    if let Some(list) = tx.access_list() {
        for item in list.iter() {
            gas += 2_400 + 1_900 * item.storage_keys.len() as u64;
        }
    }
    if let Some(auths) = tx.authorization_list() {
        // EIP-7702 PER_EMPTY_ACCOUNT_COST.
        gas += 25_000 * auths.len() as u64;
    }
    let floor = 21_000 + 10 * tokens;
    gas.max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blob transaction of the execution-apis suite's `send-blob-tx` case (network form).
    fn suite_blob_tx() -> Vec<u8> {
        let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../tests/vectors/execution-apis/tests/eth_sendRawTransaction/send-blob-tx.io",
        );
        #[allow(clippy::unwrap_used)]
        let text = std::fs::read_to_string(case).unwrap();
        let start = text.find("\"params\":[\"0x").map(|i| i + 13);
        #[allow(clippy::unwrap_used)]
        let hex = &text[start.unwrap()..];
        #[allow(clippy::unwrap_used)]
        let hex = &hex[..hex.find('"').unwrap()];
        #[allow(clippy::unwrap_used)]
        alloy_primitives::hex::decode(hex).unwrap()
    }

    #[test]
    fn blob_transactions_decode_only_where_blobs_exist_and_only_with_valid_blobs() {
        let raw = suite_blob_tx();
        assert_eq!(decode_raw_tx(&raw), Err(DecodeError::TypeNotSupported));
        #[allow(clippy::unwrap_used)]
        let tx = decode_raw_tx_with_blobs(&raw, Some(1)).unwrap();
        // The suite's sidecar has cell proofs (version 1, from Osaka): a pool before Osaka
        // takes blob proofs only; one restoring what it accepted takes either.
        assert_eq!(
            decode_raw_tx_with_blobs(&raw, Some(0)).map(|t| t.hash),
            Err(DecodeError::InvalidBlobs(
                "unexpected sidecar version, want: 0, got: 1".into()
            ))
        );
        assert_eq!(
            decode_raw_tx_with_blobs(&raw, None).map(|t| t.hash),
            Ok(tx.hash)
        );
        assert_eq!(
            tx.hash,
            "0x05d85f6a761cac82cfdf06dd168952838ac452b10641aabccdfdad46e03d2f0b"
                .parse::<B256>()
                .unwrap_or_default()
        );
        assert_eq!(tx.encoded.as_ref(), raw.as_slice());
        // The blob fee counts in what the sender must be able to pay.
        let without_blobs =
            U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.tx.value();
        assert!(tx.max_cost().is_some_and(|c| c > without_blobs));
        // One byte of a blob changed: the proof no longer holds.
        let mut bad = raw.clone();
        let at = bad.len() / 2;
        bad[at] ^= 1;
        assert!(
            matches!(
                decode_raw_tx_with_blobs(&bad, Some(1)),
                Err(DecodeError::InvalidBlobs(_))
            ),
            "{:?}",
            decode_raw_tx_with_blobs(&bad, Some(1)).map(|t| t.hash)
        );
    }

    /// What a replica group commits of a blob transaction (its bytes and the sender the
    /// accepting replica recovered) pools on every replica as it pooled there: the sidecar
    /// kept, the same hash and bytes. `decode_with_sender` (the L2's decode) refuses it.
    #[test]
    fn a_committed_blob_transaction_keeps_its_sidecar_on_every_replica() {
        let raw = suite_blob_tx();
        #[allow(clippy::unwrap_used)]
        let accepted = decode_raw_tx_with_blobs(&raw, Some(1)).unwrap();
        assert_eq!(
            decode_with_sender(&raw, accepted.sender).map(|t| t.hash),
            Err(DecodeError::TypeNotSupported)
        );
        #[allow(clippy::unwrap_used)]
        let committed = decode_committed(&raw, accepted.sender).unwrap();
        // The whole transaction, its sidecar included.
        assert_eq!(committed, accepted);
        let has_sidecar = |tx: &PooledTx| {
            matches!(
                tx.tx.as_eip4844().map(|signed| signed.tx()),
                Some(alloy_consensus::TxEip4844Variant::TxEip4844WithSidecar(_))
            )
        };
        assert!(has_sidecar(&committed));
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        assert_eq!(decode_raw_tx(&[]), Err(DecodeError::Empty));
        let garbage = decode_raw_tx(&[0xf8, 0x01, 0x02]);
        assert!(
            matches!(garbage, Err(DecodeError::Malformed(_))),
            "{garbage:?}"
        );
        let mut oversized = vec![0u8; MAX_TX_SIZE + 1];
        oversized[0] = 2;
        assert_eq!(decode_raw_tx(&oversized), Err(DecodeError::Oversized));
    }

    #[test]
    fn a_known_sender_decodes_as_a_recovered_one_and_the_checks_still_apply() {
        use alloy_consensus::{SignableTransaction, TxEip1559};
        use alloy_signer::SignerSync;
        #[allow(clippy::unwrap_used)]
        let key = alloy_signer_local::PrivateKeySigner::from_slice(&[9u8; 32]).unwrap();
        let tx = TxEip1559 {
            chain_id: 1337,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            ..Default::default()
        };
        #[allow(clippy::unwrap_used)]
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let recovered = decode_raw_tx(&raw);
        assert_eq!(decode_with_sender(&raw, key.address()), recovered);
        assert_eq!(decode_committed(&raw, key.address()), recovered);
        for decode in [decode_with_sender, decode_committed] {
            assert_eq!(
                decode(&[0x05, 0xc0], key.address()),
                Err(DecodeError::TypeNotSupported)
            );
        }
    }

    #[test]
    fn unknown_type_byte_is_not_supported() {
        assert_eq!(
            decode_raw_tx(&[0x05, 0xc0]),
            Err(DecodeError::TypeNotSupported)
        );
    }
}
