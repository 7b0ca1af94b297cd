//! Deposits: what the L1 portal's `TransactionDeposited` log says, and the deposit
//! transaction (EIP-2718 type 0x7E, OP Stack's `TxDeposit` with a user-deposit source hash)
//! the L2 derives from it. Ordo's deposits are OP's byte for byte, so a tool that computes an
//! OP deposit's L2 hash from an L1 receipt computes Ordo's.

use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
pub use op_alloy_consensus::{TxDeposit, UserDepositSource};

/// The EIP-2718 type byte of a deposit transaction.
pub const DEPOSIT_TX_TYPE: u8 = 0x7e;

/// The opaqueData layout this node reads (the portal's `DEPOSIT_VERSION`).
pub const DEPOSIT_VERSION: u64 = 0;

/// Least length of a version-0 opaqueData: mint (32) ‖ value (32) ‖ gasLimit (8) ‖
/// isCreation (1), then the calldata.
const OPAQUE_FIXED: usize = 32 + 32 + 8 + 1;

/// One `TransactionDeposited` log of the portal, where L1 has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositLog {
    /// The L1 block holding the log.
    pub l1_block_hash: B256,
    pub l1_block_number: u64,
    /// The log's index in that block (its position among all the block's logs).
    pub log_index: u64,
    /// Topic 1: the L2 sender (aliased by the portal when an L1 contract deposited).
    pub from: Address,
    /// Topic 2: the L2 recipient (ignored for a creation).
    pub to: Address,
    /// Topic 3: the opaqueData layout.
    pub version: U256,
    /// `abi.encodePacked(mint, value, gasLimit, isCreation, data)` for version 0.
    pub opaque_data: Bytes,
}

/// A portal log that is not a deposit this node can derive. The portal never emits one, so
/// derivation stops on it rather than skip a deposit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepositError {
    #[error(
        "deposit log {log_index} of L1 block {block}: opaqueData version {version} is not {DEPOSIT_VERSION}"
    )]
    Version {
        block: B256,
        log_index: u64,
        version: U256,
    },
    #[error(
        "deposit log {log_index} of L1 block {block}: opaqueData is {len} bytes, shorter than {OPAQUE_FIXED}"
    )]
    Short {
        block: B256,
        log_index: u64,
        len: usize,
    },
    #[error("deposit log {log_index} of L1 block {block}: mint {mint} does not fit 128 bits")]
    Mint {
        block: B256,
        log_index: u64,
        mint: U256,
    },
}

impl DepositLog {
    /// The deposit transaction this log makes on L2 (OP's `UnmarshalDepositLogEvent`): the
    /// source hash binds it to this L1 block and log, so each log makes exactly one.
    pub fn to_tx(&self) -> Result<TxDeposit, DepositError> {
        let (block, log_index) = (self.l1_block_hash, self.log_index);
        if self.version != U256::from(DEPOSIT_VERSION) {
            return Err(DepositError::Version {
                block,
                log_index,
                version: self.version,
            });
        }
        let data = &self.opaque_data[..];
        if data.len() < OPAQUE_FIXED {
            return Err(DepositError::Short {
                block,
                log_index,
                len: data.len(),
            });
        }
        let mint = U256::from_be_slice(&data[..32]);
        let value = U256::from_be_slice(&data[32..64]);
        let mut gas = [0u8; 8];
        gas.copy_from_slice(&data[64..72]);
        let creation = data[72] != 0;
        Ok(TxDeposit {
            source_hash: UserDepositSource::new(block, log_index).source_hash(),
            from: self.from,
            to: if creation {
                TxKind::Create
            } else {
                TxKind::Call(self.to)
            },
            mint: u128::try_from(mint).map_err(|_| DepositError::Mint {
                block,
                log_index,
                mint,
            })?,
            value,
            gas_limit: u64::from_be_bytes(gas),
            is_system_transaction: false,
            input: Bytes::copy_from_slice(&data[OPAQUE_FIXED..]),
        })
    }
}

/// A deposit transaction on its way into a block: the transaction, its hash and its
/// EIP-2718 bytes (what the block body holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositTx {
    pub tx: TxDeposit,
    pub hash: B256,
    pub encoded: Bytes,
}

impl DepositTx {
    /// Wraps `tx`, encoding it once.
    pub fn new(tx: TxDeposit) -> Self {
        let encoded = Bytes::from(tx.encoded_2718());
        Self {
            hash: keccak256(&encoded),
            tx,
            encoded,
        }
    }

    /// Decodes a deposit's EIP-2718 bytes (a block body's), keeping them as they are.
    pub fn decode(raw: &Bytes) -> Result<Self, alloy_eips::eip2718::Eip2718Error> {
        let tx = TxDeposit::decode_2718_exact(raw)?;
        Ok(Self {
            tx,
            hash: keccak256(raw),
            encoded: raw.clone(),
        })
    }

