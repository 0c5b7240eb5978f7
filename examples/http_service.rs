//! A real HTTP service that profiles itself: an [axum] server on tokio with
//! `#[holmes::watch]`, and one route per scenario of the Go library's examples (a memory
//! spike, a CPU overload, blocked and leaked tasks, a deadlock, a thread pile-up, a heap
//! spike). Hit a route, and holmes writes the profile that names the culprit.
//!
//! # Run it
//!
//! ```text
//! cargo run --features http --example http_service
//! # listening on http://127.0.0.1:8080
//! ```
//!
//! `PORT=9000` listens elsewhere (`PORT=0` picks a free port; the first line printed says
//! which). holmes' debug endpoint listens on `127.0.0.1:6060` (`ADMIN_PORT`; the second
//! line says where): open <http://127.0.0.1:6060/debug/holmes/>, or profile the service
//! now with `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5`. The configuration is production-like: a 5 s interval, a 10-sample warm-up
//! (50 s), cooldowns of minutes. For a quick demo, shorten the interval and lower the
//! thresholds with the `HOLMES_*` environment variables (see `holmes::ENV_VARS`), for
//! example:
//!
//! ```text
//! HOLMES_INTERVAL=500ms HOLMES_DUMP_DIR=/tmp/holmes-demo \
//!     cargo run --features http --example http_service
//! ```
//!
//! # Hit it
//!
//! | curl | scenario | what happens | rule | the dump names |
//! |---|---|---|---|---|
//! | `curl localhost:8080/make1gb` | 1gbslice | allocates and touches 1 GiB, holds it 5 s | `mem` (and `heap`) | `make_1gb_handler` |
//! | `curl localhost:8080/alloc` | alloc | builds a `HashMap` of a million strings | `heap` | `build_huge_map_handler` |
//! | `curl localhost:8080/cpuex` | cpu_explode | starts a thread that spins forever | `cpu` | `cpu_explode_spin` |
//! | `curl localhost:8080/deadloop &` (×10) | deadloop | each request loops on `sleep(1 ms)` + work forever | `cpu` | `dead_loop_handler` |
//! | `curl localhost:8080/chanblock` (×100) | channelblock | each request leaves a task blocked sending into a full channel nobody reads | `tasks` | `channel_block_sender` (task dumps) |
//! | `curl localhost:8080/deadlock &` (×100) | deadlock | two threads deadlock (`lock_a_then_b`, `lock_b_then_a`); each request waits on the lock | `threads` | `wait_on_the_deadlocked_lock`, both lock-order functions |
//! | `curl localhost:8080/leak` (in a loop) | slowlyleak | each request leaks one consumer task that waits forever | `tasks` | `leaked_consumer` (task dumps) |
//! | `curl localhost:8080/threads` | thread_trigger | parks 500 OS threads | `threads` | `park_os_thread` |
//! | `curl localhost:8080/gcheap` | gcheap | 2 s of small churn, then a 100 MiB spike held 500 ms | `heap` | `heap_spike_handler` |
//!
//! For example, 100 blocked senders:
//!
//! ```text
//! for i in $(seq 100); do curl -s localhost:8080/chanblock; done
//! ```
//!
//! `/cpuex`, `/deadloop`, `/chanblock`, `/deadlock`, `/leak` and `/threads` leave the process
//! in a bad state on purpose: restart it between scenarios.
//!
//! # Read the dumps
//!
//! Dumps go to `/tmp/holmes-demo` (`HOLMES_DUMP_DIR` overrides it), one set of files per
//! dump, named `<kind>.<yyyymmdd-HHMMSS.mmm>.<pid>`, and each dump is logged on stderr
//! (target `holmes`, warn level) with the rule, the reason and the culprit:
//!
//! - `cpu.*.pb.gz`, `heap.*.pb.gz`: `go tool pprof -top <file>` lists the heaviest
//!   functions (`-sample_index=inuse_space` for the live heap, `-cum` to sort by the
//!   callers); `go tool pprof -http=:0 <file>` opens the graph and the flame graph.
//! - `heap.*.base.pb.gz`: the heap just before a `heap` spike; `go tool pprof -top
//!   -base=<base> <peak>` shows what grew.
//! - `threads.*.txt`, `tasks.*.txt`: the rule and reason, then every thread's stack,
//!   threads with the same stack grouped (`500 threads with this stack:`). A tasks dump
//!   starts with the runtime's metrics (`alive tasks: 100`); built with
//!   `RUSTFLAGS="--cfg tokio_unstable"` and the `taskdump` feature it lists each task's
//!   trace (`100 tasks with this trace:`), else the threads.
//! - `*.svg`: a flame graph, for a browser.
//!
//! The log is kept readable with `holmes=warn` (one line per dump); `RUST_LOG=holmes=info`
//! shows more.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

