//! The transactions and receipts a stored block can hold: Ethereum's five signed types
//! (legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702) and OP Stack's deposit (0x7E).
//!
//! OP's own envelopes (`OpTxEnvelope`, `OpReceiptEnvelope`) have no blob variant, and an
//! imported Ethereum chain (`ordo import`) has blob transactions; Ethereum's have no
//! deposit. These are both, with the same encodings, so records stored with OP's types
//! read back unchanged.

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptWithBloom, RlpDecodableReceipt, Sealed, Signed,
    TransactionEnvelope, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxEnvelope, TxLegacy,
    Typed2718,
};
use alloy_eips::eip2718::{Decodable2718, Eip2718Error, Eip2718Result, Encodable2718};
use alloy_primitives::{Bloom, Log};
use alloy_rlp::{BufMut, Decodable, Encodable};
use op_alloy_consensus::{OpDepositReceipt, OpTransaction, TxDeposit, TxPostExec};

use crate::deposit::DEPOSIT_TX_TYPE;

/// A transaction of a stored block, in the form a block body holds it (a blob transaction
/// without its sidecar).
#[derive(Debug, Clone, TransactionEnvelope)]
#[envelope(tx_type_name = OrdoTxType)]
pub enum OrdoTxEnvelope {
    /// An untagged legacy transaction.
    #[envelope(ty = 0)]
    Legacy(Signed<TxLegacy>),
    /// EIP-2930, type 1.
    #[envelope(ty = 1)]
    Eip2930(Signed<TxEip2930>),
    /// EIP-1559, type 2.
    #[envelope(ty = 2)]
    Eip1559(Signed<TxEip1559>),
    /// EIP-4844, type 3 (no sidecar: blobs are not part of a block).
    #[envelope(ty = 3)]
    Eip4844(Signed<TxEip4844>),
    /// EIP-7702, type 4.
    #[envelope(ty = 4)]
    Eip7702(Signed<TxEip7702>),
    /// OP Stack's deposit, type 0x7E.
    #[envelope(ty = 126)]
    #[serde(serialize_with = "op_alloy_consensus::serde_deposit_tx_rpc")]
    Deposit(Sealed<TxDeposit>),
}

impl OrdoTxEnvelope {
    /// Whether this is a deposit.
    pub fn is_deposit(&self) -> bool {
        matches!(self, Self::Deposit(_))
    }
}

impl OpTransaction for OrdoTxEnvelope {
    fn is_deposit(&self) -> bool {
        OrdoTxEnvelope::is_deposit(self)
    }

    fn as_deposit(&self) -> Option<&Sealed<TxDeposit>> {
        match self {
            Self::Deposit(d) => Some(d),
            _ => None,
        }
    }

    fn as_post_exec(&self) -> Option<&Sealed<TxPostExec>> {
        None
    }
}

impl From<TxEnvelope> for OrdoTxEnvelope {
    /// A signed Ethereum transaction as a block holds it (a blob sidecar is dropped).
    fn from(tx: TxEnvelope) -> Self {
        match tx {
            TxEnvelope::Legacy(t) => Self::Legacy(t),
            TxEnvelope::Eip2930(t) => Self::Eip2930(t),
            TxEnvelope::Eip1559(t) => Self::Eip1559(t),
            TxEnvelope::Eip4844(t) => {
                let (tx, signature, hash) = t.into_parts();
                Self::Eip4844(Signed::new_unchecked(tx.into(), signature, hash))
            }
            TxEnvelope::Eip7702(t) => Self::Eip7702(t),
        }
    }
}

/// A receipt of any of [`OrdoTxEnvelope`]'s types: a status (or, before Byzantium, a state
/// root), the cumulative gas, the logs and their bloom, and for a deposit its nonce and
/// receipt version. `T` is the log: consensus logs on disk, RPC logs in an answer, where it
/// serializes as geth's receipt fields (`type`, `status`/`root`, `cumulativeGasUsed`,
/// `logs`, `logsBloom`, a deposit's `depositNonce` and `depositReceiptVersion`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrdoReceiptEnvelope<T = Log> {
    /// The transaction type (EIP-2718), 0 for legacy.
    #[serde(rename = "type", with = "alloy_serde::quantity")]
    pub tx_type: u8,
    /// The receipt and its bloom.
    #[serde(flatten)]
    pub receipt: ReceiptWithBloom<OpDepositReceipt<T>>,
}

impl OrdoReceiptEnvelope {
    /// A receipt from what a transaction did (the bloom computed from `logs`).
    pub fn from_parts<'a>(
        status: Eip658Value,
        cumulative_gas_used: u64,
        logs: impl IntoIterator<Item = &'a Log>,
        tx_type: u8,
        deposit_nonce: Option<u64>,
        deposit_receipt_version: Option<u64>,
    ) -> Self {
        let logs: Vec<Log> = logs.into_iter().cloned().collect();
        let logs_bloom = alloy_primitives::logs_bloom(&logs);
        Self {
            tx_type,
            receipt: ReceiptWithBloom {
                receipt: OpDepositReceipt {
                    inner: Receipt {
                        status,
                        cumulative_gas_used,
                        logs,
                    },
                    deposit_nonce,
                    deposit_receipt_version,
                },
                logs_bloom,
            },
        }
    }
}

impl<T> OrdoReceiptEnvelope<T> {
    /// Whether the transaction succeeded (a pre-Byzantium receipt, which holds a state
    /// root instead, counts as success).
    pub fn is_success(&self) -> bool {
        self.receipt.receipt.inner.status.coerce_status()
    }

