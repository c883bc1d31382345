//! Group commit: steps that arrive while a batch is being written queue up
//! and are written together by the next one, in one transaction.
//!
//! A write step costs a handful of round trips to the database whatever it
//! writes, and SQLite takes one writer at a time, so steps written one by
//! one queue behind each other's round trips. Written as a batch with
//! multi-row statements, the round trips are paid once per batch.
//!
//! There is no writer task to start or stop: the step that finds no batch
//! running spawns one, which writes what is queued until the queue is
//! empty. Spawned, the batch outlives a caller that gives up waiting (a
//! client that hangs up), so the other steps in it are written all the same.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Most steps one batch writes.
pub(crate) const MAX_BATCH: usize = 128;

/// A queue of steps of type `T` answered with `R`.
#[derive(Debug)]
pub(crate) struct Batcher<T, R> {
    state: Arc<Mutex<Queue<T, R>>>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T, R> Default for Batcher<T, R> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(Queue {
                waiting: Vec::new(),
                running: false,
            })),
        }
    }
}

#[derive(Debug)]
struct Queue<T, R> {
    waiting: Vec<(T, oneshot::Sender<Result<R>>)>,
    /// A batch task is writing; it takes what waits when it is done.
    running: bool,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Queues `step` and waits for its answer. `write` writes a batch and
    /// answers each of its steps, in order; the first caller to find no
    /// batch running lends its `write` to the task that runs them.
    pub(crate) async fn submit<W, F>(&self, step: T, write: W) -> Result<R>
    where
        W: Fn(Vec<T>) -> F + Send + 'static,
        F: Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = self.state.lock().expect("batch queue");
            queue.waiting.push((step, tx));
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(drain(self.state.clone(), write));
        }
        // The batch task is gone only when its runtime shut down mid-batch.
        rx.await
            .unwrap_or_else(|_| Err(Error::internal("a batched write was dropped unfinished")))
    }
}

/// Writes batches until nothing waits.
async fn drain<T, R, W, F>(state: Arc<Mutex<Queue<T, R>>>, write: W)
where
    W: Fn(Vec<T>) -> F,
    F: Future<Output = Vec<Result<R>>>,
{
    // Should this task be dropped mid-batch (its runtime shutting down),
    // the next step starts a new one rather than wait for this one.
    let _running = Running(&state);
    loop {
        let batch: Vec<_> = {
            let mut queue = state.lock().expect("batch queue");
            if queue.waiting.is_empty() {
                return;
            }
            let n = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..n).collect()
        };
        let (steps, answers): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
        let results = write(steps).await;
        debug_assert_eq!(results.len(), answers.len());
        for (answer, result) in answers.into_iter().zip(results) {
            // The caller may have stopped waiting; the step stands.
            let _ = answer.send(result);
        }
    }
}

/// Marks the queue as having no batch running when dropped.
struct Running<'a, T, R>(&'a Mutex<Queue<T, R>>);

impl<T, R> Drop for Running<'_, T, R> {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.0.lock() {
            queue.running = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn steps_queued_during_a_batch_are_written_together_and_answered_in_order() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let write = {
            let batches = batches.clone();
            move |steps: Vec<u32>| {
                let batches = batches.clone();
                async move {
                    // Slow enough that the others queue behind the first.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    batches.lock().unwrap().push(steps.clone());
                    steps
                        .into_iter()
                        .map(|s| {
                            if s == 7 {
                                Err(Error::not_found("seven"))
                            } else {
                                Ok(s * 10)
                            }
                        })
                        .collect()
                }
            }
        };
        let tasks: Vec<_> = (0..20u32)
            .map(|i| {
                let batcher = batcher.clone();
                let write = write.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(u64::from(i.min(1)) * 10)).await;
                    (i, batcher.submit(i, write).await)
                })
            })
            .collect();
        for task in tasks {
            let (i, answer) = task.await.unwrap();
            match i {
                7 => assert_eq!(answer.unwrap_err().kind(), crate::ErrorKind::NotFound),
                _ => assert_eq!(answer.unwrap(), i * 10),
            }
        }
        let batches = batches.lock().unwrap();
        // The first step runs alone; the 19 that came while it ran share one batch.
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert_eq!(batches[1].len(), 19);
        assert!(!batcher.state.lock().unwrap().running);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_does_not_stop_the_batch() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let written = Arc::new(AtomicUsize::new(0));
        let write = {
            let written = written.clone();
            move |steps: Vec<u32>| {
                let written = written.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    written.fetch_add(steps.len(), Ordering::SeqCst);
                    steps.into_iter().map(Ok).collect()
                }
            }
        };
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), batcher.submit(1, write.clone())).await;
        assert!(gave_up.is_err());
        assert_eq!(batcher.submit(2, write).await.unwrap(), 2);
        assert_eq!(written.load(Ordering::SeqCst), 2);
    }
}
