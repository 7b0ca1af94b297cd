//! The committed bytecode (`contracts/Amm.bin`) on a real EVM (revm): deploy it, let the
//! searcher read the pools through `eth_call`-style reads, then execute the public swap and
//! the searcher's signed `arb` transaction after it, as the node would place the bundle.

use std::cell::RefCell;

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use ordo_sdk::{
    Address, B256, CallRequest, CallResult, Error, Placement, PreState, Searcher, U256, abi,
    primitives::{Bytes, hex},
    testing::{self, TxSpec},
};
use revm::{
    Context, DatabaseRef, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext, MainnetEvm,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    handler::MainnetContext,
    primitives::{TxKind, hardfork::SpecId},
    state::AccountInfo,
};
use searcher_backrun::{Backrun, amm};

const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 7331;

fn e18(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// One block's EVM over an in-memory state; also the searcher's pre-state.
struct Chain {
    evm: RefCell<Evm>,
}

impl Chain {
    fn new(funded: &[Address]) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for &a in funded {
            db.insert_account_info(
                a,
                AccountInfo {
                    balance: e18(100),
                    ..Default::default()
                },
            );
        }
        let ctx = testing::block_context();
        let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
        cfg.chain_id = CHAIN_ID;
        let block = BlockEnv {
            number: U256::from(ctx.number),
            beneficiary: ctx.coinbase,
            timestamp: U256::from(ctx.timestamp),
            gas_limit: ctx.gas_limit,
            basefee: ctx.base_fee,
            ..Default::default()
        };
        let evm = Context::mainnet()
            .with_db(db)
            .with_cfg(cfg)
            .with_block(block)
            .build_mainnet();
        Self {
            evm: RefCell::new(evm),
        }
    }

    fn account(&self, a: Address) -> AccountInfo {
        self.evm
            .borrow()
            .ctx
            .journaled_state
            .database
            .basic_ref(a)
            .unwrap()
            .unwrap_or_default()
    }

    /// A transaction from `from` at its current nonce, paying the base fee.
    fn tx(&self, from: Address, kind: TxKind, value: U256, data: Vec<u8>, gas: u64) -> TxEnv {
        TxEnv::builder()
            .tx_type(Some(2))
            .caller(from)
            .kind(kind)
            .value(value)
            .data(Bytes::from(data))
            .gas_limit(gas)
            .max_fee_per_gas(u128::from(testing::BASE_FEE))
            .gas_priority_fee(Some(0))
            .nonce(self.account(from).nonce)
            .chain_id(Some(CHAIN_ID))
            .build()
            .unwrap()
    }

    fn commit(&self, tx: TxEnv) -> ExecutionResult {
        self.evm.borrow_mut().transact_commit(tx).unwrap()
    }

    fn read(&self, to: Address, data: Vec<u8>) -> Vec<u8> {
        let result = self
            .call(&CallRequest {
                from: Address::ZERO,
                to,
                value: U256::ZERO,
                gas: 1_000_000,
                data,
            })
            .unwrap();
        assert!(result.success, "{result:?}");
        result.output
    }

    fn words(&self, to: Address, sig: &str, args: &[abi::Word]) -> (U256, U256) {
        let out = self.read(to, abi::call(abi::selector(sig), args));
        (
            abi::read_u256(&out, 0).unwrap(),
            abi::read_u256(&out, 1).unwrap(),
        )
    }

    fn reserves(&self, amm: Address) -> [amm::Reserves; 2] {
        [0u64, 1].map(|p| {
            let (x, y) = self.words(amm, amm::GET_RESERVES, &[abi::u64(p)]);
            amm::Reserves { x, y }
        })
    }
}

impl PreState for Chain {
    fn balance(&self, address: Address) -> U256 {
        self.account(address).balance
    }

    fn nonce(&self, address: Address) -> u64 {
        self.account(address).nonce
    }

    fn storage(&self, address: Address, slot: B256) -> B256 {
        let value = self
            .evm
            .borrow()
            .ctx
            .journaled_state
            .database
            .storage_ref(address, U256::from_be_bytes(slot.0))
            .unwrap();
        B256::from(value.to_be_bytes())
    }

    fn code_hash(&self, address: Address) -> B256 {
        self.account(address).code_hash
    }

    fn call(&self, request: &CallRequest) -> Result<CallResult, Error> {
        let mut tx = self.tx(
            request.from,
            TxKind::Call(request.to),
            request.value,
            request.data.clone(),
            request.gas,
        );
        tx.gas_price = 0;
        let mut evm = self.evm.borrow_mut();
        // An eth_call: no fee, no balance check against the caller's funds.
        evm.ctx.block.basefee = 0;
        let out = evm.transact(tx);
        evm.ctx.block.basefee = testing::BASE_FEE;
        let result = out.map_err(|e| Error::new(format!("{e:?}")))?.result;
        Ok(CallResult {
            success: result.is_success(),
            gas_used: result.tx_gas_used(),
            output: result.output().map(|o| o.to_vec()).unwrap_or_default(),
        })
    }
}

