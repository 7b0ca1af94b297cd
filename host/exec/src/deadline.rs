//! Stopping a read-only execution at a wall-clock deadline (`eth_call` timeouts, a searcher's
//! pre-state calls within its block epoch). Gas alone does not bound time: 50M gas of cheap
//! opcodes, or of cold state reads, can run for seconds.

use std::time::Instant;

use revm::{
    Inspector,
    interpreter::{InstructionResult, Interpreter},
};

/// Look at the clock once every this many instructions (an `Instant::now()` costs about as
/// much as a few dozen cheap opcodes).
const CHECK_EVERY: u32 = 1024;

/// An inspector that halts execution once `at` has passed. Once it fired it halts every
/// frame at its next instruction, so the calls unwind up to the top at once.
#[derive(Debug, Clone)]
pub struct DeadlineInspector {
    at: Instant,
    steps: u32,
    fired: bool,
}

impl DeadlineInspector {
    /// Halts execution after `at`.
    pub fn new(at: Instant) -> Self {
        Self {
            at,
            steps: 0,
            fired: false,
        }
    }

    /// Whether the deadline stopped the execution.
    pub fn fired(&self) -> bool {
        self.fired
    }
}

impl<CTX> Inspector<CTX> for DeadlineInspector {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if !self.fired {
            self.steps = self.steps.wrapping_add(1);
            if !self.steps.is_multiple_of(CHECK_EVERY) || Instant::now() < self.at {
                return;
            }
            self.fired = true;
        }
        // Called before the instruction runs; a halt here means it never does.
        interp.halt(InstructionResult::OutOfGas);
    }
}
