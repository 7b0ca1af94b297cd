//! `searcher-backrun`: a teaching Ordo searcher that backruns swaps on a two-pool
//! constant-product AMM (`contracts/Amm.sol`).
//!
//! Each block: find the public candidates calling the AMM's `swap`, read both pools' reserves
//! from the pre-state (`getReserves` through `eth_call`), replay each swap on them with the
//! contract's own integer math, size the X → Y → X round trip that closes the price gap it
//! opens (closed form, see [`amm::best_arb`]), and for the most profitable one sign an
//! `arb(...)` call placed right after that swap, paying `bid_wei` to the coinbase.
//!
//! Build: `cargo build --release --target wasm32-wasip2`. Test natively: `cargo test`.

// `std` on wasm32-wasip2 imports WASI, which the node refuses; `alloc` works as usual.
#![no_std]

extern crate alloc;

pub mod amm;

use ordo_sdk::{
    abi,
    prelude::*,
    tx::{Signer, TxRequest},
};

use amm::{POOLS, Reserves, SwapCall};

/// Keys the config accepts.
const KEYS: &[&str] = &["key", "amm", "chain_id", "bid_wei", "min_profit", "gas"];
/// Default bid: 0.001 ETH.
pub const DEFAULT_BID_WEI: u128 = 1_000_000_000_000_000;
/// Default minimum profit: 0.001 X (X has 18 decimals).
pub const DEFAULT_MIN_PROFIT: u128 = 1_000_000_000_000_000;
/// Default gas limit of the `arb` transaction (it uses about 107k on the reference contract).
pub const DEFAULT_GAS: u64 = 300_000;
/// Gas given to each `getReserves` call.
const READ_GAS: u64 = 50_000;
/// Added to twice the base fee for the fee cap: 1 gwei.
const FEE_HEADROOM: u128 = 1_000_000_000;

/// The searcher, as configured.
#[derive(Debug, Clone)]
pub struct Backrun {
    signer: Signer,
    amm: Address,
    chain_id: u64,
    bid: U256,
    min_profit: U256,
    gas: u64,
}

/// A backrun found for one candidate.
#[derive(Debug, Clone, Copy)]
struct Opportunity {
    after: B256,
    arb: amm::Arb,
}

impl Backrun {
    /// The address the searcher signs for (it pays the gas and the bid).
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Reads both pools' reserves with `getReserves(pool)` calls against the pre-state.
    fn reserves(&self, state: &dyn PreState) -> Result<[Reserves; POOLS], Error> {
        let mut pools = [Reserves {
            x: U256::ZERO,
            y: U256::ZERO,
        }; POOLS];
        for (i, pool) in pools.iter_mut().enumerate() {
            let result = state.call(&CallRequest {
                from: self.address(),
                to: self.amm,
                value: U256::ZERO,
                gas: READ_GAS,
                data: abi::call(abi::selector(amm::GET_RESERVES), &[abi::u64(i as u64)]),
            })?;
            let (Some(x), Some(y)) = (
                abi::read_u256(&result.output, 0),
                abi::read_u256(&result.output, 1),
            ) else {
                return Err(Error::new("getReserves returned too little data"));
            };
            if !result.success {
                return Err(Error::new("getReserves reverted"));
            }
            *pool = Reserves { x, y };
        }
        Ok(pools)
    }
}

impl Searcher for Backrun {
    const NAME: &'static str = "backrun";

    fn new(config: &str) -> Result<Self, Error> {
        let cfg = config::parse_kv(config)?;
        cfg.deny_unknown(KEYS)?;
        let key = cfg
            .get_str("key")
            .ok_or("config: key = 0x<32-byte secret> is required")?;
        let amm = cfg
            .get::<Address>("amm")?
            .ok_or("config: amm = 0x<AMM contract address> is required")?;
        let chain_id = cfg
            .get::<u64>("chain_id")?
            .ok_or("config: chain_id = <n> is required")?;
        Ok(Self {
            signer: Signer::from_hex(key)?,
            amm,
            chain_id,
            bid: cfg.get_or("bid_wei", U256::from(DEFAULT_BID_WEI))?,
            min_profit: cfg.get_or("min_profit", U256::from(DEFAULT_MIN_PROFIT))?,
            gas: cfg.get_or("gas", DEFAULT_GAS)?,
        })
    }

