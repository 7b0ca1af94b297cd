//! The L1 data fee, as OP Stack prices it since Fjord: what posting a transaction to L1 is
//! estimated to cost, from the FastLZ-compressed size of its signed EIP-2718 encoding and the
//! L1 origin's base fee and blob base fee, each weighted by a scalar (6 decimals):
//!
//! ```text
//! estimatedSize = max(100e6, 836_500 * fastlzSize - 42_585_600)        (bytes x 1e6)
//! l1Fee         = estimatedSize * (16 * baseFeeScalar * l1BaseFee
//!                                  + blobBaseFeeScalar * blobBaseFee) / 1e12
//! l1GasUsed     = estimatedSize * 16 / 1e6                             (receipts only)
//! ```
//!
//! op-geth and op-revm compute the same from the same bytes, and so does the GasPriceOracle
//! predeploy (`contracts/l2/GasPriceOracle.sol`), except that wallets hand it the *unsigned*
//! encoding: it adds [`SIGNATURE_ALLOWANCE`] to the compressed size instead. The FastLZ
//! length is `op-alloy-flz`'s, a Rust port of op-geth's `FlzCompressLen`.

use alloy_primitives::U256;
use alloy_rlp::{RlpDecodable, RlpEncodable};

use crate::is_deposit;

/// What the L1 data fee of a block's transactions is priced with: the L1 origin's fees and the
/// chain's scalars, as L1Block (0x4200…0015) holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct L1FeeParams {
    /// The L1 origin's base fee (wei).
    pub l1_base_fee: u128,
    /// The L1 origin's blob base fee (wei; EIP-4844).
    pub blob_base_fee: u128,
    /// Weight of the L1 base fee, 6 decimals (OP's `baseFeeScalar`).
    pub base_fee_scalar: u32,
    /// Weight of the blob base fee, 6 decimals (OP's `blobBaseFeeScalar`).
    pub blob_base_fee_scalar: u32,
}

impl L1FeeParams {
    /// The pricing L1Block (0x4200…0015) holds, given a reader of its storage: the base fee
    /// (slot 1), the scalars (slot 3, big-endian bytes 16..20 and 20..24) and the blob base
    /// fee (slot 7), OP's layout, as op-revm reads it. All zero on a chain that never had an
    /// L1 origin, so nothing is charged there.
    pub fn from_l1_block<E>(mut slot: impl FnMut(u64) -> Result<U256, E>) -> Result<Self, E> {
        let scalars = slot(3)?.to_be_bytes::<32>();
        let word = |at: usize| {
            u32::from_be_bytes([
                scalars[at],
                scalars[at + 1],
                scalars[at + 2],
                scalars[at + 3],
            ])
        };
        let wei = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
        Ok(Self {
            l1_base_fee: wei(slot(1)?),
            blob_base_fee: wei(slot(7)?),
            base_fee_scalar: word(16),
            blob_base_fee_scalar: word(20),
        })
    }
}

/// The chain's weights of the L1 origin's fees (OP's `baseFeeScalar` and `blobBaseFeeScalar`,
/// 6 decimals). The default is op-deployer's: 1368 and 810949.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1FeeScalars {
    /// Weight of the L1 base fee.
    pub base_fee_scalar: u32,
    /// Weight of the L1 blob base fee.
    pub blob_base_fee_scalar: u32,
}

impl Default for L1FeeScalars {
    fn default() -> Self {
        Self {
            base_fee_scalar: 1368,
            blob_base_fee_scalar: 810_949,
        }
    }
}

/// Bytes OP's GasPriceOracle adds to the FastLZ size of an unsigned transaction for the
/// signature it does not have yet (`getL1Fee`, `getL1GasUsed`).
pub const SIGNATURE_ALLOWANCE: u64 = 68;

/// The L1 data fee of a transaction, given its signed EIP-2718 encoding. Deposits (type 0x7E)
/// and empty bytes (how op-revm marks an `eth_call`) cost nothing.
pub fn l1_fee(signed_tx_encoding: &[u8], p: &L1FeeParams) -> U256 {
    match fastlz_size_of_tx(signed_tx_encoding) {
        Some(size) => l1_fee_for_fastlz_size(size, p),
        None => U256::ZERO,
    }
}

/// The receipt's `l1GasUsed` since Fjord: the estimated compressed size at 16 gas a byte (OP
/// deprecates it; the fee is not this times a gas price). 0 for deposits and empty bytes.
pub fn l1_gas_used(signed_tx_encoding: &[u8]) -> u64 {
    fastlz_size_of_tx(signed_tx_encoding).map_or(0, l1_gas_used_for_fastlz_size)
}

/// The FastLZ (level 1) compressed length of `data`.
pub fn fastlz_size(data: &[u8]) -> u64 {
    u64::from(op_alloy_flz::flz_compress_len(data))
}

/// [`l1_fee`] of a transaction whose encoding compresses to `fastlz_size` bytes.
pub fn l1_fee_for_fastlz_size(fastlz_size: u64, p: &L1FeeParams) -> U256 {
    let scaled = U256::from(p.base_fee_scalar) * U256::from(16) * U256::from(p.l1_base_fee)
        + U256::from(p.blob_base_fee_scalar) * U256::from(p.blob_base_fee);
    // At most 2^64 * 2^165: no overflow in 256 bits.
    U256::from(estimated_size(fastlz_size)) * scaled / U256::from(1_000_000_000_000u64)
}

