//! Memory: peak heap of `Client::list_all` over 20,000 Pods in pages of 500 (and over 2,000, to
//! show that the peak does not grow with the total), and heap per idle watch, for k8s-client
//! and for kube 5 (paging by hand with `limit`/`continue`, as kube's `Api::list` does not
//! page).
//!
//! Heap is counted by a global allocator wrapper (see `alloc_counter` below). The test server
//! runs in a child process (this binary, started again with `K8S_BENCH_MEMORY_ROLE=server`), so
//! its allocations are not counted; the child stops when its stdin closes, or after 15 minutes.
//!
//! Not a criterion benchmark: it prints a table (`cargo bench -p k8s-sdk-benches --bench
//! memory`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_api::v1_34::core::v1::Pod;
use k8s_sdk_benches::server;

type TheirPod = k8s_openapi::api::core::v1::Pod;

const ROLE: &str = "K8S_BENCH_MEMORY_ROLE";
const SEED: u64 = 0x6b38_735f_6d65_6d00;
const PAGE: i64 = 500;
const SIZES: &[(&str, u64)] = &[("mem-20000", 20_000), ("mem-2000", 2_000)];
const IDLE_NS: &str = "mem-idle";
const WATCHES: usize = 100;

mod alloc_counter {
    //! A global allocator that counts live heap bytes and their peak.
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CURRENT: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Counting;

    fn add(n: usize) {
        let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
    // `GlobalAlloc` contract (layout validity, pointer provenance, size/alignment of `dealloc`
    // and `realloc` matching the allocation) is exactly the one `System` already upholds; the
    // only addition is bookkeeping on atomics, which neither allocates nor panics. A counting
    // allocator needs `unsafe impl GlobalAlloc`: there is no safe way to observe heap use of
    // every allocation in the process (including reqwest's, hyper's, serde's).
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as `System::alloc`, forwarded unchanged.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as `System::alloc_zeroed`, forwarded unchanged.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by this allocator (i.e. by `System`) with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: same contract as `System::realloc`, forwarded unchanged.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
                add(new_size);
            }
            p
        }
    }

    /// Live heap bytes now.
    pub fn current() -> usize {
        CURRENT.load(Ordering::Relaxed)
    }

    /// Starts a new peak measurement from the current level; returns that level.
    pub fn reset_peak() -> usize {
        let now = current();
        PEAK.store(now, Ordering::Relaxed);
        now
    }

    /// Highest live heap since the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name this binary skips it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !"memory".contains(filter.as_str())
    {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os(ROLE).is_some() {
        rt.block_on(serve());
    } else {
        rt.block_on(measure());
    }
}

/// The child: a filled test server; prints `KUBECONFIG <path>`, then waits for stdin to close.
async fn serve() {
    let srv = server::start(1000).await.unwrap();
    let kubeconfig = srv.kubeconfig_for(server::TOKEN);
    let client = server::client(&kubeconfig).unwrap();
    for (i, (ns, n)) in SIZES.iter().enumerate() {
        server::populate(&client, ns, SEED ^ i as u64, *n)
            .await
            .unwrap();
    }
    server::populate(&client, IDLE_NS, SEED, 0).await.unwrap();
    println!("KUBECONFIG {}", kubeconfig.display());
    std::io::stdout().flush().unwrap();
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    });
    let _ = tokio::time::timeout(Duration::from_secs(15 * 60), stdin_closed).await;
    srv.shutdown().await;
}

async fn measure() {
    let started = std::time::Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let kubeconfig = std::path::PathBuf::from(
        line.trim()
            .strip_prefix("KUBECONFIG ")
            .unwrap_or_else(|| panic!("server child said {line:?}")),
    );
    eprintln!(
        "memory bench: server child filled in {:.1?}",
        started.elapsed()
    );

    let ours = server::client(&kubeconfig).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let kube = kube::Client::try_from(config).unwrap();
    // Warm both connections (TLS sessions, pools) before measuring.
    ours.send(Pod::list(IDLE_NS)).await.unwrap();
    kube::Api::<TheirPod>::namespaced(kube.clone(), IDLE_NS)
        .list(&Default::default())
        .await
        .unwrap();

    println!("\n| measurement | k8s-client | kube 5 |\n|---|---|---|");
    for (ns, n) in SIZES {
        let base = alloc_counter::reset_peak();
        let count = ours
            .list_all(Pod::list(ns).limit(PAGE))
            .try_fold(0u64, |n, _pod| async move { Ok(n + 1) })
            .await
            .unwrap();
        assert_eq!(count, *n);
        let ours_peak = alloc_counter::peak() - base;

        let api = kube::Api::<TheirPod>::namespaced(kube.clone(), ns);
        let base = alloc_counter::reset_peak();
        let mut lp = kube::api::ListParams::default().limit(PAGE as u32);
        let mut count = 0u64;
        loop {
            let page = api.list(&lp).await.unwrap();
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            for _pod in page {
                count += 1;
            }
            match next {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
        assert_eq!(count, *n);
        let kube_peak = alloc_counter::peak() - base;
        println!(
            "| peak heap, all {n} pods in pages of {PAGE} | {} | {} |",
            mib(ours_peak),
            mib(kube_peak)
        );
    }
    {
        let base = alloc_counter::reset_peak();
        let page = ours.send(Pod::list(SIZES[0].0).limit(PAGE)).await.unwrap();
        let held = alloc_counter::current() - base;
        let peak = alloc_counter::peak() - base;
        drop(page);
        let api = kube::Api::<TheirPod>::namespaced(kube.clone(), SIZES[0].0);
        let base = alloc_counter::reset_peak();
        let page = api
            .list(&kube::api::ListParams::default().limit(PAGE as u32))
            .await
            .unwrap();
        let kheld = alloc_counter::current() - base;
        let kpeak = alloc_counter::peak() - base;
        drop(page);
        println!(
            "| one page of {PAGE} pods: peak while fetching | {} | {} |",
            mib(peak),
            mib(kpeak)
        );
        println!(
            "| one page of {PAGE} pods: held after decoding | {} | {} |",
            mib(held),
            mib(kheld)
        );
    }

    // Idle watches: each task opens a watch on an empty namespace and waits for events that do
    // not come. Measured: live heap growth after all are connected, per watch.
    let base = alloc_counter::current();
    let mut tasks = Vec::new();
    for _ in 0..WATCHES {
        let c = ours.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = std::pin::pin!(c.watch(Pod::watch(IDLE_NS)));
            while let Some(_e) = s.next().await {}
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ours_per = (alloc_counter::current().saturating_sub(base)) / WATCHES;
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let api = kube::Api::<TheirPod>::namespaced(kube.clone(), IDLE_NS);
    let base = alloc_counter::current();
    let mut tasks = Vec::new();
    for _ in 0..WATCHES {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let wp = kube::api::WatchParams::default().timeout(290);
            let s = api.watch(&wp, "0").await.unwrap();
            let mut s = std::pin::pin!(s);
            while let Some(_e) = s.next().await {}
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kube_per = (alloc_counter::current().saturating_sub(base)) / WATCHES;
    for t in &tasks {
        t.abort();
    }
    println!(
        "| live heap per idle watch ({WATCHES} open) | {:.1} KiB | {:.1} KiB |",
        ours_per as f64 / 1024.0,
        kube_per as f64 / 1024.0
    );

    drop(child.stdin.take());
    let _ = child.wait();
}