    /// The L2 sender.
    pub fn from(&self) -> Address {
        self.tx.from
    }
}

/// Whether EIP-2718 bytes hold a deposit (type 0x7E) rather than a signed transaction.
pub fn is_deposit(raw: &[u8]) -> bool {
    raw.first() == Some(&DEPOSIT_TX_TYPE)
}

/// The L2 address of an L1 contract that deposits (OP's `applyL1ToL2Alias`): its address
/// plus `0x1111000000000000000000000000000000001111`, wrapping.
pub fn l1_to_l2_alias(l1: Address) -> Address {
    let offset = U256::from_be_slice(&alloy_primitives::hex!(
        "1111000000000000000000000000000000001111"
    ));
    let sum = U256::from_be_slice(l1.as_slice()).wrapping_add(offset);
    Address::from_slice(&sum.to_be_bytes::<32>()[12..])
}

#[cfg(test)]
mod tests {
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{address, b256, bytes, hex};

    use super::*;

    fn log(opaque: Bytes) -> DepositLog {
        DepositLog {
            l1_block_hash: b256!(
                "0x0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
            ),
            l1_block_number: 7,
            log_index: 3,
            from: address!("0x1111111111111111111111111111111111111111"),
            to: address!("0x2222222222222222222222222222222222222222"),
            version: U256::ZERO,
            opaque_data: opaque,
        }
    }

    /// `abi.encodePacked(mint, value, gasLimit, isCreation, data)`.
    fn packed(mint: u64, value: u64, gas: u64, creation: bool, data: &[u8]) -> Bytes {
        let mut out = Vec::new();
        out.extend_from_slice(&U256::from(mint).to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
        out.extend_from_slice(&gas.to_be_bytes());
        out.push(u8::from(creation));
        out.extend_from_slice(data);
        out.into()
    }

    #[test]
    fn a_call_deposit_unpacks_every_field_and_is_type_0x7e() {
        let tx = log(packed(5, 3, 100_000, false, &hex!("c0ffee")))
            .to_tx()
            .unwrap();
        assert_eq!(tx.mint, 5);
        assert_eq!(tx.value, U256::from(3));
        assert_eq!(tx.gas_limit, 100_000);
        assert_eq!(
            tx.to,
            TxKind::Call(address!("0x2222222222222222222222222222222222222222"))
        );
        assert_eq!(tx.input, bytes!("c0ffee"));
        assert!(!tx.is_system_transaction);
        assert_eq!(tx.encoded_2718()[0], DEPOSIT_TX_TYPE);
        // The source hash is OP's user-deposit rule: keccak(0 ‖ keccak(blockHash ‖ logIndex)).
        let mut id = [0u8; 64];
        id[..32].copy_from_slice(tx_block().as_slice());
        id[56..].copy_from_slice(&3u64.to_be_bytes());
        let mut domain = [0u8; 64];
        domain[32..].copy_from_slice(alloy_primitives::keccak256(id).as_slice());
        assert_eq!(tx.source_hash, alloy_primitives::keccak256(domain));
    }

    fn tx_block() -> B256 {
        log(Bytes::new()).l1_block_hash
    }

    #[test]
    fn a_creation_deposit_has_no_recipient() {
        let tx = log(packed(0, 0, 60_000, true, &hex!("6000")))
            .to_tx()
            .unwrap();
        assert_eq!(tx.to, TxKind::Create);
    }

    #[test]
    fn logs_the_portal_never_writes_are_refused() {
        let mut wrong = log(packed(1, 1, 21_000, false, &[]));
        wrong.version = U256::from(1);
        assert!(matches!(wrong.to_tx(), Err(DepositError::Version { .. })));
        let short = log(Bytes::from(vec![0u8; OPAQUE_FIXED - 1]));
        assert!(matches!(
            short.to_tx(),
            Err(DepositError::Short { len: 72, .. })
        ));
        let mut huge = packed(0, 0, 21_000, false, &[]).to_vec();
        huge[..32].copy_from_slice(&U256::MAX.to_be_bytes::<32>());
        assert!(matches!(
            log(huge.into()).to_tx(),
            Err(DepositError::Mint { .. })
        ));
    }

    #[test]
    fn an_l1_contract_is_aliased_as_op_does() {
        // The offset added, and a sum that wraps past 2^160.
        assert_eq!(
            l1_to_l2_alias(address!("0x0000000000000000000000000000000000000000")),
            address!("0x1111000000000000000000000000000000001111")
        );
        assert_eq!(
            l1_to_l2_alias(address!("0xffffffffffffffffffffffffffffffffffffffff")),
            address!("0x1111000000000000000000000000000000001110")
        );
    }
}
