//! The dev chain's accounts and keys, and transactions signed by hand.

use std::{path::Path, sync::OnceLock};

use alloy::{
    consensus::{SignableTransaction, TxEip1559},
    network::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use eyre::Result;
pub use ordo_primitives::{DEV_CHAIN_ID, DEV_MNEMONIC};

/// Dev account 0 (m/44'/60'/0'/0/0).
pub const DEV_ACCOUNT0: Address = ordo_primitives::DEV_ACCOUNTS[0];
/// The dev accounts' starting balance in wei (`ordo_primitives::DEV_BALANCE_ETHER`, 10000 ETH).
pub const DEV_BALANCE: U256 = {
    let wei = ordo_primitives::DEV_BALANCE_ETHER as u128 * ETHER;
    U256::from_limbs([wei as u64, (wei >> 64) as u64, 0, 0])
};
/// The minimum base fee of the dev chain (1 gwei).
pub const GWEI: u128 = 1_000_000_000;
/// 1 ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// The 10 dev signers, derived once (PBKDF2 on the mnemonic is slow-ish).
pub fn dev_signers() -> &'static [PrivateKeySigner] {
    static SIGNERS: OnceLock<Vec<PrivateKeySigner>> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        use alloy::signers::local::{MnemonicBuilder, coins_bip39::English};
        let parent = MnemonicBuilder::<English>::default()
            .phrase(DEV_MNEMONIC)
            .build_parent_key()
            .unwrap_or_else(|e| panic!("dev mnemonic: {e}"));
        parent
            .children_from(0)
            .take(10)
            .map(|s| s.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    })
}

/// Dev signer `i` (0..10).
pub fn dev_signer(i: usize) -> PrivateKeySigner {
    dev_signers()[i].clone()
}

/// Signs `tx` with `signer` and returns the EIP-2718 encoding (what `eth_sendRawTransaction`
/// takes) and the transaction hash. Works for every tx type, including ones the node refuses.
pub fn sign_raw<T>(signer: &PrivateKeySigner, tx: T) -> (Bytes, B256)
where
    T: SignableTransaction<Signature>,
    alloy::consensus::Signed<T>: Encodable2718,
{
    let sig = signer
        .sign_hash_sync(&tx.signature_hash())
        .unwrap_or_else(|e| panic!("signing cannot fail for a local key: {e}"));
    let signed = tx.into_signed(sig);
    let raw = signed.encoded_2718();
    // The tx hash is keccak256 of the EIP-2718 encoding (for legacy: of the RLP).
    let hash = keccak256(&raw);
    (raw.into(), hash)
}

/// An EIP-1559 transfer with explicit fields (gas 21000).
pub fn transfer_1559(
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

/// `count` signed 1-wei EIP-1559 transfers from `signer` to fresh addresses, nonces from
/// `first_nonce` on (tip 1 gwei): load for tests that need many transactions.
pub fn transfers_to_fresh_addresses(
    signer: &PrivateKeySigner,
    first_nonce: u64,
    count: u64,
    max_fee_per_gas: u128,
) -> Vec<(Bytes, B256)> {
    (first_nonce..first_nonce + count)
        .map(|nonce| {
            let tx = transfer_1559(
                DEV_CHAIN_ID,
                nonce,
                random_address(),
                U256::from(1),
                max_fee_per_gas,
                GWEI,
            );
            sign_raw(signer, tx)
        })
        .collect()
}

/// A random fresh address (no balance, no code).
pub fn random_address() -> Address {
    PrivateKeySigner::random().address()
}

/// Writes `signer`'s secret as a raw hex key file only its owner can read (the node refuses
/// key files with wider permissions).
pub fn write_key_file(path: &Path, signer: &PrivateKeySigner) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, alloy::primitives::hex::encode(signer.to_bytes()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_account0_matches_mnemonic() {
        assert_eq!(dev_signer(0).address(), DEV_ACCOUNT0);
        assert_eq!(DEV_BALANCE, U256::from(10_000u64) * U256::from(ETHER));
    }
}