    fn search(
        &self,
        ctx: &BlockContext,
        candidates: &Candidates,
        state: &dyn PreState,
    ) -> Result<Vec<Bundle>, Error> {
        // Read once, on the first swap seen: blocks without one cost no calls.
        let mut cached = None;
        let mut best: Option<Opportunity> = None;
        for c in candidates.iter().filter(|c| c.to() == Some(self.amm)) {
            // `swap` is not payable: a call sending value reverts, nothing to backrun.
            let Some(swap) = SwapCall::decode(c.input()).filter(|_| c.value().is_zero()) else {
                continue;
            };
            let pools = match cached {
                Some(p) => p,
                None => match self.reserves(state) {
                    Ok(p) => *cached.insert(p),
                    Err(e) => {
                        // Wrong address, or this block's call budget is spent: skip the block
                        // rather than fail (an error counts towards rolling the plugin back).
                        log::warn!("cannot read the AMM's reserves: {e}");
                        return Ok(Vec::new());
                    }
                },
            };
            let Some(arb) = amm::after_swap(&pools, &swap).and_then(|after| amm::best_arb(&after))
            else {
                continue;
            };
            if arb.profit >= self.min_profit && best.is_none_or(|b| arb.profit > b.arb.profit) {
                best = Some(Opportunity {
                    after: c.hash(),
                    arb,
                });
            }
        }
        let Some(best) = best else {
            return Ok(Vec::new());
        };

        let from = self.address();
        let max_fee = u128::from(ctx.base_fee) * 2 + FEE_HEADROOM;
        let cost = U256::from(max_fee) * U256::from(self.gas) + self.bid;
        let balance = state.balance(from);
        if balance < cost {
            log::warn!("{from} holds {balance} wei, needs {cost} for gas and bid: no backrun");
            return Ok(Vec::new());
        }
        let signed = TxRequest::call(self.chain_id, self.amm, best.arb.encode(self.min_profit))
            // One bundle per block, so the next nonce is the pre-state's.
            .nonce(state.nonce(from))
            .gas_limit(self.gas)
            // No priority fee: the bid is paid to the coinbase by the contract.
            .fees(max_fee, 0)
            .value(self.bid)
            .try_sign(&self.signer)?;
        log::info!(
            "backrun {} after {}: {} X in on pool {}, expected profit {} X, bid {} wei",
            signed.hash,
            best.after,
            best.arb.amount_in,
            best.arb.buy_pool,
            best.arb.profit,
            self.bid
        );
        Ok(vec![Bundle {
            txs: vec![signed.raw],
            placement: Placement::After(best.after),
            bid: self.bid,
        }])
    }
}