/// How long `/make1gb` holds its gibibyte.
const HOLD_1GB: Duration = Duration::from_secs(5);
/// Entries of the map `/alloc` builds (about 170 MiB).
const MAP_ENTRIES: u64 = 1_000_000;
/// OS threads `/threads` parks.
const PARKED_THREADS: usize = 500;
/// `/gcheap`: the churn before the spike, the spike's size and how long it is held.
const GCHEAP_CHURN: Duration = Duration::from_secs(2);
const GCHEAP_SPIKE_MIB: usize = 100;
const GCHEAP_HOLD: Duration = Duration::from_millis(500);

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    /// The sending side of a full channel whose receiver is never read (`/chanblock`).
    full_channel: mpsc::Sender<u64>,
    /// The producers' side of every leaked consumer: kept, never used, never closed
    /// (`/leak`).
    leaked_producers: Arc<Mutex<Vec<mpsc::Sender<u64>>>>,
    /// Requests per route, for the responses.
    counter: Arc<AtomicU64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The logger first: holmes starts when `serve` is entered, and what it logs while
    // starting (a malformed HOLMES_* variable, a dump directory it cannot create) would be
    // lost if the logger were installed inside the watched function.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("holmes=warn"))
        .init();
    serve()
}

/// The service. Holmes watches it from the moment the tokio runtime runs it until it
/// returns. `memory_limit` stands for the container this demo pretends to run in; in a
/// real service leave it out and holmes reads the cgroup limit.
#[holmes::watch(
    cpu(20, 25, 80, cooldown = "5m"),
    mem(25, 25, 80, cooldown = "5m"),
    heap(4, 100, 40),
    threads(100, 25, 1000, 10000, cooldown = "10m"),
    tasks(100, 25, 5000),
    interval = "5s",
    cooldown = "1m",
    cpu_profile = "5s",
    memory_limit = "2GiB",
    dump_dir = "/tmp/holmes-demo"
)]
#[tokio::main]
async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 8080,
    };
    let (full_channel, unread) = mpsc::channel(1);
    full_channel.try_send(0)?; // fill it: every later send waits forever
    let state = AppState {
        full_channel,
        leaked_producers: Arc::default(),
        counter: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/make1gb", get(make_1gb_handler))
        .route("/alloc", get(build_huge_map_handler))
        .route("/cpuex", get(cpu_explode_handler))
        .route("/deadloop", get(dead_loop_handler))
        .route("/chanblock", get(channel_block_handler))
        .route("/deadlock", get(deadlock_handler))
        .route("/leak", get(leak_handler))
        .route("/threads", get(threads_handler))
        .route("/gcheap", get(heap_spike_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // holmes' debug endpoint on an admin listener of its own, bound to the loopback
    // interface: profiles on demand (`go tool pprof http://127.0.0.1:6060/debug/pprof/profile`),
    // the status, the dumps and a page (http://127.0.0.1:6060/debug/holmes/). With
    // ADMIN_TOKEN set, every request needs it (`Authorization: Bearer …`, or Basic auth
    // with it as the password: a browser asks).
    let admin_port: u16 = match std::env::var("ADMIN_PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 6060,
    };
    let admin = tokio::net::TcpListener::bind(("127.0.0.1", admin_port)).await?;
    let debug = holmes::http::DebugRouter::new()
        .bearer_token(std::env::var("ADMIN_TOKEN").unwrap_or_default())
        .into_router();
    // The first lines on stdout, flushed: scripts and tests wait for them.
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    writeln!(
        out,
        "debug endpoint on http://{}/debug/holmes/",
        admin.local_addr()?
    )?;
    out.flush()?;
    drop(out);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(admin, debug).await {
            eprintln!("the debug endpoint stopped: {e}");
        }
    });
    axum::serve(listener, app).await?;
    drop(unread);
    Ok(())
}