    /// The status as stored: EIP-658's flag, or a pre-Byzantium state root.
    pub fn status_or_root(&self) -> Eip658Value {
        self.receipt.receipt.inner.status
    }

    /// Gas used by the block up to and including this transaction.
    pub fn cumulative_gas_used(&self) -> u64 {
        self.receipt.receipt.inner.cumulative_gas_used
    }

    /// The logs.
    pub fn logs(&self) -> &[T] {
        &self.receipt.receipt.inner.logs
    }

    /// The bloom of the logs.
    pub fn logs_bloom(&self) -> &Bloom {
        &self.receipt.logs_bloom
    }

    /// A deposit's nonce (the sender's nonce before it).
    pub fn deposit_nonce(&self) -> Option<u64> {
        self.receipt.receipt.deposit_nonce
    }

    /// A deposit's receipt version.
    pub fn deposit_receipt_version(&self) -> Option<u64> {
        self.receipt.receipt.deposit_receipt_version
    }

    /// The same receipt with its logs mapped (consensus logs into RPC logs).
    pub fn map_logs<U>(self, f: impl FnMut(T) -> U) -> OrdoReceiptEnvelope<U> {
        OrdoReceiptEnvelope {
            tx_type: self.tx_type,
            receipt: ReceiptWithBloom {
                receipt: self.receipt.receipt.map_logs(f),
                logs_bloom: self.receipt.logs_bloom,
            },
        }
    }
}

impl Typed2718 for OrdoReceiptEnvelope {
    fn ty(&self) -> u8 {
        self.tx_type
    }
}

impl Encodable2718 for OrdoReceiptEnvelope {
    fn encode_2718_len(&self) -> usize {
        self.receipt.length() + usize::from(!self.is_legacy())
    }

    fn encode_2718(&self, out: &mut dyn BufMut) {
        if !self.is_legacy() {
            out.put_u8(self.tx_type);
        }
        self.receipt.encode(out);
    }
}

impl Decodable2718 for OrdoReceiptEnvelope {
    fn typed_decode(ty: u8, buf: &mut &[u8]) -> Eip2718Result<Self> {
        if !matches!(ty, 1..=4 | DEPOSIT_TX_TYPE) {
            return Err(Eip2718Error::UnexpectedType(ty));
        }
        Ok(Self {
            tx_type: ty,
            receipt: <OpDepositReceipt as RlpDecodableReceipt>::rlp_decode_with_bloom(buf)?,
        })
    }

    fn fallback_decode(buf: &mut &[u8]) -> Eip2718Result<Self> {
        Ok(Self {
            tx_type: 0,
            receipt: <OpDepositReceipt as RlpDecodableReceipt>::rlp_decode_with_bloom(buf)?,
        })
    }
}

/// The network form (as `OpReceiptEnvelope` and `ReceiptEnvelope` encode it, which is how
/// receipt records have always been stored): a legacy receipt as its list, a typed one as a
/// string holding its EIP-2718 bytes.
impl Encodable for OrdoReceiptEnvelope {
    fn encode(&self, out: &mut dyn BufMut) {
        self.network_encode(out)
    }

    fn length(&self) -> usize {
        self.network_len()
    }
}

impl Decodable for OrdoReceiptEnvelope {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Self::network_decode(buf).map_err(|_| alloy_rlp::Error::Custom("unexpected receipt type"))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, B256, Bytes};

    use super::*;

    fn log() -> Log {
        Log::new_unchecked(
            Address::repeat_byte(1),
            vec![B256::repeat_byte(2)],
            Bytes::from_static(b"data"),
        )
    }

    /// Receipts stored as OP's envelope (every record before this type) read back as the
    /// same receipt, and encode to the same bytes.
    #[test]
    fn op_receipts_read_back_and_encode_the_same() {
        use op_alloy_consensus::{OpReceiptEnvelope, OpTxType};
        let logs = [log()];
        for (ty, op_ty, nonce) in [
            (0u8, OpTxType::Legacy, None),
            (2, OpTxType::Eip1559, None),
            (4, OpTxType::Eip7702, None),
            (126, OpTxType::Deposit, Some(7)),
        ] {
            let op =
                OpReceiptEnvelope::from_parts(true, 21_000, &logs, op_ty, nonce, nonce.map(|_| 1));
            let mut stored = Vec::new();
            op.encode(&mut stored);
            let ours = OrdoReceiptEnvelope::decode(&mut stored.as_slice()).unwrap();
            assert_eq!(ours.tx_type, ty);
            assert_eq!(ours.deposit_nonce(), nonce);
            assert_eq!(ours.logs(), &logs);
            let mut again = Vec::new();
            ours.encode(&mut again);
            assert_eq!(again, stored);
            assert_eq!(ours.encoded_2718(), op.encoded_2718());
        }
    }

    /// A blob transaction's receipt (which OP's envelope cannot hold) and a pre-Byzantium
    /// one (a state root for a status) round-trip.
    #[test]
    fn blob_and_state_root_receipts_round_trip() {
        for (ty, status) in [
            (3u8, Eip658Value::Eip658(false)),
            (0, Eip658Value::PostState(B256::repeat_byte(9))),
        ] {
            let r = OrdoReceiptEnvelope::from_parts(status, 5, &[log()], ty, None, None);
            let raw = r.encoded_2718();
            assert_eq!(raw[0] == 3, ty == 3);
            assert_eq!(OrdoReceiptEnvelope::decode_2718_exact(&raw).unwrap(), r);
            let mut net = Vec::new();
            r.encode(&mut net);
            assert_eq!(OrdoReceiptEnvelope::decode(&mut net.as_slice()).unwrap(), r);
        }
    }
}
