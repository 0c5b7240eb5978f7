// Every rule kind and setting the runtime offers (the `tasks` rule needs holmes's `tokio`
// feature and is covered by the unit tests), with non-default values. `on_error =
// "panic"` makes a start failure fail this test. `mem` and `heap` install holmes's
// sampling allocator as the global allocator.
#[holmes::watch(
    cpu(10, 25, 80, cooldown = "30s", sustain = 2, escalate = "1h"),
    mem(3, 25, 80),
    heap(10, 20, 40, cooldown = "2m"),
    threads(10, 25, 70, 5000),
    interval = "1h",
    cooldown = "1m",
    dump_dir = "/tmp/holmes-ui",
    cpu_profile = "500ms",
    cpu_max = 95,
    memory_limit = "2GiB",
    cpu_cores = 1.5,
    heap_sample_rate = "512KiB",
    formats(pprof, text, svg),
    min_free_space = "64MiB",
    cascade = true,
    stack_walk = "dwarf",
    reporter = holmes::LogReporter::new(),
    on_error = "panic",
    enabled = true,
    crate = "::holmes",
)]
fn main() {
    let v: Vec<u64> = (0..1000).collect();
    assert_eq!(v.len(), 1000);
}
