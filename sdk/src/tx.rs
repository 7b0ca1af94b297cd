//! Building and signing transactions, for searchers' bundles.
//!
//! ```
//! use ordo_sdk::tx::{Signer, TxRequest};
//! use ordo_sdk::{Address, U256};
//!
//! let key = Signer::from_hex(
//!     "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
//! )
//! .unwrap();
//! let signed = TxRequest::call(7331, Address::repeat_byte(0x11), vec![0xde, 0xad])
//!     .nonce(0)
//!     .gas_limit(100_000)
//!     .fees(2_000_000_000, 0)
//!     .value(U256::from(1))
//!     .sign(&key);
//! assert_eq!(signed.raw[0], 0x02); // EIP-1559
//! ```
//!
//! Encoding is `alloy-consensus`'s [`TxEip1559`] (EIP-2718 type `0x02`, empty access list);
//! signing is `k256`'s deterministic (RFC 6979) recoverable ECDSA over the transaction's
//! signing hash, low-s normalised. No randomness is drawn, so nothing here imports WASI.

use alloc::{format, vec::Vec};

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, hex, keccak256};
use k256::ecdsa::SigningKey;

use crate::Error;

/// A secp256k1 signing key and its Ethereum address.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    address: Address,
}

impl core::fmt::Debug for Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the secret.
        f.debug_struct("Signer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a 32-byte secret. Errors when the secret is zero or not below the curve
    /// order.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self, Error> {
        let key = SigningKey::from_slice(secret).map_err(|_| {
            Error::new("signer: the secret key is not a valid secp256k1 scalar (zero or ≥ n)")
        })?;
        let point = key.verifying_key().to_encoded_point(false);
        // Uncompressed SEC1 point: 0x04 || x || y; the address is keccak(x || y)[12..].
        let address = Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..]);
        Ok(Self { key, address })
    }

    /// A signer from 64 hex digits, with or without a `0x` prefix.
    pub fn from_hex(secret: &str) -> Result<Self, Error> {
        let digits = secret.trim();
        let digits = digits.strip_prefix("0x").unwrap_or(digits);
        if digits.len() != 64 {
            return Err(Error::new(format!(
                "signer: a secret key is 32 bytes (64 hex digits), got {} digits",
                digits.len()
            )));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|e| Error::new(format!("signer: the secret key is not hex: {e}")))?;
        Self::from_bytes(&bytes)
    }

    /// The address this key signs for.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte prehash: RFC 6979 deterministic, low-s, with the recovery parity.
    pub fn sign_hash(&self, hash: &B256) -> Result<Signature, Error> {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(hash.as_slice())
            .map_err(|e| Error::new(format!("signer: signing failed: {e}")))?;
        let (r, s) = sig.split_bytes();
        Ok(Signature::new(
            U256::from_be_slice(&r),
            U256::from_be_slice(&s),
            recid.is_y_odd(),
        ))
    }
}

/// A signed transaction, ready for a [`Bundle`](crate::Bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// EIP-2718 bytes (`0x02 || rlp(...)`), as `eth_sendRawTransaction` takes them.
    pub raw: Vec<u8>,
    /// Transaction hash: `keccak256(raw)`.
    pub hash: B256,
}

/// An EIP-1559 transaction being built. Start with [`TxRequest::call`]; every other field has
/// a setter. Defaults: nonce 0, gas limit 21000, zero fees, zero value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    /// Chain id (EIP-155 replay protection).
    pub chain_id: u64,
    /// Sender nonce.
    pub nonce: u64,
    /// Priority fee cap per gas, in wei.
    pub max_priority_fee_per_gas: u128,
    /// Fee cap per gas, in wei.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Callee.
    pub to: Address,
    /// Value sent, in wei.
    pub value: U256,
    /// Calldata.
    pub data: Vec<u8>,
}

impl TxRequest {
    /// A call to `to` with `data` on chain `chain_id`.
    pub fn call(chain_id: u64, to: Address, data: Vec<u8>) -> Self {
        Self {
            chain_id,
            nonce: 0,
            max_priority_fee_per_gas: 0,
            max_fee_per_gas: 0,
            gas_limit: 21_000,
            to,
            value: U256::ZERO,
            data,
        }
    }

