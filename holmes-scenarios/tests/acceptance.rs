//! The Go library's example scenarios (1gbslice, alloc, cpu_explode, deadloop,
//! channelblock, deadlock, slowlyleak, thread_trigger, gcheap) against the demo service
//! `examples/http_service.rs`: each test starts the service as a child process with a
//! 100 ms interval and rule overrides through `HOLMES_*` variables, hits the route over a
//! plain `TcpStream`, waits for the dump and checks — with `go tool pprof` or the text
//! dump — that it names the culprit function.
//!
//! Needs the `http` feature (the service requires it), and builds the service first, as
//! this package's `http_service` binary: `cargo test -p holmes-scenarios --features http
//! --test acceptance`.
#![cfg(feature = "http")]

mod common;
#[path = "common/service.rs"]
mod service;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use service::{Service, DUMP_WAIT};

/// The same path with another suffix: `x.pb.gz` → `x.txt`.
fn sibling(p: &Path, from: &str, to: &str) -> PathBuf {
    PathBuf::from(p.to_string_lossy().replace(from, to))
}

/// Waits until `p` exists (the formats of one dump are written one after the other).
fn wait_exists(p: &Path) {
    let start = Instant::now();
    while !p.exists() && start.elapsed() < DUMP_WAIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(p.exists(), "{} was not written", p.display());
}

/// The heaviest `go tool pprof -top -cum` row naming `culprit`: (cum value, cum %).
/// With `-unit=MB` the value is in MB; count profiles print plain numbers.
fn cum(file: &Path, extra: &[&str], culprit: &str) -> (f64, f64, String) {
    let mut args = vec!["-top", "-cum", "-nodecount=1000"];
    args.extend_from_slice(extra);
    let text = common::pprof(&args, file);
    let row = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .find(|l| l.contains(culprit))
        .unwrap_or_else(|| panic!("{culprit} not in {}:\n{text}", file.display()));
    let cols: Vec<&str> = row.split_whitespace().collect();
    let number = |s: &str| -> f64 {
        s.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%')
            .parse()
            .unwrap_or_else(|_| panic!("not a number {s:?} in {row:?}"))
    };
    (number(cols[3]), number(cols[4]), text)
}

/// A handler of the demo service, by name or by the lines of its code.
fn handler(name: &str) -> common::SourceFn {
    common::SourceFn::new(
        "../examples/http_service.rs",
        &format!("http_service::{name}"),
    )
}

/// Whether a text dump's `culprit:` line names `f`: by its qualified name, or — where
/// a release build's line tables name an inlined `async fn` body only `{async_fn#0}` —
/// by the file and line of its code.
fn culprit_is(text: &str, f: &common::SourceFn) -> bool {
    text.lines()
        .find_map(|l| l.strip_prefix("culprit: "))
        .is_some_and(|l| f.is(l))
}

/// `alive tasks: N` from a tasks dump's metrics.
fn alive_tasks(text: &str) -> usize {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix("alive tasks: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `alive tasks:` line in:\n{text}"))
}

/// The value that fired the rule (`current: X` in a dump's header).
fn current(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("current: "))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `current:` line in:\n{text}"))
}

/// How many threads the text dump groups under stacks naming `culprit`.
fn threads_in(text: &str, culprit: &str) -> usize {
    // "<n> threads with this stack:" heads each group; the frames follow.
    let mut total = 0;
    let mut group = 0;
    let mut counted = false;
    for line in text.lines() {
        if let Some(n) = line
            .strip_suffix(" threads with this stack:")
            .or_else(|| line.strip_suffix(" thread with this stack:"))
        {
            group = n.trim().parse().unwrap_or(0);
            counted = false;
        } else if !counted && line.contains(culprit) {
            total += group;
            counted = true;
        }
    }
    total
}

// 1gbslice: a request allocates and touches 1 GiB; the `mem` rule (RSS % of a 2 GiB
// limit) dumps a heap profile led by the handler, about 1 GiB of it.
#[test]
fn make1gb_mem_rule_dumps_the_allocating_handler() {
    let mut svc = Service::start(
        "1gbslice",
        &[("HOLMES_MEM", "10,25,40"), ("HOLMES_MEMORY_LIMIT", "2GiB")],
    );
    svc.fire("/make1gb");
    let heap = svc.wait_dump("heap", ".pb.gz");
    let handler = handler("make_1gb_handler");
    let (mb, _, text) = common::cum_of(&heap, &["-sample_index=inuse_space", "-unit=MB"], &handler);
    assert!((900.0..1200.0).contains(&mb), "~1 GiB expected:\n{text}");
    let txt = sibling(&heap, ".pb.gz", ".txt");
    wait_exists(&txt);
    let text = std::fs::read_to_string(&txt).expect("read the text dump");
    assert!(text.contains("rule: mem"), "{text}");
    assert!(culprit_is(&text, &handler), "{text}");
    // Named by its place only: the header says how to get the name.
    if text.contains("culprit: {") {
        assert!(
            text.contains("symbols: line tables name an inlined") && text.contains("\"limited\""),
            "{text}"
        );
    }
    svc.finish();
}

