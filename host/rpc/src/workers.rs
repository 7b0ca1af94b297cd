//! Named threads behind one job queue, for work kept off tokio's threads: the expensive
//! reads (reads.rs) and the signature recovery of submitted transactions (ordo-api).
//!
//! The queue is a mutex and a condition variable, so an idle thread blocks in the kernel at
//! once. Rayon's workers spin through some thirty `sched_yield`s after each job, and
//! channels (crossbeam's, std's built on it) yield a few times before they park: with one
//! short job per transaction that cost as much CPU as the jobs (a replica group's leader
//! at 1,700 tx/s made 26,000 `sched_yield` calls a second when ingress ran on rayon).
//!
//! A job that panics is caught, logged and counted (`ordo_worker_panics_total`, by pool):
//! its answer channel is dropped, so its caller sees the failure, and the thread goes on.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Work for a thread of the pool.
pub type Job = Box<dyn FnOnce() + Send>;

/// Why a job was not queued; the job comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `capacity` jobs are already waiting.
    Full,
    /// No thread runs the queue (none could be started).
    Stopped,
}

/// The pool. Dropping it lets the threads finish the queued jobs and exit.
pub struct Workers {
    shared: Arc<Shared>,
}

struct Shared {
    /// The threads' name prefix, and the pool's label in the panic counter.
    name: String,
    capacity: usize,
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Jobs never run under the lock, so a poisoned lock holds a consistent queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, job: Job) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!(target: "ordo::rpc", pool = %self.name, "a job panicked");
            metrics::counter!("ordo_worker_panics_total", "pool" => self.name.clone()).increment(1);
        }
    }
}

impl Workers {
    /// Starts `threads` threads named `{name}-{i}`, each calling `on_start` first, behind a
    /// queue of at most `capacity` waiting jobs.
    pub fn new(
        name: &str,
        threads: usize,
        capacity: usize,
        on_start: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            capacity: capacity.max(1),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let on_start = Arc::new(on_start);
        let mut started = 0;
        for i in 0..threads.max(1) {
            let (shared, on_start) = (shared.clone(), on_start.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    on_start();
                    serve(&shared);
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::error!(target: "ordo::rpc", pool = name, error = %e, "cannot start a worker thread")
                }
            }
        }
        shared.queue().closed = started == 0;
        Self { shared }
    }

    /// Queues `job` for a thread; refused (with the job) when the queue is full or no
    /// thread runs it.
    pub fn execute(&self, job: Job) -> Result<(), (Refused, Job)> {
        let mut queue = self.shared.queue();
        if queue.closed {
            return Err((Refused::Stopped, job));
        }
        if queue.jobs.len() >= self.shared.capacity {
            return Err((Refused::Full, job));
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Runs `job` on the calling thread, with a panic caught as on the pool's threads.
    pub fn run_here(&self, job: Job) {
        self.shared.run(job);
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.ready.notify_all();
    }
}

fn serve(shared: &Shared) {
    loop {
        let job = {
            let mut queue = shared.queue();
            loop {
                if let Some(job) = queue.jobs.pop_front() {
                    break job;
                }
                if queue.closed {
                    return;
                }
                queue = shared.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        };
        shared.run(job);
    }
}
