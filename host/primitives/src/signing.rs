//! The sequencer's block signature: what is signed for a sealed block and who signed it.
//! The node signs with it (`keys`), the API reports the signer, and derivation checks it.

use alloy_primitives::{Address, B256, Signature, keccak256};

/// What the sequencer signs for block `hash` on chain `chain_id`: a domain-separated digest,
/// so the signature cannot be replayed as a transaction or a message signature.
pub fn block_signing_hash(chain_id: u64, hash: B256) -> B256 {
    let mut buf = Vec::with_capacity(64 + 24);
    buf.extend_from_slice(b"ordo-block-signature-v1");
    buf.extend_from_slice(&B256::left_padding_from(&chain_id.to_be_bytes()).0);
    buf.extend_from_slice(hash.as_slice());
    keccak256(buf)
}

/// The address that signed block `hash` on `chain_id`, if `signature` is a valid one.
pub fn block_signer(chain_id: u64, hash: B256, signature: &[u8]) -> Option<Address> {
    let sig = Signature::try_from(signature).ok()?;
    sig.recover_address_from_prehash(&block_signing_hash(chain_id, hash))
        .ok()
}
