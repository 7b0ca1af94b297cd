//! [`Executor`]: what blocks, bundles and calls run on. Its methods live beside what they
//! do: `assemble`/`build_block` in block.rs, `simulate_bundle` in bundle.rs, `call`,
//! `estimate_gas` and `create_access_list` in call.rs.

use std::sync::Arc;

use crate::{rules::ChainRules, state::StateDb};

/// Executes blocks and calls on top of a [`StateDb`].
#[derive(Debug, Clone)]
pub struct Executor {
    pub(crate) state: Arc<StateDb>,
    pub(crate) chain_id: u64,
    pub(crate) rules: Arc<ChainRules>,
}

impl Executor {
    /// An executor for `chain_id` over `state`, on Ordo's rules ([`ChainRules::ordo`]).
    pub fn new(state: Arc<StateDb>, chain_id: u64) -> Self {
        Self {
            state,
            chain_id,
            rules: Arc::new(ChainRules::ordo()),
        }
    }

    /// The same executor on other rules (an imported Ethereum chain's).
    pub fn with_rules(mut self, rules: Arc<ChainRules>) -> Self {
        self.rules = rules;
        self
    }

    /// The chain's rules.
    pub fn rules(&self) -> &Arc<ChainRules> {
        &self.rules
    }

    /// The head state.
    pub fn state(&self) -> &Arc<StateDb> {
        &self.state
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
}
