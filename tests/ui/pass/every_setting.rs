// Every setting the runtime offers, with a non-default value; `on_error = "panic"` makes
// a start failure fail this test.
#[holmes::watch(
    cpu(10, 25, 80, cooldown = "30s"),
    interval = "1h",
    cooldown = "1m",
    dump_dir = "/tmp/holmes-ui",
    cpu_profile = "500ms",
    cpu_max = 95,
    memory_limit = "2GiB",
    cpu_cores = 1.5,
    formats(pprof, text, svg),
    on_error = "panic",
    enabled = true,
    crate = "::holmes",
)]
fn main() {}