async fn index() -> &'static str {
    "holmes demo service; each route provokes one scenario:\n\
     /make1gb   1 GiB allocated and held 5 s (mem)\n\
     /alloc     a huge HashMap per request (heap)\n\
     /cpuex     a thread spinning forever (cpu)\n\
     /deadloop  a request looping forever (cpu)\n\
     /chanblock a task blocked forever on a full channel (tasks)\n\
     /deadlock  a lock-order deadlock, the request waits on the lock (threads)\n\
     /leak      a leaked consumer task (tasks)\n\
     /threads   500 parked OS threads (threads)\n\
     /gcheap    small churn, then a 100 MiB spike for 500 ms (heap)\n"
}

/// 1gbslice: allocates 1 GiB, touches every page (so the RSS grows, not only the address
/// space), holds it, frees it.
async fn make_1gb_handler() -> String {
    let mut v = vec![0u8; 1 << 30];
    v.iter_mut().step_by(4096).for_each(|b| *b = 1);
    tokio::time::sleep(HOLD_1GB).await;
    let touched = std::hint::black_box(&v).len();
    drop(v);
    format!(
        "allocated and touched {} MiB, held it {HOLD_1GB:?}, freed it\n",
        touched >> 20
    )
}

/// alloc: a map of a million strings, built and dropped in one request.
async fn build_huge_map_handler() -> String {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut i = 0;
    while i < MAP_ENTRIES {
        map.insert(format!("key-{i}"), format!("value-{i:0>24}"));
        i += 1;
    }
    let n = std::hint::black_box(&map).len();
    format!("built a map of {n} entries\n")
}

/// cpu_explode: one thread that spins forever.
async fn cpu_explode_handler() -> String {
    match std::thread::Builder::new()
        .name("cpu-explode".into())
        .spawn(cpu_explode_spin)
    {
        Ok(_) => "started a thread that spins forever\n".into(),
        Err(e) => format!("cannot spawn: {e}\n"),
    }
}

#[inline(never)]
fn cpu_explode_spin() {
    // A plain loop, no iterator: in a debug build `Range::next` would be a call of its
    // own and take the samples.
    let mut x = 1u64;
    loop {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x = std::hint::black_box(x);
    }
}

/// deadloop: never answers; sleeps 1 ms and does a little work, forever.
async fn dead_loop_handler() -> &'static str {
    let mut x = 1u64;
    loop {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let mut i = 0u32;
        while i < 100_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x = std::hint::black_box(x);
            i += 1;
        }
    }
}

/// channelblock: leaves a task blocked forever sending into a channel nobody reads.
async fn channel_block_handler(State(s): State<AppState>) -> String {
    let n = s.counter.fetch_add(1, Ordering::Relaxed) + 1;
    // Spawned as a trait object: in an optimized build a future spawned as it is gets
    // inlined into tokio's task root, which task dumps leave out, so the dump could not
    // show `channel_block_sender`; boxed as `dyn Future` its `poll` stays a function of
    // its own, in the trace (see holmes' `dump::tasks`).
    let task: Pin<Box<dyn Future<Output = ()> + Send>> =
        Box::pin(channel_block_sender(s.full_channel.clone(), n));
    tokio::spawn(task);
    format!("{n} tasks blocked sending into a channel nobody reads\n")
}

async fn channel_block_sender(tx: mpsc::Sender<u64>, n: u64) {
    // The channel is full and its receiver is never read: this never completes.
    let _ = tx.send(n).await;
}

/// Two locks taken in opposite orders by two threads.
struct LockPair {
    a: Mutex<u64>,
    b: Mutex<u64>,
}

static DEADLOCK: OnceLock<Arc<LockPair>> = OnceLock::new();

