//! The deposit portal on a real anvil: deployed from its checked-in code, deposits made the
//! ways users make them (an account, an L1 contract, a plain transfer), the ones it must
//! refuse refused, and every deposit read back as the OP deposit transaction it makes on L2.

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, TxKind, U256, address, bytes},
    providers::{Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol,
};
use ordo_l1::{DepositReader, OrdoPortal, PortalError, deploy_portal, testing::Anvil};
use ordo_primitives::{DepositLog, UserDepositSource, l1_to_l2_alias};

sol! {
    #[sol(rpc)]
    contract DepositCaller {
        function deposit(address _portal, address _to, uint64 _gasLimit, bytes calldata _data) payable;
    }
}

const CALLER_CODE: &str = include_str!("../../../../contracts/out/DepositCaller.bin");
const TO: Address = address!("0x00000000000000000000000000000000000d0d0d");
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The error of a call L1 must refuse.
fn refused<T>(answer: Result<T, alloy::contract::Error>) -> alloy::contract::Error {
    match answer {
        Ok(_) => panic!("L1 accepted a deposit the portal must refuse"),
        Err(e) => e,
    }
}

/// The one deposit `receipt` logged, read back by its block's hash.
async fn read_one(reader: &DepositReader, receipt: &TransactionReceipt) -> DepositLog {
    assert!(receipt.status(), "the deposit reverted: {receipt:?}");
    let hash = receipt.block_hash.unwrap();
    let deposits = reader.deposits_in(hash).await.unwrap();
    assert_eq!(deposits.len(), 1, "{deposits:?}");
    let deposit = deposits.into_iter().next().unwrap();
    let logged = receipt.inner.logs()[0].log_index.unwrap();
    assert_eq!((deposit.l1_block_hash, deposit.log_index), (hash, logged));
    assert_eq!(deposit.l1_block_number, receipt.block_number.unwrap());
    deposit
}

#[tokio::test]
async fn deposits_through_the_portal_read_back_as_op_deposit_transactions() {
    let anvil = Anvil::spawn().await;
    let key = Anvil::dev_key(0);
    let user = key.address();
    // Deposits never ask the output oracle: any address serves here.
    let portal = deploy_portal(&anvil.url(), key.clone(), Address::repeat_byte(0x0c))
        .await
        .unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.url().parse().unwrap());
    let contract = OrdoPortal::new(portal, &provider);
    let reader = DepositReader::new(&anvil.url(), portal).unwrap();

    // An account deposits one ether and asks for a call with 7 wei and calldata.
    let data = bytes!("c0ffee");
    let receipt = contract
        .depositTransaction(TO, U256::from(7), 100_000, false, data.clone())
        .value(U256::from(ETHER))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let deposit = read_one(&reader, &receipt).await;
    let tx = deposit.to_tx().unwrap();
    assert_eq!(tx.from, user, "an account is not aliased");
    assert_eq!(tx.to, TxKind::Call(TO));
    assert_eq!((tx.mint, tx.value), (ETHER, U256::from(7)));
    assert_eq!((tx.gas_limit, tx.input.clone()), (100_000, data));
    assert_eq!(
        tx.source_hash,
        UserDepositSource::new(deposit.l1_block_hash, deposit.log_index).source_hash()
    );

    // An L1 contract deposits: its L2 sender is its alias.
    let caller_code = alloy::hex::decode(CALLER_CODE.trim()).unwrap();
    let caller = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(caller_code))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();
    let receipt = DepositCaller::new(caller, &provider)
        .deposit(portal, TO, 50_000, Bytes::new())
        .value(U256::from(5))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let tx = read_one(&reader, &receipt).await.to_tx().unwrap();
    assert_eq!(tx.from, l1_to_l2_alias(caller));
    assert_ne!(tx.from, caller);
    assert_eq!(
        (tx.mint, tx.value, tx.gas_limit),
        (5, U256::from(5), 50_000)
    );

    // A plain transfer to the portal deposits to the sender's own L2 address.
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(portal)
                .with_value(U256::from(9)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let tx = read_one(&reader, &receipt).await.to_tx().unwrap();
    assert_eq!((tx.from, tx.to), (user, TxKind::Call(user)));
    assert_eq!(
        (tx.mint, tx.value, tx.gas_limit),
        (9, U256::from(9), 100_000)
    );

    // A creation deposit has no recipient.
    let receipt = contract
        .depositTransaction(Address::ZERO, U256::ZERO, 200_000, true, bytes!("6000"))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let tx = read_one(&reader, &receipt).await.to_tx().unwrap();
    assert_eq!(tx.to, TxKind::Create);

    // Refused on L1: too little gas for the calldata, a creation with a recipient, too
    // much calldata. Nothing of them is logged.
    let before = anvil.block_number().await;
    let min = contract.minimumGasLimit(3).call().await.unwrap();
    assert_eq!(min, 21_000 + 3 * 16);
    let small = refused(
        contract
            .depositTransaction(TO, U256::ZERO, min - 1, false, bytes!("010203"))
            .call()
            .await,
    );
    assert!(
        small
            .as_decoded_error::<OrdoPortal::SmallGasLimit>()
            .is_some(),
        "{small}"
    );
    let target = refused(
        contract
            .depositTransaction(TO, U256::ZERO, 100_000, true, Bytes::new())
            .call()
            .await,
    );
    assert!(
        target.as_decoded_error::<OrdoPortal::BadTarget>().is_some(),
        "{target}"
    );
    let cap = contract.MAX_DEPOSIT_DATA().call().await.unwrap();
    let large = refused(
        contract
            .depositTransaction(
                TO,
                U256::ZERO,
                30_000_000,
                false,
                vec![1u8; cap as usize + 1].into(),
            )
            .call()
            .await,
    );
    assert!(
        large
            .as_decoded_error::<OrdoPortal::LargeCalldata>()
            .is_some(),
        "{large}"
    );
    assert_eq!(anvil.block_number().await, before);

    // The portal holds what was deposited.
    let held = provider.get_balance(portal).await.unwrap();
    assert_eq!(held, U256::from(ETHER + 5 + 9));

    // A block L1 does not have is an error, not an empty list.
    let missing = reader
        .deposits_in(B256::repeat_byte(0xab))
        .await
        .unwrap_err();
    assert!(matches!(missing, PortalError::UnknownBlock(_)), "{missing}");
}