ordo_sdk::export!(Backrun);

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::{format, string::String};
    use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
    use alloy_eips::eip2718::Decodable2718;
    use ordo_sdk::{
        CallResult,
        testing::{self, MockPreState, TxSpec},
    };

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const NONCE: u64 = 17;

    fn amm_address() -> Address {
        testing::address(0xa11)
    }

    fn config() -> String {
        format!("key={KEY}; amm={}; chain_id=7331", amm_address())
    }

    fn e18(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18))
    }

    /// The deployed contract's state: two pools of 1,000,000 X and Y each.
    fn state(searcher: &Backrun) -> MockPreState {
        let amm = amm_address();
        MockPreState::new()
            .with_nonce(searcher.address(), NONCE)
            .with_balance(searcher.address(), e18(10))
            .on_call(move |req| {
                assert_eq!(req.to, amm, "only the AMM is called");
                let pool = abi::args_of(&req.data, abi::selector(amm::GET_RESERVES))
                    .and_then(|args| abi::read_u256(args, 0))
                    .expect("only getReserves(pool) is called");
                assert!(pool < U256::from(2));
                let reserve = e18(1_000_000);
                Ok(CallResult {
                    success: true,
                    gas_used: 2_400,
                    output: abi::call([0; 4], &[abi::u256(reserve), abi::u256(reserve)])[4..]
                        .to_vec(),
                })
            })
    }

    fn swap(pool: usize, x_for_y: bool, amount_in: U256) -> Vec<u8> {
        SwapCall {
            pool,
            x_for_y,
            amount_in,
            min_out: U256::ZERO,
        }
        .encode()
    }

    #[test]
    fn backruns_an_imbalancing_swap() {
        let searcher = Backrun::new(&config()).unwrap();
        let trader = testing::address(1);
        let set = testing::candidates_from([
            TxSpec::new(testing::address(2), 0),
            TxSpec {
                to: Some(amm_address()),
                ..TxSpec::new(trader, 4)
                    .gas(120_000)
                    .input(swap(0, true, e18(50_000)))
            },
            TxSpec::new(testing::address(3), 0).input(swap(1, true, e18(50_000))),
        ]);
        let ctx = testing::block_context();
        let bundles = searcher.search(&ctx, &set, &state(&searcher)).unwrap();
        assert_eq!(bundles.len(), 1);
        let bundle = &bundles[0];
        let swap_hash = set.get(1).unwrap().hash();
        assert_eq!(bundle.placement, Placement::After(swap_hash));
        assert_eq!(bundle.bid, U256::from(DEFAULT_BID_WEI));
        assert_eq!(bundle.txs.len(), 1);

        let tx = TxEnvelope::decode_2718(&mut bundle.txs[0].as_slice()).unwrap();
        assert!(tx.is_eip1559());
        assert_eq!(tx.recover_signer().unwrap(), searcher.address());
        assert_eq!(tx.chain_id(), Some(7331));
        assert_eq!(tx.nonce(), NONCE);
        assert_eq!(tx.to(), Some(amm_address()));
        assert_eq!(tx.value(), U256::from(DEFAULT_BID_WEI));
        assert_eq!(tx.gas_limit(), DEFAULT_GAS);
        assert_eq!(
            tx.max_fee_per_gas(),
            u128::from(ctx.base_fee) * 2 + FEE_HEADROOM
        );
        let data = tx.input();
        assert_eq!(data[..4], abi::selector(amm::ARB));
        assert_eq!(
            abi::arg_u256(data, 0),
            Some(U256::from(1)),
            "buy X→Y on pool 1"
        );
        assert_eq!(
            abi::arg_u256(data, 1),
            Some(U256::ZERO),
            "sell back on pool 0"
        );
        assert_eq!(abi::arg_bool(data, 2), Some(true));
        let amount_in = abi::arg_u256(data, 3).unwrap();
        assert!(
            amount_in > e18(1_000) && amount_in < e18(50_000),
            "{amount_in}"
        );
        assert_eq!(abi::arg_u256(data, 4), Some(U256::from(DEFAULT_MIN_PROFIT)));
    }

    #[test]
    fn picks_the_most_profitable_swap() {
        let searcher = Backrun::new(&config()).unwrap();
        let set = testing::candidates_from(
            [
                TxSpec::new(testing::address(1), 0).input(swap(0, true, e18(10_000))),
                TxSpec::new(testing::address(2), 0).input(swap(1, false, e18(80_000))),
                TxSpec::new(testing::address(3), 0).input(swap(0, false, e18(20_000))),
            ]
            .map(|s| TxSpec {
                to: Some(amm_address()),
                ..s
            }),
        );
        let bundles = searcher
            .search(&testing::block_context(), &set, &state(&searcher))
            .unwrap();
        assert_eq!(bundles.len(), 1);
        assert_eq!(
            bundles[0].placement,
            Placement::After(set.get(1).unwrap().hash())
        );
    }

    #[test]
    fn ignores_tiny_swaps_non_amm_calls_and_reverting_swaps() {
        let searcher = Backrun::new(&config()).unwrap();
        let to_amm = |s: TxSpec| TxSpec {
            to: Some(amm_address()),
            ..s
        };
        let set = testing::candidates_from([
            // Tiny: the gap stays within the 0.3% fees.
            to_amm(TxSpec::new(testing::address(1), 0).input(swap(0, true, e18(1)))),
            // Big, but not to the AMM.
            TxSpec::new(testing::address(2), 0).input(swap(0, true, e18(50_000))),
            // Big, to the AMM, but reverts: it sends value / asks for too much.
            to_amm(
                TxSpec::new(testing::address(3), 0)
                    .input(swap(0, true, e18(50_000)))
                    .value(U256::from(1)),
            ),
            to_amm(
                TxSpec::new(testing::address(4), 0).input(
                    SwapCall {
                        pool: 0,
                        x_for_y: true,
                        amount_in: e18(50_000),
                        min_out: e18(50_000),
                    }
                    .encode(),
                ),
            ),
            // Another function on the AMM.
            to_amm(TxSpec::new(testing::address(5), 0).input(vec![0x15, 0x6e, 0x29, 0xf6])),
        ]);
        let bundles = searcher
            .search(&testing::block_context(), &set, &state(&searcher))
            .unwrap();
        assert!(bundles.is_empty(), "{bundles:?}");
        // Random traffic never touches the AMM.
        let bundles = searcher
            .search(
                &testing::block_context(),
                &testing::random_candidates(500, 9),
                &state(&searcher),
            )
            .unwrap();
        assert!(bundles.is_empty());
    }

    #[test]
    fn skips_when_it_cannot_pay_or_read() {
        let searcher = Backrun::new(&config()).unwrap();
        let set = testing::candidates_from([TxSpec {
            to: Some(amm_address()),
            ..TxSpec::new(testing::address(1), 0).input(swap(0, true, e18(50_000)))
        }]);
        let ctx = testing::block_context();
        let broke = state(&searcher).with_balance(searcher.address(), U256::from(1));
        assert!(searcher.search(&ctx, &set, &broke).unwrap().is_empty());
        let no_budget = MockPreState::new()
            .with_balance(searcher.address(), e18(10))
            .on_call(|_| Err(Error::new("call budget spent")));
        assert!(searcher.search(&ctx, &set, &no_budget).unwrap().is_empty());
    }

    #[test]
    fn config_is_checked() {
        let ok = Backrun::new(&format!(
            "{}; bid_wei=5; min_profit=1_000; gas=250000",
            config()
        ))
        .unwrap();
        assert_eq!(
            (ok.bid, ok.min_profit, ok.gas),
            (U256::from(5), U256::from(1000), 250_000)
        );
        assert_eq!(
            format!("{}", ok.address()),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        for bad in [
            String::new(),
            format!("amm={}; chain_id=1", amm_address()),
            format!("key=0x1234; amm={}; chain_id=1", amm_address()),
            format!("key={KEY}; chain_id=1"),
            format!("key={KEY}; amm=0xnope; chain_id=1"),
            format!("{}; bid_bps=5000", config()),
        ] {
            assert!(Backrun::new(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
