//! The work queue under tokio's paused clock: time moves only when the test says so or when
//! every task waits (then straight to the next timer), so every timing is exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_runtime::{Action, Lease, QueueConfig, Shutdown, WorkQueue};
use tokio::time::Instant;

fn queue(concurrency: usize) -> WorkQueue<&'static str> {
    WorkQueue::new(QueueConfig::default().concurrency(concurrency))
}

/// The next lease, or `None` if none comes within `within` (of paused time).
async fn next_within(q: &WorkQueue<&'static str>, within: Duration) -> Option<Lease<&'static str>> {
    tokio::time::timeout(within, q.next()).await.ok().flatten()
}

async fn next_now(q: &WorkQueue<&'static str>) -> Lease<&'static str> {
    next_within(q, Duration::ZERO).await.expect("a due key")
}

#[tokio::test(start_paused = true)]
async fn a_key_added_many_times_waits_once() {
    let q = queue(4);
    for _ in 0..5 {
        q.add("a");
    }
    q.add("b");
    q.add("a");
    assert_eq!(q.len(), 2);
    assert_eq!(*next_now(&q).await.key(), "a");
    assert_eq!(*next_now(&q).await.key(), "b");
    assert!(next_within(&q, Duration::from_secs(3600)).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_running_key_is_not_handed_out_again_until_it_is_finished() {
    let q = queue(4);
    q.add("a");
    let lease = next_now(&q).await;
    q.add("a");
    q.add("a");
    assert_eq!(q.running(), 1);
    assert_eq!(
        q.len(),
        0,
        "the re-add waits for the lease, not in the queue"
    );
    assert!(next_within(&q, Duration::from_secs(60)).await.is_none());
    lease.done(Action::await_change());
    let again = next_now(&q).await;
    assert_eq!(*again.key(), "a");
    again.done(Action::await_change());
    assert!(
        next_within(&q, Duration::from_secs(60)).await.is_none(),
        "the re-adds while running make one more reconcile, not two"
    );
}

#[tokio::test(start_paused = true)]
async fn no_more_leases_than_the_concurrency_limit() {
    let q = queue(2);
    for k in ["a", "b", "c"] {
        q.add(k);
    }
    let a = next_now(&q).await;
    let b = next_now(&q).await;
    assert!(next_within(&q, Duration::from_secs(60)).await.is_none());
    assert_eq!(q.running(), 2);
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.next().await.map(|l| *l.key()) })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiter.is_finished());
    b.done(Action::await_change());
    assert_eq!(waiter.await.unwrap(), Some("c"));
    drop(a);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_from_5ms_and_success_resets() {
    let q = queue(1);
    q.add("a");
    let mut delays = Vec::new();
    for _ in 0..6 {
        let lease = next_now(&q).await;
        let delay = lease.failed();
        delays.push(delay);
        let start = Instant::now();
        let lease = q.next().await.unwrap();
        // Tokio's timers tick in milliseconds.
        let waited = Instant::now() - start;
        assert!(
            waited >= delay && waited <= delay + Duration::from_millis(1),
            "{waited:?} for {delay:?}"
        );
        // Released (dropped) after an add: due again at once, its failures kept.
        q.add("a");
        drop(lease);
    }
    for (n, d) in delays.iter().enumerate() {
        let base = Duration::from_millis(5) * 2u32.pow(n as u32);
        assert!(*d >= base && *d <= base.mul_f64(1.1), "attempt {n}: {d:?}");
    }
    // Success forgets the failures.
    let lease = next_now(&q).await;
    lease.done(Action::await_change());
    q.add("a");
    let d = next_now(&q).await.failed();
    assert!(d <= Duration::from_micros(5500), "{d:?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_stops_at_the_cap() {
    let q = WorkQueue::new(
        QueueConfig::default().backoff(Duration::from_secs(1), Duration::from_secs(4)),
    );
    q.add("a");
    let mut last = Duration::ZERO;
    for _ in 0..6 {
        last = q.next().await.unwrap().failed();
    }
    assert_eq!(last, Duration::from_secs(4));
    assert_eq!(
        QueueConfig::default().backoff.max,
        Duration::from_secs(1000)
    );
}

#[tokio::test(start_paused = true)]
async fn requeue_after_hands_out_keys_in_due_order() {
    let q = queue(4);
    let start = Instant::now();
    q.add_after("late", Duration::from_secs(30));
    q.add_after("soon", Duration::from_secs(10));
    q.add("now");
    // Already due sooner: a later add_after does not postpone it.
    q.add_after("soon", Duration::from_secs(60));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let l = q.next().await.unwrap();
        seen.push((*l.key(), (Instant::now() - start).as_secs()));
        l.done(Action::await_change());
    }
    assert_eq!(seen, [("now", 0), ("soon", 10), ("late", 30)]);

    // A requeue after a success; an add before it is due brings it forward.
    q.add("x");
    next_now(&q)
        .await
        .done(Action::requeue(Duration::from_secs(300)));
    assert!(next_within(&q, Duration::from_secs(299)).await.is_none());
    let t = Instant::now();
    assert_eq!(*q.next().await.unwrap().key(), "x");
    assert_eq!(Instant::now() - t, Duration::from_secs(1));
    q.add_after("y", Duration::from_secs(100));
    q.add("y");
    assert_eq!(*next_now(&q).await.key(), "y");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_handing_out_and_waits_for_running_reconciles() {
    let q = queue(4);
    q.add("a");
    q.add("b");
    let a = next_now(&q).await;
    q.add("c");
    let waiting_consumer = {
        let q = q.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(l) = q.next().await {
                got.push(*l.key());
                std::mem::forget(l); // held "forever" would block shutdown; see below
            }
            got
        })
    };
    // The consumer takes b and c, which it never finishes: shutdown must time out on them.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let shutdown = {
        let q = q.clone();
        tokio::spawn(async move { q.shutdown(Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!shutdown.is_finished());
    assert!(
        q.next().await.is_none(),
        "no key is handed out after shutdown"
    );
    q.add("d");
    assert!(q.next().await.is_none());
    let start = Instant::now();
    a.done(Action::await_change());
    match shutdown.await.unwrap() {
        Shutdown::TimedOut { mut still_running } => {
            still_running.sort();
            assert_eq!(still_running, ["b", "c"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Instant::now() - start, Duration::from_secs(9));
    let mut got = waiting_consumer.await.unwrap();
    got.sort();
    assert_eq!(got, ["b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_drained_when_the_running_reconciles_finish() {
    let q = queue(2);
    q.add("a");
    let a = next_now(&q).await;
    let shutdown = {
        let q = q.clone();
        tokio::spawn(async move { q.shutdown(Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    a.failed();
    assert_eq!(shutdown.await.unwrap(), Shutdown::Drained);
    assert_eq!(q.running(), 0);
}

#[tokio::test(start_paused = true)]
async fn run_reconciles_retries_failures_and_respects_the_limit() {
    let q = WorkQueue::<String>::new(QueueConfig::default().concurrency(2));
    let log = Arc::new(Mutex::new(Vec::<(String, u128)>::new()));
    let active = Arc::new(Mutex::new((0usize, 0usize))); // (now, most)
    let start = Instant::now();
    let worker = {
        let (log, active) = (log.clone(), active.clone());
        tokio::spawn(q.clone().run(move |key: String| {
            let (log, active) = (log.clone(), active.clone());
            async move {
                {
                    let mut a = active.lock().unwrap();
                    a.0 += 1;
                    a.1 = a.1.max(a.0);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                active.lock().unwrap().0 -= 1;
                let attempts = {
                    let mut l = log.lock().unwrap();
                    l.push((key.clone(), (Instant::now() - start).as_millis()));
                    l.iter().filter(|(k, _)| *k == key).count()
                };
                if key == "flaky" && attempts < 3 {
                    return Err(format!("{key} not yet"));
                }
                Ok(Action::await_change())
            }
        }))
    };
    for k in ["flaky", "a", "b", "c"] {
        q.add(k.to_string());
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(q.shutdown(Duration::from_secs(5)).await, Shutdown::Drained);
    worker.await.unwrap();
    let log = log.lock().unwrap().clone();
    let flaky: Vec<u128> = log
        .iter()
        .filter(|(k, _)| k == "flaky")
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(flaky.len(), 3, "{log:?}");
    assert_eq!(log.len(), 6, "{log:?}");
    assert_eq!(
        active.lock().unwrap().1,
        2,
        "never more than the limit at once"
    );
}