    /// Sender nonce.
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.nonce = nonce;
        self
    }

    /// Gas limit.
    pub fn gas_limit(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// Fee cap and priority fee cap per gas, in wei.
    pub fn fees(mut self, max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> Self {
        self.max_fee_per_gas = max_fee_per_gas;
        self.max_priority_fee_per_gas = max_priority_fee_per_gas;
        self
    }

    /// Value sent, in wei.
    pub fn value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }

    /// The `alloy-consensus` transaction this request describes.
    pub fn to_eip1559(&self) -> TxEip1559 {
        TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
            to: TxKind::Call(self.to),
            value: self.value,
            access_list: Default::default(),
            input: Bytes::copy_from_slice(&self.data),
        }
    }

    /// The hash the sender signs (`keccak256(0x02 || rlp(fields))`).
    pub fn signing_hash(&self) -> B256 {
        self.to_eip1559().signature_hash()
    }

    /// Signs with `key`.
    ///
    /// Signing a valid key's prehash cannot fail in practice (RFC 6979 retries internally);
    /// should `k256` ever refuse, this panics rather than return a transaction that does not
    /// verify. Use [`TxRequest::try_sign`] to get the error instead.
    pub fn sign(&self, key: &Signer) -> SignedTx {
        match self.try_sign(key) {
            Ok(signed) => signed,
            Err(e) => panic!("{e}"),
        }
    }

    /// Signs with `key`, returning k256's error if it refuses.
    pub fn try_sign(&self, key: &Signer) -> Result<SignedTx, Error> {
        let tx = self.to_eip1559();
        let signature = key.sign_hash(&tx.signature_hash())?;
        let signed = tx.into_signed(signature);
        let mut raw = Vec::with_capacity(signed.eip2718_encoded_length());
        signed.eip2718_encode(&mut raw);
        Ok(SignedTx {
            hash: *signed.hash(),
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
    use alloy_eips::eip2718::Decodable2718;
    use alloy_primitives::address;

    const ANVIL0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn signer_derives_the_address_and_rejects_bad_keys() {
        let key = Signer::from_hex(ANVIL0).unwrap();
        assert_eq!(
            key.address(),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            Signer::from_hex(&ANVIL0[2..]).unwrap().address(),
            key.address()
        );
        assert!(
            Signer::from_hex("0x1234")
                .unwrap_err()
                .message()
                .contains("64 hex")
        );
        let not_hex = format!("0x{}", "zz".repeat(32));
        assert!(
            Signer::from_hex(&not_hex)
                .unwrap_err()
                .message()
                .contains("not hex")
        );
        assert!(Signer::from_bytes(&[0u8; 32]).is_err());
        assert!(Signer::from_bytes(&[0xff; 32]).is_err());
        // Debug does not leak the secret.
        assert!(!format!("{key:?}").contains("ac0974"));
    }

    #[test]
    fn signed_tx_decodes_and_recovers_the_signer() {
        let key = Signer::from_hex(ANVIL0).unwrap();
        let to = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
        let request = TxRequest::call(7331, to, vec![0xa9, 0x05, 0x9c, 0xbb, 1, 2, 3])
            .nonce(42)
            .gas_limit(300_000)
            .fees(3_000_000_000, 1_000_000_000)
            .value(U256::from(10u64).pow(U256::from(15u64)));
        let signed = request.sign(&key);
        assert_eq!(signed.raw[0], 0x02);
        assert_eq!(signed.hash, keccak256(&signed.raw));

        let envelope = TxEnvelope::decode_2718(&mut signed.raw.as_slice()).unwrap();
        assert_eq!(*envelope.tx_hash(), signed.hash);
        assert_eq!(envelope.recover_signer().unwrap(), key.address());
        let TxEnvelope::Eip1559(inner) = &envelope else {
            panic!("not EIP-1559: {envelope:?}");
        };
        assert_eq!(inner.tx(), &request.to_eip1559());
        assert_eq!(envelope.chain_id(), Some(7331));
        assert_eq!(envelope.nonce(), 42);
        assert_eq!(envelope.to(), Some(to));
        assert_eq!(envelope.value(), request.value);
        assert_eq!(envelope.input().as_ref(), request.data.as_slice());
        assert!(envelope.access_list().is_some_and(|l| l.0.is_empty()));

        // Low s (EIP-2), and deterministic (RFC 6979): signing twice gives the same bytes.
        let half_n = U256::from_be_slice(&hex!(
            "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
        ));
        assert!(envelope.signature().s() <= half_n);
        assert_eq!(request.sign(&key), signed);
        // A different nonce is a different transaction.
        assert_ne!(request.clone().nonce(43).sign(&key).hash, signed.hash);
    }

    #[test]
    fn matches_alloy_signer_for_a_known_vector() {
        // Cross-check: the signing hash is alloy's, and recovering from our signature over
        // that hash yields the key's address.
        let key = Signer::from_hex(ANVIL0).unwrap();
        let request = TxRequest::call(1, Address::ZERO, Vec::new());
        let hash = request.signing_hash();
        let sig = key.sign_hash(&hash).unwrap();
        assert_eq!(
            sig.recover_address_from_prehash(&hash).unwrap(),
            key.address()
        );
    }
}
