//! The peak trigger: a 200 MiB spike held for 200 ms between two sampler ticks is
//! caught on the allocator's sampling path, and the snapshot taken after the trigger
//! shows the spike at its peak, attributed to the function that allocated it.

mod common;

use std::time::{Duration, Instant};

use holmes_runtime::alloc::{self as halloc, Allocator};
use holmes_runtime::dump::profile::to_pprof_gz;
use holmes_runtime::symbol::Symbolizer;

#[global_allocator]
static A: Allocator = Allocator::system();

const MIB: u64 = 1 << 20;

/// Allocates 200 MiB in 1 MiB blocks (each touched once), holds it 200 ms, frees it.
#[inline(never)]
fn spike_200mib_for_200ms() {
    let mut held = Vec::with_capacity(200);
    for _ in 0..200 {
        let mut b = Vec::<u8>::with_capacity(MIB as usize);
        b.push(1);
        held.push(b);
        // Spread over ~20 ms, like a request handler building a large response.
        if held.len() % 20 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    drop(held);
}

#[test]
fn trigger_fires_on_spike_and_peak_snapshot_names_it() {
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
    let baseline = halloc::stats().live_bytes_estimate;
    let threshold = baseline + 100 * MIB;
    halloc::set_trigger(threshold);

    // The holmes side: wait for the trigger, then snapshot at the peak.
    let watcher = std::thread::spawn(|| {
        let fired = halloc::wait_trigger(Duration::from_secs(15));
        let t = Instant::now();
        let peak = halloc::snapshot_peak(Duration::from_secs(1));
        (fired, peak, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(50));
    spike_200mib_for_200ms();
    let (fired, peak, took) = watcher.join().expect("watcher");

    let fired = fired.expect("trigger did not fire");
    assert!(fired > threshold, "fired at {fired}, threshold {threshold}");
    assert_eq!(
        halloc::stats().trigger_threshold,
        halloc::DISARMED,
        "one shot"
    );
    assert!(
        took <= Duration::from_millis(1100),
        "peak snapshot took {took:?}"
    );

    let mut sym = Symbolizer::new();
    let spike = common::by_func(&peak, &mut sym, "spike_200mib_for_200ms", |e| e.inuse_space);
    // The trigger fired at ~100 MiB; the peak snapshot must have waited for the top.
    assert!(
        (180 * MIB..=220 * MIB).contains(&spike),
        "spike at peak snapshot: {:.1} MiB (fired at {:.1} MiB)",
        spike as f64 / MIB as f64,
        (fired - baseline) as f64 / MIB as f64
    );

    let dir = common::fresh_dir("alloc-trigger");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("peak.pb.gz");
    let p = peak.to_profile(&mut sym);
    std::fs::write(&path, to_pprof_gz(&p).expect("encode")).expect("write");
    let top = common::pprof_top_functions(&path, &["-sample_index=inuse_space"], 1);
    assert!(
        top.first()
            .is_some_and(|f| f.contains("spike_200mib_for_200ms")),
        "top inuse_space at peak: {top:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Disarmed: the same spike again does not fire.
    spike_200mib_for_200ms();
    assert_eq!(halloc::wait_trigger(Duration::from_millis(10)), None);
}
