//! Chain parameters and the genesis allocation.

use std::collections::BTreeMap;

use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B256, Bytes, U256, address};

/// Chain id of `ordo dev` (distinct from anvil's 31337 so an L1 dev node and an Ordo dev
/// chain can run side by side without replayable signatures).
pub const DEV_CHAIN_ID: u64 = 7331;

/// The mnemonic anvil and hardhat use; `ordo dev` prefunds its first 10 accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The addresses of [`DEV_MNEMONIC`]'s first 10 accounts (m/44'/60'/0'/0/i), which
/// [`ChainSpec::dev`] prefunds (a test below derives them from the mnemonic).
pub const DEV_ACCOUNTS: [Address; 10] = [
    address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    address!("0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
    address!("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
    address!("0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
    address!("0x976EA74026E726554dB657fA54763abd0C3a0aa9"),
    address!("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
    address!("0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
    address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
];

/// What each dev account holds at genesis, in ether.
pub const DEV_BALANCE_ETHER: u64 = 10_000;

/// One account in the genesis allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenesisAccount {
    /// Initial balance in wei.
    pub balance: U256,
    /// Initial nonce.
    pub nonce: u64,
    /// Runtime bytecode, empty for an EOA.
    pub code: Bytes,
    /// Initial storage.
    pub storage: BTreeMap<B256, U256>,
}

/// Everything that fixes the chain's rules and its first block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of the genesis block.
    pub genesis_base_fee: u64,
    /// Base fee never drops below this (wei).
    pub min_base_fee: u64,
    /// EIP-1559 elasticity and denominator.
    pub base_fee_params: BaseFeeParams,
    /// Genesis timestamp (seconds).
    pub genesis_timestamp: u64,
    /// Genesis extra data.
    pub extra_data: Bytes,
    /// Initial state.
    pub alloc: BTreeMap<Address, GenesisAccount>,
    /// Where the fee vaults withdraw to on L1 (written into their genesis storage by
    /// [`ChainSpec::with_predeploys`]).
    pub fee_vault_recipient: Address,
    /// The scalars the L1 data fee weighs the L1 origin's fees with: the L1-attributes
    /// deposit hands them to L1Block (OP reads them from its SystemConfig on L1).
    pub l1_fee_scalars: crate::L1FeeScalars,
    /// The first L2 block that names its L1 origin's parent beacon block root (0: every
    /// block). A chain sealed by an Ordo that named zero sets it to the first block after
    /// its upgrade (`config.ordo.beaconRootsFromBlock`), so its older blocks still verify;
    /// the blocks before it name zero.
    pub beacon_roots_from: u64,
}

impl ChainSpec {
    /// Default block gas limit (30M, as on OP Stack chains at launch).
    pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
    /// Default minimum base fee: 1 gwei keeps spam costly while being trivial for dev use.
    pub const DEFAULT_MIN_BASE_FEE: u64 = 1_000_000_000;
    /// Default genesis base fee (EIP-1559 initial base fee).
    pub const DEFAULT_GENESIS_BASE_FEE: u64 = 1_000_000_000;

    /// A chain with no accounts and default parameters.
    pub fn empty(chain_id: u64) -> Self {
        Self {
            chain_id,
            gas_limit: Self::DEFAULT_GAS_LIMIT,
            genesis_base_fee: Self::DEFAULT_GENESIS_BASE_FEE,
            min_base_fee: Self::DEFAULT_MIN_BASE_FEE,
            base_fee_params: BaseFeeParams::ethereum(),
            genesis_timestamp: 0,
            extra_data: Bytes::from_static(b"ordo"),
            alloc: BTreeMap::new(),
            fee_vault_recipient: Address::ZERO,
            l1_fee_scalars: crate::L1FeeScalars::default(),
            beacon_roots_from: 0,
        }
    }

    /// The `ordo dev` chain with default parameters: [`DEV_ACCOUNTS`] hold
    /// [`DEV_BALANCE_ETHER`] each, beside the predeploys; the fee vaults withdraw to the
    /// first dev account.
    pub fn dev(chain_id: u64) -> Self {
        let mut spec = Self::empty(chain_id);
        spec.fee_vault_recipient = DEV_ACCOUNTS[0];
        let balance = U256::from(DEV_BALANCE_ETHER) * U256::from(10u64).pow(U256::from(18));
        for address in DEV_ACCOUNTS {
            spec.alloc.insert(
                address,
                GenesisAccount {
                    balance,
                    ..Default::default()
                },
            );
        }
        spec.with_predeploys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_are_the_mnemonic_ones() {
        for (i, expected) in DEV_ACCOUNTS.iter().enumerate() {
            let key = alloy_signer_local::MnemonicBuilder::english()
                .phrase(DEV_MNEMONIC)
                .index(i as u32)
                .and_then(|b| b.build())
                .unwrap();
            assert_eq!(key.address(), *expected, "dev account {i}");
        }
    }
}