/// The deadlocked pair: on the first call, starts the two threads and returns once each
/// holds its first lock, so the deadlock is certain.
fn deadlocked_pair() -> Arc<LockPair> {
    DEADLOCK
        .get_or_init(|| {
            let pair = Arc::new(LockPair {
                a: Mutex::new(0),
                b: Mutex::new(0),
            });
            let held = Arc::new(Barrier::new(3));
            for (name, body) in [
                ("lock-a-then-b", lock_a_then_b as fn(&LockPair, &Barrier)),
                ("lock-b-then-a", lock_b_then_a),
            ] {
                let (pair, held) = (pair.clone(), held.clone());
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || body(&pair, &held))
                    .expect("spawn a lock-order thread");
            }
            held.wait();
            pair
        })
        .clone()
}

#[inline(never)]
fn lock_a_then_b(pair: &LockPair, held: &Barrier) {
    let a = pair.a.lock().unwrap_or_else(|p| p.into_inner());
    held.wait();
    let b = pair.b.lock().unwrap_or_else(|p| p.into_inner());
    std::hint::black_box((&a, &b));
}

#[inline(never)]
fn lock_b_then_a(pair: &LockPair, held: &Barrier) {
    let b = pair.b.lock().unwrap_or_else(|p| p.into_inner());
    held.wait();
    let a = pair.a.lock().unwrap_or_else(|p| p.into_inner());
    std::hint::black_box((&a, &b));
}

#[inline(never)]
fn wait_on_the_deadlocked_lock(pair: &LockPair) -> u64 {
    let a = pair.a.lock().unwrap_or_else(|p| p.into_inner());
    *std::hint::black_box(&*a)
}

/// deadlock: never answers; a blocking-pool thread waits on a deadlocked lock.
async fn deadlock_handler() -> String {
    let pair = deadlocked_pair();
    match tokio::task::spawn_blocking(move || wait_on_the_deadlocked_lock(&pair)).await {
        Ok(v) => format!("got the lock ({v})?\n"),
        Err(e) => format!("the waiter failed: {e}\n"),
    }
}

/// slowlyleak: each request subscribes a consumer whose producer is kept but never sends
/// nor closes, so the consumer task waits forever.
async fn leak_handler(State(s): State<AppState>) -> String {
    let (tx, rx) = mpsc::channel(1);
    // A trait object, as in `channel_block_handler`: the task dump then shows it.
    let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(leaked_consumer(rx));
    tokio::spawn(task);
    let mut producers = s.leaked_producers.lock().unwrap_or_else(|p| p.into_inner());
    producers.push(tx);
    format!("{} consumer tasks leaked\n", producers.len())
}

async fn leaked_consumer(mut rx: mpsc::Receiver<u64>) {
    while let Some(v) = rx.recv().await {
        std::hint::black_box(v);
    }
}

/// thread_trigger: parks 500 OS threads for good.
async fn threads_handler() -> String {
    let started = Instant::now();
    let spawned = tokio::task::spawn_blocking(|| {
        (0..PARKED_THREADS)
            .filter(|i| {
                std::thread::Builder::new()
                    .name(format!("parked-{i}"))
                    .stack_size(64 << 10)
                    .spawn(park_os_thread)
                    .is_ok()
            })
            .count()
    })
    .await
    .unwrap_or(0);
    format!("parked {spawned} OS threads in {:?}\n", started.elapsed())
}

#[inline(never)]
fn park_os_thread() {
    loop {
        std::thread::park();
    }
}

/// gcheap: steady small churn, then a 100 MiB spike held for 500 ms.
async fn heap_spike_handler() -> String {
    let start = Instant::now();
    let mut churned = 0;
    while start.elapsed() < GCHEAP_CHURN {
        churned += steady_churn(1000);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spike: Vec<Vec<u8>> = (0..GCHEAP_SPIKE_MIB).map(|_| vec![7u8; 1 << 20]).collect();
    tokio::time::sleep(GCHEAP_HOLD).await;
    let n = std::hint::black_box(&spike).len();
    drop(spike);
    format!("churned {churned} small strings, then held {n} MiB for {GCHEAP_HOLD:?}\n")
}

#[inline(never)]
fn steady_churn(n: usize) -> usize {
    let v: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    std::hint::black_box(v).len()
}
