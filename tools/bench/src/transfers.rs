//! What the load (load.rs) and the block benchmark (blocks.rs) both make: EIP-1559 transfers
//! signed ahead of time on all cores, to senders or spread over a large state.

use alloy_consensus::{SignableTransaction, TxEip1559, transaction::RlpEcdsaEncodableTx};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// Gas of a plain transfer.
pub(crate) const TRANSFER_GAS: u64 = 21_000;

/// The fee fields and chain of every transfer a run signs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fees {
    pub chain_id: u64,
    pub max_fee: u128,
    pub tip: u128,
}

/// Signs one EIP-1559 transfer (gas 21000); returns the EIP-2718 bytes and the tx hash.
pub(crate) fn sign_transfer(
    s: &PrivateKeySigner,
    fees: Fees,
    nonce: u64,
    to: Address,
    value: U256,
) -> (Bytes, B256) {
    let tx = TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit: TRANSFER_GAS,
        max_fee_per_gas: fees.max_fee,
        max_priority_fee_per_gas: fees.tip,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    // Signing a 32-byte hash with a valid local key only fails on a broken RNG-free k256
    // invariant; treat it as a bug.
    #[allow(clippy::expect_used)]
    let sig = s
        .sign_hash_sync(&tx.signature_hash())
        .expect("local signing is infallible");
    let mut raw = Vec::with_capacity(tx.eip2718_encoded_length(&sig));
    tx.eip2718_encode(&sig, &mut raw);
    let hash = keccak256(&raw);
    (raw.into(), hash)
}

/// Transfer `k`'s recipient among the first `size` accounts of `ordo bench state`: a spread
/// that is the same in every run.
pub(crate) fn state_recipient(k: u64, size: u64) -> Address {
    let pick = u64::from_be_bytes(
        keccak256(k.to_be_bytes())[..8]
            .try_into()
            .unwrap_or_default(),
    );
    crate::state_address(pick % size.max(1))
}

/// `f(0..n)` on all cores, in index order.
pub(crate) fn on_all_cores<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n.max(1));
    let chunk = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(f)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}
