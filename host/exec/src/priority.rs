//! The scheduling priority of the threads a block waits for: the builder, the root walk's
//! threads and the commit. On two busy cores, transaction ingress (decoding, sender
//! recovery, JSON-RPC) is always runnable; at the same priority a block's root and commit
//! wait behind it for a core, and the next block grows while they do. A few nice levels
//! above ingress, they take a core when they need one and give it back when done (README,
//! "Performance": root p99 at 10M accounts and inclusion p99 both fell, and the closed
//! loop included more, since blocks stayed within their slot).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The default nice value of the block threads (`[builder] thread_nice`).
pub const DEFAULT_BLOCK_NICE: i32 = -5;

static BLOCK_NICE: AtomicI32 = AtomicI32::new(0);
static REFUSED: AtomicBool = AtomicBool::new(false);

/// Sets the nice value the block threads take when they start ([`block_thread_priority`]).
/// Called once at startup, before the builder and the root threads exist; 0 leaves their
/// priority alone.
pub fn set_block_thread_nice(nice: i32) {
    BLOCK_NICE.store(nice.clamp(-20, 19), Ordering::Relaxed);
}

/// Gives the calling thread the block threads' nice value. A raise needs root or
/// `CAP_SYS_NICE`; without them the thread keeps its priority, and the node says so once.
pub fn block_thread_priority() {
    let nice = BLOCK_NICE.load(Ordering::Relaxed);
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    // Linux keeps a nice value per thread, so this sets only the calling one.
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
        && !REFUSED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(target: "ordo::exec", nice, error = %e,
            "cannot set the block threads' priority (a raise needs root or CAP_SYS_NICE); they run at the usual one");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = &REFUSED;
}