// alloc: requests each building a map of a million strings; the `heap` rule catches the
// live heap crossing its threshold and the dump is led by the handler.
#[test]
fn alloc_heap_rule_dumps_the_map_builder() {
    let mut svc = Service::start(
        "alloc",
        &[
            // 10 % of 1 GiB: well above what holmes itself holds (the symbolizer's cache
            // of this debug binary's debug info, ~20 MiB, is part of the heap too).
            ("HOLMES_HEAP", "10,50,20"),
            ("HOLMES_MEMORY_LIMIT", "1GiB"),
        ],
    );
    // After the warm-up (10 samples), when the rule is armed.
    std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..3 {
        svc.fire("/alloc");
    }
    let heap = svc.wait_dump("heap", ".pb.gz");
    let (mb, pct, text) = common::cum_of(
        &heap,
        &["-sample_index=inuse_space", "-unit=MB"],
        &handler("build_huge_map_handler"),
    );
    assert!(
        mb >= 40.0 && pct >= 50.0,
        "the map builder must hold most of the heap:\n{text}"
    );
    svc.finish();
}

// cpu_explode: a request starts a thread that spins forever; the CPU profile is
// dominated by the spinning function.
#[test]
fn cpuex_cpu_rule_dumps_the_spinning_thread() {
    let svc = Service::start(
        "cpu_explode",
        &[
            ("HOLMES_CPU", "10,25,30"),
            ("HOLMES_CPU_CORES", "1"),
            ("HOLMES_CPU_PROFILE", "1s"),
        ],
    );
    let answer = svc.get("/cpuex");
    assert!(answer.contains("spins forever"), "{answer}");
    let cpu = svc.wait_dump("cpu", ".pb.gz");
    let top = common::pprof_top_functions(&cpu, &[], 3);
    assert!(
        top.iter().any(|f| f.contains("cpu_explode_spin")),
        "{top:#?}"
    );
    let (_, pct, text) = cum(&cpu, &[], "cpu_explode_spin");
    assert!(pct >= 80.0, "the spinner must dominate:\n{text}");
    svc.finish();
}

// cpu_explode, strictly: every sample of the spinning thread names the spinner, and every
// frame is symbolized — also samples taken on the first instruction of a function the
// spinner calls (`core::hint::black_box`), before that function set its frame pointer.
#[test]
fn cpuex_every_sample_names_the_spinner() {
    let svc = Service::start(
        "cpu_explode-strict",
        &[
            ("HOLMES_CPU", "10,25,30"),
            ("HOLMES_CPU_CORES", "1"),
            ("HOLMES_CPU_PROFILE", "1s"),
        ],
    );
    svc.get("/cpuex");
    let cpu = svc.wait_dump("cpu", ".pb.gz");
    let rows = common::pprof_top_functions(&cpu, &[], 1000);
    assert!(
        !rows.iter().any(|f| f.starts_with("0x")),
        "unsymbolized frames: {rows:#?}"
    );
    let (_, pct, text) = cum(&cpu, &[], "cpu_explode_spin");
    assert!(pct >= 90.0, "{text}");
    svc.finish();
}

// deadloop: concurrent requests that loop on sleep(1 ms) + work forever; the CPU
// profile names the handler.
#[test]
fn deadloop_cpu_rule_dumps_the_looping_handler() {
    let mut svc = Service::start(
        "deadloop",
        &[
            ("HOLMES_CPU", "10,25,30"),
            ("HOLMES_CPU_CORES", "1"),
            ("HOLMES_CPU_PROFILE", "1s"),
        ],
    );
    for _ in 0..10 {
        svc.fire("/deadloop");
    }
    let cpu = svc.wait_dump("cpu", ".pb.gz");
    let handler = handler("dead_loop_handler");
    let top = common::pprof_top_functions(&cpu, &["-lines"], 3);
    assert!(top.iter().any(|f| handler.is(f)), "{top:#?}");
    let (_, pct, text) = common::cum_of(&cpu, &["-unit=ms"], &handler);
    assert!(pct >= 30.0, "the loops must dominate:\n{text}");
    svc.finish();
}

/// Whether `text` (a task dump, or its culprit line) names the service's async fn `name`
/// (`http_service::name::{{closure}}`; with line tables only, the name is the symbol
/// table's). The service spawns these tasks as trait objects, so that an optimized
/// build keeps their async fn out of tokio's task root, which task dumps leave out.
fn names_async_fn(text: &str, name: &str) -> bool {
    text.contains(&format!("http_service::{name}::{{{{closure}}}}"))
}

