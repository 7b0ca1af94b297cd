//! The test contract, assembled by hand (no solc needed): its code and its ABI.

use alloy::primitives::{B256, Bytes, U256, keccak256};

alloy::sol! {
    /// ABI of the hand-assembled storage contract (see [`store_runtime`]).
    #[sol(rpc)]
    contract Store {
        event Set(uint256 value);
        function set(uint256 value) external;
        function get() external view returns (uint256);
    }
}

/// keccak256("Set(uint256)"), topic 0 of the contract's event.
pub fn set_topic() -> B256 {
    keccak256("Set(uint256)")
}

/// Runtime code of the storage contract.
///
/// Any calldata shorter than 36 bytes (empty, or just `get()`'s selector) returns slot 0;
/// otherwise the word at calldata offset 4 (after a selector, so `set(uint256)` works through
/// the ABI) is stored in slot 0 and `Set(value)` is emitted (LOG1, data = value).
///
/// ```text
/// 00  60 24      PUSH1 36
/// 02  36         CALLDATASIZE
/// 03  10         LT                 ; calldatasize < 36 ?
/// 04  60 38      PUSH1 0x38 (get)
/// 06  57         JUMPI
/// 07  60 04      PUSH1 4
/// 09  35         CALLDATALOAD       ; v = calldata[4..36]
/// 0a  80         DUP1
/// 0b  60 00      PUSH1 0
/// 0d  55         SSTORE             ; slot0 = v
/// 0e  60 00      PUSH1 0
/// 10  52         MSTORE             ; mem[0..32] = v
/// 11  7f <32B>   PUSH32 keccak256("Set(uint256)")
/// 32  60 20      PUSH1 32
/// 34  60 00      PUSH1 0
/// 36  a1         LOG1               ; log1(mem[0..32], topic)
/// 37  00         STOP
/// 38  5b         JUMPDEST           ; get:
/// 39  60 00      PUSH1 0
/// 3b  54         SLOAD
/// 3c  60 00      PUSH1 0
/// 3e  52         MSTORE
/// 3f  60 20      PUSH1 32
/// 41  60 00      PUSH1 0
/// 43  f3         RETURN             ; return mem[0..32]
/// ```
pub fn store_runtime() -> Bytes {
    let mut code = vec![0x60, 0x24, 0x36, 0x10, 0x60, 0x38, 0x57];
    code.extend_from_slice(&[0x60, 0x04, 0x35, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52]);
    code.push(0x7f);
    code.extend_from_slice(set_topic().as_slice());
    code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1, 0x00]);
    assert_eq!(code.len(), 0x38, "jump target must be the JUMPDEST");
    code.extend_from_slice(&[
        0x5b, 0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3,
    ]);
    assert_eq!(code.len(), 0x44);
    code.into()
}

/// The value the constructor stores in slot 0.
pub const STORE_INITIAL: u64 = 7;

/// Init code: stores [`STORE_INITIAL`] in slot 0, then returns [`store_runtime`].
///
/// ```text
/// 00  60 07      PUSH1 7
/// 02  60 00      PUSH1 0
/// 04  55         SSTORE             ; slot0 = 7
/// 05  60 44      PUSH1 len(runtime)
/// 07  80         DUP1
/// 08  60 10      PUSH1 16 (runtime offset = len(init code))
/// 0a  60 00      PUSH1 0
/// 0c  39         CODECOPY           ; mem[0..len] = code[16..16+len]
/// 0d  60 00      PUSH1 0
/// 0f  f3         RETURN             ; return mem[0..len]
/// 10  <runtime>
/// ```
pub fn store_initcode() -> Bytes {
    let runtime = store_runtime();
    let len = u8::try_from(runtime.len()).unwrap_or_else(|_| panic!("runtime < 256 bytes"));
    let mut code = vec![0x60, STORE_INITIAL as u8, 0x60, 0x00, 0x55];
    code.extend_from_slice(&[
        0x60, len, 0x80, 0x60, 0x10, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ]);
    assert_eq!(code.len(), 0x10);
    code.extend_from_slice(&runtime);
    code.into()
}

/// 32-byte big-endian word of `v`.
pub fn word(v: u64) -> B256 {
    B256::from(U256::from(v))
}

/// Deploys checked-in creation code (`contracts/out/<Name>.bin`: hex, no `0x`) through
/// `provider` (which signs) and waits for it to be mined: the contract's address.
pub async fn deploy_checked_in<P: alloy::providers::Provider>(
    provider: &P,
    creation_hex: &str,
) -> eyre::Result<alloy::primitives::Address> {
    use alloy::network::TransactionBuilder;
    let code = alloy::hex::decode(creation_hex.trim())?;
    let receipt = provider
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default().with_deploy_code(Bytes::from(code)),
        )
        .await?
        .get_receipt()
        .await?;
    receipt
        .contract_address
        .filter(|_| receipt.status())
        .ok_or_else(|| eyre::eyre!("the deployment {} failed", receipt.transaction_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_layout() {
        let rt = store_runtime();
        assert_eq!(rt[0x38], 0x5b);
        let init = store_initcode();
        assert_eq!(&init[0x10..], &rt[..]);
        // The sol! ABI matches the hand-written topic.
        use alloy::sol_types::SolEvent;
        assert_eq!(Store::Set::SIGNATURE_HASH, set_topic());
    }
}
