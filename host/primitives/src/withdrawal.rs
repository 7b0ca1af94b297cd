//! The output root that commits a block's state (and with it every withdrawal the message
//! passer holds) to L1.

use alloy_primitives::{B256, keccak256};

/// The output root format this node computes (OP's version 0).
pub const OUTPUT_VERSION: B256 = B256::ZERO;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