/// [`l1_gas_used`] of a transaction whose encoding compresses to `fastlz_size` bytes.
pub fn l1_gas_used_for_fastlz_size(fastlz_size: u64) -> u64 {
    // At most u64::MAX * 16 / 1e6: always fits.
    let gas = u128::from(estimated_size(fastlz_size))
        * u128::from(op_alloy_flz::NON_ZERO_BYTE_COST)
        / 1_000_000;
    u64::try_from(gas).unwrap_or(u64::MAX)
}

/// Fjord's linear regression from FastLZ size to Brotli size, x 1e6, at least 100 bytes.
fn estimated_size(fastlz_size: u64) -> u64 {
    fastlz_size
        .saturating_mul(op_alloy_flz::L1_COST_FASTLZ_COEF)
        .saturating_sub(op_alloy_flz::L1_COST_INTERCEPT)
        .max(op_alloy_flz::MIN_TX_SIZE_SCALED)
}

/// The FastLZ size of a transaction that pays the fee: `None` for a deposit or empty bytes.
fn fastlz_size_of_tx(encoding: &[u8]) -> Option<u64> {
    (!encoding.is_empty() && !is_deposit(encoding)).then(|| fastlz_size(encoding))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::hex;

    use super::*;

    /// A signed EIP-1559 contract call (op-revm's and op-geth's FastLZ test vector).
    const SAMPLE_TX: &str = "02f901550a758302df1483be21b88304743f94f80e51afb613d764fa61751affd3313c190a86bb870151bd62fd12adb8e41ef24f3f000000000000000000000000000000000000000000000000000000000000006e000000000000000000000000af88d065e77c8cc2239327c5edb3a432268e5831000000000000000000000000000000000000000000000000000000000003c1e5000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000000000148c89ed219d02f1a5be012c689b4f5b731827bebe000000000000000000000000c001a033fd89cb37c31b2cba46b6466e040c61fc9b2a3675a7f5f493ebd5ad77c497f8a07cdf65680e238392693019b4092f610222e71b7cec06449cb922b93b6a12744e";

    fn sample() -> Vec<u8> {
        hex::decode(SAMPLE_TX).unwrap()
    }

    /// Base mainnet's L1 parameters of late 2024 in shape: 7 gwei L1 base fee, a blob base fee
    /// of 3 wei, Base's scalars.
    const PARAMS: L1FeeParams = L1FeeParams {
        l1_base_fee: 7_000_000_000,
        blob_base_fee: 3,
        base_fee_scalar: 1368,
        blob_base_fee_scalar: 810_949,
    };

    #[test]
    fn fastlz_sizes_are_the_reference_vectors() {
        assert_eq!(fastlz_size(&[]), 0);
        assert_eq!(fastlz_size(&[0; 1000]), 21);
        assert_eq!(fastlz_size(&[42; 1000]), 21);
        assert_eq!(fastlz_size(&hex::decode("FACADE").unwrap()), 4);
        assert_eq!(fastlz_size(&sample()), 202);
    }

    #[test]
    fn the_fee_of_the_sample_transaction_by_hand() {
        // estimatedSize = 836_500 * 202 - 42_585_600 = 126_387_400
        // scaled        = 16 * 1368 * 7e9 + 810_949 * 3 = 153_216_000_000_000 + 2_432_847
        // fee           = 126_387_400 * 153_216_002_432_847 / 1e12
        //               = 19_364_572_185_881_206_927_800 / 1e12 → 19_364_572_185 (floor)
        assert_eq!(l1_fee(&sample(), &PARAMS), U256::from(19_364_572_185u64));
        // 126_387_400 * 16 / 1e6 = 2022.1984
        assert_eq!(l1_gas_used(&sample()), 2022);
    }

    #[test]
    fn small_transactions_are_priced_at_100_bytes() {
        // 836_500 * 170 - 42_585_600 = 99_619_400 is below the 100e6 floor; 171 bytes is not.
        let floor = U256::from(100_000_000u64) * U256::from(153_216_002_432_847u64)
            / U256::from(1_000_000_000_000u64);
        assert_eq!(l1_fee_for_fastlz_size(0, &PARAMS), floor);
        assert_eq!(l1_fee_for_fastlz_size(170, &PARAMS), floor);
        assert!(l1_fee_for_fastlz_size(171, &PARAMS) > floor);
        // 100e6 * 16 / 1e6; then 836_500 * 171 - 42_585_600 = 100_455_900, * 16 / 1e6 = 1607.3
        assert_eq!(l1_gas_used_for_fastlz_size(170), 1600);
        assert_eq!(l1_gas_used_for_fastlz_size(171), 1607);
        assert_eq!(l1_fee(&[0x02, 0xc0], &PARAMS), floor);
    }

    #[test]
    fn deposits_and_empty_bytes_cost_nothing() {
        let mut deposit = sample();
        deposit[0] = 0x7e;
        assert_eq!(l1_fee(&deposit, &PARAMS), U256::ZERO);
        assert_eq!(l1_gas_used(&deposit), 0);
        assert_eq!(l1_fee(&[], &PARAMS), U256::ZERO);
        assert_eq!(l1_gas_used(&[]), 0);
    }

    #[test]
    fn the_largest_parameters_do_not_overflow() {
        let p = L1FeeParams {
            l1_base_fee: u128::MAX,
            blob_base_fee: u128::MAX,
            base_fee_scalar: u32::MAX,
            blob_base_fee_scalar: u32::MAX,
        };
        let scaled = U256::from(u32::MAX) * U256::from(17) * U256::from(u128::MAX);
        let size = 1u64 << 20;
        let estimated = U256::from(836_500 * size - 42_585_600);
        assert_eq!(
            l1_fee_for_fastlz_size(size, &p),
            estimated * scaled / U256::from(1_000_000_000_000u64)
        );
    }
}
