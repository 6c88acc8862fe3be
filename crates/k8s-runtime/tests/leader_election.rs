//! Leader election: two candidates against the test server. Exactly one leads at a time; when
//! the leader stops, the other takes over at its next try (the lease is released); when the
//! leader is partitioned (its token revoked: every request fails), it steps down at its renew
//! deadline and the other takes over once the lease duration has passed. The hand-written
//! Lease reads and writes what the generated `coordination/v1` Lease does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use k8s_client::{Client, ConfigLoader};
use k8s_runtime::leader_election::{Config, LeaderElector, Lease, Outcome};
use k8s_testserver::TestServer;
use tokio::sync::{Mutex, oneshot};
use tokio::time::Instant;

const LEASE: Duration = Duration::from_millis(2000);
const RENEW: Duration = Duration::from_millis(1400);
const RETRY: Duration = Duration::from_millis(200);

/// Who leads now, and whether two ever led at once.
#[derive(Default)]
struct Board {
    leaders: AtomicUsize,
    overlap: AtomicBool,
    /// `(identity, when it started leading)`, in order.
    history: Mutex<Vec<(String, Instant)>>,
}

fn client_for(server: &TestServer, token: &str) -> Client {
    let mut config = ConfigLoader::new()
        .env_map(BTreeMap::new())
        .kubeconfig_paths([server.kubeconfig_for(token)])
        .kubeconfig()
        .unwrap();
    config.retry.max_retries = 0;
    Client::try_from(config).unwrap()
}

/// Starts candidate `id`; returns its stop signal and its outcome.
fn candidate(
    server: &TestServer,
    id: &'static str,
    board: Arc<Board>,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Outcome>) {
    let elector = LeaderElector::new(
        client_for(server, &format!("{id}-token")),
        "default",
        "operator",
        id,
        Config::default().timing(LEASE, RENEW, RETRY),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        elector
            .run(shutdown, |leading| async move {
                if board.leaders.fetch_add(1, Ordering::SeqCst) != 0 {
                    board.overlap.store(true, Ordering::SeqCst);
                }
                board
                    .history
                    .lock()
                    .await
                    .push((id.to_string(), Instant::now()));
                leading.lost().await;
                board.leaders.fetch_sub(1, Ordering::SeqCst);
            })
            .await
            .unwrap()
    });
    (stop, task)
}

async fn server() -> TestServer {
    TestServer::builder()
        .token("a-token", "a", &["system:masters"])
        .token("b-token", "b", &["system:masters"])
        .start()
        .await
        .unwrap()
}

/// Waits until `n` leaderships have started; returns the last.
async fn nth_leader(board: &Board, n: usize, limit: Duration) -> (String, Instant) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(h) = board.history.lock().await.get(n - 1) {
            return h.clone();
        }
        assert!(Instant::now() < deadline, "no leader #{n} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leader_stops_the_other_takes_over_at_once() {
    let server = server().await;
    let board = Arc::new(Board::default());
    let (stop_a, a) = candidate(&server, "a", board.clone());
    let (stop_b, b) = candidate(&server, "b", board.clone());
    let (first, _) = nth_leader(&board, 1, LEASE * 2).await;
    tokio::time::sleep(LEASE).await; // the leader renews; nobody else leads meanwhile
    assert_eq!(board.history.lock().await.len(), 1);

    let stopped_at = Instant::now();
    let (stop_first, first_task, stop_other, other_task) = if first == "a" {
        (stop_a, a, stop_b, b)
    } else {
        (stop_b, b, stop_a, a)
    };
    stop_first.send(()).unwrap();
    assert_eq!(first_task.await.unwrap(), Outcome::Released);
    let (second, at) = nth_leader(&board, 2, LEASE).await;
    assert_ne!(second, first);
    let took = at - stopped_at;
    assert!(took < RETRY * 2, "released lease taken after {took:?}");
    stop_other.send(()).unwrap();
    assert_eq!(other_task.await.unwrap(), Outcome::Released);
    assert!(!board.overlap.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_steps_down_before_the_other_takes_over() {
    let server = server().await;
    let board = Arc::new(Board::default());
    let (_stop_a, a) = candidate(&server, "a", board.clone());
    let (_stop_b, b) = candidate(&server, "b", board.clone());
    let (first, _) = nth_leader(&board, 1, LEASE * 2).await;
    tokio::time::sleep(RETRY * 3).await;

    let partitioned_at = Instant::now();
    server.revoke_token(&format!("{first}-token"));
    let (first_task, _other_task) = if first == "a" { (a, b) } else { (b, a) };
    let outcome = first_task.await.unwrap();
    let stepped_down = partitioned_at.elapsed();
    assert_eq!(outcome, Outcome::Lost);
    assert!(
        stepped_down <= RENEW + RETRY,
        "stepped down after {stepped_down:?}"
    );
    let (second, at) = nth_leader(&board, 2, LEASE * 3).await;
    assert_ne!(second, first);
    let took = at - partitioned_at;
    // The other waits a lease duration from the last renewal it saw (at most a retry period
    // before the partition), checking every retry period (+ jitter).
    assert!(took >= LEASE - RETRY * 2, "took over too early: {took:?}");
    assert!(took <= LEASE + RETRY * 3, "took over after {took:?}");
    assert!(!board.overlap.load(Ordering::SeqCst), "two leaders at once");
}

#[test]
fn the_hand_written_lease_and_the_generated_one_read_each_other() {
    let generated = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "operator", "namespace": "default", "resourceVersion": "7"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-01T10:00:00.000000Z", "renewTime": "2026-12-01T10:00:02.500000Z",
            "leaseTransitions": 3, "preferredHolder": "b", "strategy": "OldestEmulationVersion"}
    });
    let typed: k8s_api::v1_36::coordination::v1::Lease =
        serde_json::from_value(generated.clone()).unwrap();
    let ours: Lease = serde_json::from_value(serde_json::to_value(&typed).unwrap()).unwrap();
    assert_eq!(ours.holder(), Some("a"));
    // Ours keeps every field through a read and write, the generated type reads what we write.
    let written = serde_json::to_value(&ours).unwrap();
    assert_eq!(written, serde_json::to_value(&typed).unwrap());
    let back: k8s_api::v1_36::coordination::v1::Lease = serde_json::from_value(written).unwrap();
    assert_eq!(back, typed);
    let ours_direct: Lease = serde_json::from_value(generated.clone()).unwrap();
    assert_eq!(serde_json::to_value(&ours_direct).unwrap(), generated);
}