// channelblock: 100 requests each leave a task blocked sending into a full channel; the
// `tasks` rule dumps with at least 100 alive tasks. Without `--cfg tokio_unstable` (task
// dumps off) the dump is the runtime's metrics plus a thread dump; with task dumps on it
// lists "100 tasks with this trace:" ending in `channel_block_sender`, checked then (in
// the text and the culprit).
#[test]
fn chanblock_tasks_rule_dumps_the_blocked_senders() {
    // Fires on abs only (a 1000 % diff cannot be met): at 100 alive tasks or more.
    let svc = Service::start("channelblock", &[("HOLMES_TASKS", "50,1000,99")]);
    // Sequential, each answered: the tasks pile up during the 1 s warm-up, so the
    // first check sees them all.
    for i in 1..=100 {
        let answer = svc.get("/chanblock");
        assert!(answer.contains(&format!("{i} tasks blocked")), "{answer}");
    }
    let pb = svc.wait_dump("tasks", ".pb.gz");
    let txt = sibling(&pb, ".pb.gz", ".txt");
    wait_exists(&txt);
    let text = std::fs::read_to_string(&txt).expect("read the text dump");
    assert!(text.contains("rule: tasks"), "{text}");
    assert!(alive_tasks(&text) >= 100, "{text}");
    if text.contains("task traces") {
        assert!(names_async_fn(&text, "channel_block_sender"), "{text}");
        let culprit = text
            .lines()
            .find(|l| l.starts_with("culprit: "))
            .unwrap_or_else(|| panic!("no culprit:\n{text}"));
        assert!(names_async_fn(culprit, "channel_block_sender"), "{text}");
    } else {
        assert!(text.contains("task dumps are off"), "{text}");
        // tokio's workers, named as the kernel keeps it (15 bytes).
        assert!(text.contains("\"tokio-rt-worker\""), "{text}");
    }
    svc.finish();
}

// deadlock: two threads deadlock by taking two locks in opposite orders, then 100
// requests wait on one of them; the `threads` rule's dump shows the waiters in the lock
// call and both lock-order functions.
#[test]
fn deadlock_threads_rule_dumps_the_waiters_and_both_lock_orders() {
    let mut svc = Service::start("deadlock", &[("HOLMES_THREADS", "20,25,60")]);
    for _ in 0..100 {
        svc.fire("/deadlock");
    }
    let pb = svc.wait_dump("threads", ".pb.gz");
    let (waiters, _, text) = cum(&pb, &[], "wait_on_the_deadlocked_lock");
    assert!(waiters >= 50.0, "the waiters pile up:\n{text}");
    for culprit in ["lock_a_then_b", "lock_b_then_a"] {
        let (n, _, text) = cum(&pb, &[], culprit);
        assert_eq!(n, 1.0, "{culprit}:\n{text}");
    }
    let txt = sibling(&pb, ".pb.gz", ".txt");
    wait_exists(&txt);
    let text = std::fs::read_to_string(&txt).expect("read the text dump");
    assert!(
        threads_in(&text, "wait_on_the_deadlocked_lock") >= 50,
        "{text}"
    );
    assert!(text.contains("\"lock-a-then-b\""), "{text}");
    assert!(text.contains("\"lock-b-then-a\""), "{text}");
    svc.finish();
}

// slowlyleak: each request leaks one consumer task; the `tasks` rule fires on growth
// (diff) again and again, and each dump counts more alive tasks than the one before.
// With task dumps on, they list the leaked tasks parked in `leaked_consumer`.
#[test]
fn leak_tasks_rule_dumps_a_growing_number_of_waiters() {
    let svc = Service::start(
        "slowlyleak",
        &[
            // diff 5 %: a steady leak of ~2.5 tasks a tick keeps firing up to ~230
            // tasks (a 25 % diff stops at ~55, which a slow first dump can outlast).
            ("HOLMES_TASKS", "10,5,100000"),
            ("HOLMES_COOLDOWN", "300ms"),
        ],
    );
    // About 25 leaks a second, until two dumps are on disk (at most 200 leaks).
    let mut sent = 0;
    while svc.dumps("tasks", ".txt").len() < 2 && sent < 200 {
        svc.get("/leak");
        sent += 1;
        std::thread::sleep(Duration::from_millis(40));
    }
    let dumps = svc.dumps("tasks", ".txt");
    assert!(
        dumps.len() >= 2,
        "{} tasks dumps; stderr:\n{}",
        dumps.len(),
        svc.log()
    );
    let texts: Vec<String> = dumps
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read the text dump"))
        .collect();
    // What the rule saw (`current:`) grows from dump to dump; the capture, which may
    // come later than the trigger, counts at least as many.
    let seen: Vec<f64> = texts.iter().map(|t| current(t)).collect();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]) && seen[0] >= 10.0,
        "each dump must see more leaked tasks: {seen:?}"
    );
    for (text, &seen) in texts.iter().zip(&seen) {
        // The test's own requests come and go (one connection task at a time).
        assert!(alive_tasks(text) as f64 + 2.0 >= seen, "{text}");
    }
    for text in &texts {
        assert!(
            text.contains("reason: curVal >= ruleMin, and meet diff"),
            "{text}"
        );
        if text.contains("task traces") {
            assert!(names_async_fn(text, "leaked_consumer"), "{text}");
        }
    }
    svc.finish();
}