fn bytecode() -> Vec<u8> {
    let text = include_str!("../contracts/Amm.bin");
    hex::decode(text.trim()).unwrap()
}

#[test]
fn deployed_contract_pays_the_searchers_backrun() {
    let deployer = testing::address(1);
    let trader = testing::address(2);
    let searcher = Backrun::new(&format!(
        "key={KEY}; amm={}; chain_id={CHAIN_ID}",
        deployer.create(0)
    ))
    .unwrap();
    let chain = Chain::new(&[deployer, trader, searcher.address()]);
    let coinbase = testing::block_context().coinbase;

    // Deploy: two balanced pools, the deployer holds the minted X and Y.
    let deployed =
        chain.commit(chain.tx(deployer, TxKind::Create, U256::ZERO, bytecode(), 3_000_000));
    assert!(deployed.is_success(), "{deployed:?}");
    let amm = deployer.create(0);
    let seed = amm::Reserves {
        x: e18(1_000_000),
        y: e18(1_000_000),
    };
    assert_eq!(chain.reserves(amm), [seed, seed]);
    let (x, y) = chain.words(amm, "balances(address)", &[abi::address(deployer)]);
    assert_eq!((x, y), (e18(1_000_000_000), e18(1_000_000_000)));
    // The documented storage layout: slot 0 = pool 0's x.
    assert_eq!(
        U256::from_be_bytes(chain.storage(amm, B256::ZERO).0),
        seed.x
    );

    // The faucet funds the trader, whose 50,000 X swap on pool 0 is the public candidate.
    let mint = abi::call(
        abi::selector("mint(address,uint256,uint256)"),
        &[abi::address(trader), abi::u256(e18(100_000)), abi::u64(0)],
    );
    assert!(
        chain
            .commit(chain.tx(trader, TxKind::Call(amm), U256::ZERO, mint, 200_000))
            .is_success()
    );
    let swap = amm::SwapCall {
        pool: 0,
        x_for_y: true,
        amount_in: e18(50_000),
        min_out: U256::ZERO,
    };
    let set = testing::candidates_from([TxSpec {
        to: Some(amm),
        ..TxSpec::new(trader, chain.nonce(trader))
            .gas(200_000)
            .input(swap.encode())
    }]);

    let bundles = searcher
        .search(&testing::block_context(), &set, &chain)
        .unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(
        bundles[0].placement,
        Placement::After(set.get(0).unwrap().hash())
    );
    let expected = amm::best_arb(&amm::after_swap(&[seed, seed], &swap).unwrap()).unwrap();

    // The block: the swap, then the bundle.
    let swapped = chain.commit(chain.tx(
        trader,
        TxKind::Call(amm),
        U256::ZERO,
        swap.encode(),
        200_000,
    ));
    assert!(swapped.is_success(), "{swapped:?}");
    assert_eq!(
        chain.reserves(amm),
        amm::after_swap(&[seed, seed], &swap).unwrap(),
        "the searcher's math is the contract's"
    );
    let coinbase_before = chain.balance(coinbase);
    let tx = TxEnvelope::decode_2718(&mut bundles[0].txs[0].as_slice()).unwrap();
    let arb = TxEnv::builder()
        .tx_type(Some(2))
        .caller(tx.recover_signer().unwrap())
        .kind(TxKind::Call(tx.to().unwrap()))
        .value(tx.value())
        .data(tx.input().clone())
        .gas_limit(tx.gas_limit())
        .max_fee_per_gas(tx.max_fee_per_gas())
        .gas_priority_fee(tx.max_priority_fee_per_gas())
        .nonce(tx.nonce())
        .chain_id(tx.chain_id())
        .build()
        .unwrap();
    let result = chain.commit(arb.clone());
    assert!(result.is_success(), "{result:?}");
    eprintln!("arb gas used: {}", result.tx_gas_used());
    assert!(result.tx_gas_used() < 150_000);

    // The profit is exactly what the searcher computed; the coinbase got the bid.
    let (x, _) = chain.words(
        amm,
        "balances(address)",
        &[abi::address(searcher.address())],
    );
    assert_eq!(x, expected.profit);
    assert_eq!(chain.balance(coinbase) - coinbase_before, bundles[0].bid);
    // The gap is closed: the same round trip again no longer clears minProfit and reverts.
    let again = chain.commit(TxEnv {
        nonce: chain.nonce(searcher.address()),
        ..arb
    });
    assert!(!again.is_success(), "{again:?}");
    assert_eq!(amm::best_arb(&chain.reserves(amm)), None);
}
