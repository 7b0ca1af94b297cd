//! The L2 side of withdrawals: OP Stack's message passer predeploy, and the output root that
//! commits a block's state (and with it every withdrawal sent so far) to L1.

use alloy_primitives::{Address, B256, Bytes, address, keccak256};

use crate::ChainSpec;

/// Where the message passer lives on every Ordo chain (OP Stack's address, so tools that
/// withdraw from an OP chain find it).
pub const MESSAGE_PASSER: Address = address!("0x4200000000000000000000000000000000000016");

/// The message passer's runtime code, as `scripts/contracts` compiled
/// `contracts/l2/L2ToL1MessagePasser.sol` (hex, no `0x`).
const MESSAGE_PASSER_CODE: &str =
    include_str!("../../../contracts/out/L2ToL1MessagePasser.runtime.bin");

/// The output root format this node computes (OP's version 0).
pub const OUTPUT_VERSION: B256 = B256::ZERO;

/// The message passer's runtime code.
pub fn message_passer_code() -> Bytes {
    // Checked in by scripts/contracts; a unit test below proves it decodes.
    alloy_primitives::hex::decode(MESSAGE_PASSER_CODE.trim())
        .map(Bytes::from)
        .unwrap_or_default()
}

/// OP's output root (version 0): `keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖
/// blockHash)`, what the portal on L1 proves withdrawals against.
pub fn output_root(state_root: B256, message_passer_storage_root: B256, block_hash: B256) -> B256 {
    let mut preimage = [0u8; 128];
    preimage[..32].copy_from_slice(OUTPUT_VERSION.as_slice());
    preimage[32..64].copy_from_slice(state_root.as_slice());
    preimage[64..96].copy_from_slice(message_passer_storage_root.as_slice());
    preimage[96..].copy_from_slice(block_hash.as_slice());
    keccak256(preimage)
}

impl ChainSpec {
    /// Puts the predeploys in the genesis allocation where it has no code of its own: a
    /// genesis that already carries OP's message passer (an OP chain's) keeps it.
    pub fn with_predeploys(mut self) -> Self {
        let passer = self.alloc.entry(MESSAGE_PASSER).or_default();
        if passer.code.is_empty() {
            passer.code = message_passer_code();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenesisAccount;

    #[test]
    fn the_message_passer_code_is_checked_in() {
        let code = message_passer_code();
        // Runtime code, not creation code: no constructor copying itself out.
        assert!(code.len() > 500, "{} bytes", code.len());
        assert_ne!(
            code[..],
            include_bytes!("../../../contracts/out/L2ToL1MessagePasser.bin")[..]
        );
    }

    #[test]
    fn output_root_hashes_the_four_words_in_order() {
        let (s, m, b) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        let mut words = Vec::new();
        for w in [B256::ZERO, s, m, b] {
            words.extend_from_slice(w.as_slice());
        }
        assert_eq!(output_root(s, m, b), keccak256(&words));
        assert_ne!(output_root(s, m, b), output_root(m, s, b));
    }

    #[test]
    fn a_genesis_keeps_its_own_message_passer() {
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
        let fresh = ChainSpec::empty(1).with_predeploys();
        assert_eq!(fresh.alloc[&MESSAGE_PASSER].code, message_passer_code());
    }
}