// thread_trigger: a request parks 500 OS threads; the `threads` rule's dump lists them
// in `park_os_thread`.
#[test]
fn threads_threads_rule_dumps_the_parked_threads() {
    let svc = Service::start("thread_trigger", &[("HOLMES_THREADS", "20,25,300")]);
    let answer = svc.get("/threads");
    assert!(answer.contains("parked 500 OS threads"), "{answer}");
    let pb = svc.wait_dump("threads", ".pb.gz");
    let (parked, _, text) = cum(&pb, &[], "park_os_thread");
    assert!(parked >= 280.0, "{text}");
    let txt = sibling(&pb, ".pb.gz", ".txt");
    wait_exists(&txt);
    let text = std::fs::read_to_string(&txt).expect("read the text dump");
    assert!(threads_in(&text, "park_os_thread") >= 280, "{text}");
    assert!(text.contains("\"parked-0\""), "{text}");
    svc.finish();
}

/// Runs gcheap: starts the service, hits `/gcheap` and returns the peak and baseline
/// heap dumps of the spike.
fn gcheap_dumps(test: &str) -> (Service, PathBuf, PathBuf) {
    let mut svc = Service::start(
        test,
        &[("HOLMES_HEAP", "5,50,8"), ("HOLMES_MEMORY_LIMIT", "1GiB")],
    );
    svc.fire("/gcheap");
    let peak = svc.wait_dump("heap", ".pb.gz");
    let base = sibling(&peak, ".pb.gz", ".base.pb.gz");
    wait_exists(&base);
    (svc, peak, base)
}

// gcheap: small churn, then a 100 MiB spike held 500 ms; the `heap` rule writes two heap
// dumps around the spike (the peak, led by the handler, and a baseline), and
// `pprof -base` names the handler as what grew.
#[test]
fn gcheap_heap_rule_dumps_the_spike_and_a_baseline() {
    let (svc, peak, base) = gcheap_dumps("gcheap");
    let handler = handler("heap_spike_handler");
    let (mb, _, text) = common::cum_of(&peak, &["-sample_index=inuse_space", "-unit=MB"], &handler);
    // Up to 100 MiB: the peak snapshot ends after 50 ms without growth, which a loaded
    // machine can cause mid-spike.
    assert!((60.0..130.0).contains(&mb), "~100 MiB expected:\n{text}");
    // The heaviest stack is charged to the handler: the innermost frame of the
    // program's own is the handler's (flat lands on it or on the std container method
    // it called, never on holmes' allocator).
    let traces = common::pprof_traces(&peak, &["-sample_index=inuse_space", "-unit=MB"]);
    let heaviest = traces
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("samples");
    assert!(
        common::own_frame(&heaviest.1).is_some_and(|f| handler.is(f)),
        "{heaviest:#?}"
    );
    assert!(
        !heaviest.1[0].contains("/holmes-runtime/src/"),
        "flat on holmes: {heaviest:#?}"
    );
    // The baseline is taken below the rule's threshold (5 % of 1 GiB), so at least the
    // other half of the spike shows as growth (all of it once the bug below is fixed).
    let base_arg = format!("-base={}", base.display());
    let (grown, _, text) = common::cum_of(
        &peak,
        &[&base_arg, "-sample_index=inuse_space", "-unit=MB"],
        &handler,
    );
    assert!(grown >= 40.0, "{text}");
    svc.finish();
}

// gcheap, strictly: the baseline must precede the spike, so that `pprof -base` shows all
// of it. It does not when the spike ramps up over more than the heap watcher's 50 ms poll.
#[test]
fn gcheap_baseline_precedes_the_spike() {
    let (svc, _peak, base) = gcheap_dumps("gcheap-base");
    let text = common::pprof(
        &["-top", "-cum", "-sample_index=inuse_space", "-unit=MB"],
        &base,
    );
    let in_base = text
        .lines()
        .find(|l| l.contains("heap_spike_handler"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("").to_owned());
    assert!(
        in_base.is_none(),
        "the baseline already holds {in_base:?} of the spike:\n{text}"
    );
    svc.finish();
}
