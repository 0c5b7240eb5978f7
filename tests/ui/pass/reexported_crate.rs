// `crate = "..."` for crates that re-export holmes under another path.
mod platform {
    pub use holmes as profiler;
}

#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui", crate = "crate::platform::profiler")]
fn main() {}
