//! Scenario for `tests/watch_runtime.rs`: holmes cannot start (its dump directory cannot
//! be created under `/proc`), and with the default `on_error = "log"` the program logs
//! the error and runs on without holmes.
//!
//! The attribute is on `run`, not `main`, so that the logger is installed before holmes
//! starts: a start error logged before any logger exists would be lost.

#[holmes::watch(
    cpu(10, 25, 80),
    interval = "1h",
    dump_dir = "/proc/holmes-cannot-create-this"
)]
fn run() -> u32 {
    println!("run: the body ran");
    7
}

fn main() {
    env_logger::init();
    let value = run();
    println!("main: run returned {value}");
}
