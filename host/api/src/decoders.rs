//! Ingress decoding threads: the signature recovery of submitted transactions runs here,
//! off tokio's reactor threads and off its blocking pool (which other work can fill).
//!
//! Not on rayon: a rayon worker that runs out of jobs spins (some thirty `sched_yield`s)
//! before it sleeps, and ingress hands it one short job per transaction. Below saturation
//! the spinning cost as much CPU as the recoveries: a replica group's leader at 1,700 tx/s
//! made 26,000 `sched_yield` calls a second. These threads sleep on the queue instead.

use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The queue of the process's decoding threads (started on first use, one per core);
/// `None` if none could be started.
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut started = 0;
            for i in 0..threads {
                let queue = queue.clone();
                match std::thread::Builder::new()
                    .name(format!("ordo-decode-{i}"))
                    .spawn(move || work(queue))
                {
                    Ok(_) => started += 1,
                    Err(e) => {
                        tracing::error!(target: "ordo::rpc", error = %e, "cannot start a decoding thread")
                    }
                }
            }
            (started > 0).then_some(jobs)
        })
        .as_ref()
}

fn work(queue: Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        // A job that panics drops its answer channel (the caller sees the failure); the
        // thread goes on with the next.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// Runs `work` on a decoding thread (on this thread if none could be started); its result
/// arrives on the returned channel.
pub(crate) fn decode<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (answer, answered) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    match queue() {
        Some(queue) => {
            if let Err(unsent) = queue.send(job) {
                (unsent.0)();
            }
        }
        None => job(),
    }
    answered
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::decode;

    #[tokio::test]
    async fn jobs_run_on_the_decoding_threads_which_outlive_a_panicking_job() {
        let within = Duration::from_secs(20);
        let name = tokio::time::timeout(
            within,
            decode(|| std::thread::current().name().map(String::from)),
        )
        .await
        .expect("answered")
        .expect("a name");
        assert!(name.is_some_and(|n| n.starts_with("ordo-decode-")));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..threads {
            let failed =
                tokio::time::timeout(within, decode(|| -> u8 { panic!("a job that panics") }))
                    .await
                    .expect("answered");
            assert!(failed.is_err(), "a panicking job has no answer");
        }
        // Had each panic ended its thread, nothing would run these.
        let pending: Vec<_> = (0..threads * 4).map(|i| decode(move || i)).collect();
        let mut answers = Vec::new();
        for answer in pending {
            let answer = tokio::time::timeout(within, answer).await;
            answers.push(
                answer
                    .expect("answered after the panics")
                    .expect("an answer"),
            );
        }
        assert_eq!(answers, (0..threads * 4).collect::<Vec<_>>());
    }
}
