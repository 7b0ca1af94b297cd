//! The contracts every Ordo genesis holds at OP Stack's predeploy addresses, so tools that
//! bridge to or price transactions on an OP chain find them: the message passer
//! (withdrawals), L1Block (the L1 origin's values), the GasPriceOracle (the L1 data fee
//! over L1Block's values) and the fee vaults (where base fees and L1 data fees collect, for
//! withdrawal to L1). Their runtime code is what `scripts/contracts` compiled and checked in
//! under `contracts/out/*.runtime.bin`.
//!
//! Beside them, Ethereum's system contracts that every block calls before its transactions:
//! EIP-4788's beacon roots and EIP-2935's block-hash history (the EIPs' own code, from
//! alloy, with nonce 1 as geth's dev genesis holds them).

use alloy_primitives::{Address, B256, Bytes, U256, address};

use crate::ChainSpec;

/// OP's L2ToL1MessagePasser (`contracts/l2/L2ToL1MessagePasser.sol`).
pub const MESSAGE_PASSER: Address = address!("0x4200000000000000000000000000000000000016");
/// OP's L1Block (`contracts/l2/L1Block.sol`): the L1 origin's number, time, hash and fees.
pub const L1_BLOCK: Address = address!("0x4200000000000000000000000000000000000015");
/// OP's GasPriceOracle (`contracts/l2/GasPriceOracle.sol`): the L1 data fee of a transaction.
pub const GAS_PRICE_ORACLE: Address = address!("0x420000000000000000000000000000000000000F");

/// OP's BaseFeeVault (`contracts/l2/FeeVault.sol`): the base fee of every transaction, which
/// Ethereum burns.
pub const BASE_FEE_VAULT: Address = address!("0x4200000000000000000000000000000000000019");
/// OP's L1FeeVault (`contracts/l2/FeeVault.sol`): the L1 data fee of every transaction.
pub const L1_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001A");
/// OP's depositor account: the sender of the L1-attributes deposit, the only caller L1Block
/// takes new values from.
pub const DEPOSITOR: Address = address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");

/// The fee vaults' storage slot of the recipient on L1 (`FeeVault.recipientAddress`).
const VAULT_RECIPIENT_SLOT: u64 = 1;

/// Every predeploy: address and runtime code (hex, no `0x`).
const PREDEPLOYS: [(Address, &str); 5] = [
    (
        MESSAGE_PASSER,
        include_str!("../../../contracts/out/L2ToL1MessagePasser.runtime.bin"),
    ),
    (
        L1_BLOCK,
        include_str!("../../../contracts/out/L1Block.runtime.bin"),
    ),
    (
        GAS_PRICE_ORACLE,
        include_str!("../../../contracts/out/GasPriceOracle.runtime.bin"),
    ),
    (
        BASE_FEE_VAULT,
        include_str!("../../../contracts/out/BaseFeeVault.runtime.bin"),
    ),
    (
        L1_FEE_VAULT,
        include_str!("../../../contracts/out/L1FeeVault.runtime.bin"),
    ),
];

/// The runtime code of the predeploy at `address` (empty for any other address).
pub fn predeploy_code(address: Address) -> Bytes {
    PREDEPLOYS
        .iter()
        .find(|(at, _)| *at == address)
        // Checked in by scripts/contracts; a unit test below proves each decodes.
        .and_then(|(_, hex)| alloy_primitives::hex::decode(hex.trim()).ok())
        .map(Bytes::from)
        .unwrap_or_default()
}

impl ChainSpec {
    /// Puts the predeploys in the genesis allocation where it has no code of its own: a
    /// genesis that already carries OP's (an OP chain's) keeps them. The fee vaults withdraw
    /// to [`ChainSpec::fee_vault_recipient`].
    pub fn with_predeploys(mut self) -> Self {
        for (address, code) in [
            (
                alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
                &alloy_eips::eip4788::BEACON_ROOTS_CODE,
            ),
            (
                alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                &alloy_eips::eip2935::HISTORY_STORAGE_CODE,
            ),
        ] {
            let account = self.alloc.entry(address).or_default();
            if account.code.is_empty() {
                account.code = code.clone();
                account.nonce = account.nonce.max(1);
            }
        }
        let recipient = self.fee_vault_recipient;
        for (address, _) in PREDEPLOYS {
            let account = self.alloc.entry(address).or_default();
            if account.code.is_empty() {
                account.code = predeploy_code(address);
                if matches!(address, BASE_FEE_VAULT | L1_FEE_VAULT) && !recipient.is_zero() {
                    account.storage.insert(
                        B256::from(U256::from(VAULT_RECIPIENT_SLOT)),
                        U256::from_be_slice(recipient.as_slice()),
                    );
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenesisAccount;

    #[test]
    fn every_predeploys_runtime_code_is_checked_in() {
        for (address, _) in PREDEPLOYS {
            let code = predeploy_code(address);
            // Runtime code, not creation code (which would copy the runtime out).
            assert!(code.len() > 300, "{address}: {} bytes", code.len());
        }
        assert_ne!(
            predeploy_code(MESSAGE_PASSER)[..],
            include_bytes!("../../../contracts/out/L2ToL1MessagePasser.bin")[..]
        );
        assert!(predeploy_code(Address::ZERO).is_empty());
    }

    #[test]
    fn a_genesis_keeps_its_own_predeploys() {
        let mut spec = ChainSpec::empty(1);
        spec.alloc.insert(
            MESSAGE_PASSER,
            GenesisAccount {
                code: Bytes::from_static(&[0x60, 0x00]),
                ..Default::default()
            },
        );
        let spec = spec.with_predeploys();
        assert_eq!(spec.alloc[&MESSAGE_PASSER].code.len(), 2);
        assert_eq!(
            spec.alloc[&GAS_PRICE_ORACLE].code,
            predeploy_code(GAS_PRICE_ORACLE)
        );
        let fresh = ChainSpec::empty(1).with_predeploys();
        for (address, _) in PREDEPLOYS {
            assert_eq!(fresh.alloc[&address].code, predeploy_code(address));
        }
    }
}
