// When holmes cannot start (here the dump directory cannot be created), the error is
// logged and the program runs on without holmes: the default `on_error = "log"`.
use std::sync::atomic::{AtomicBool, Ordering};

static RAN: AtomicBool = AtomicBool::new(false);

#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/proc/holmes-cannot-create-this")]
fn run() -> u8 {
    RAN.store(true, Ordering::SeqCst);
    7
}

fn main() {
    assert_eq!(run(), 7);
    assert!(RAN.load(Ordering::SeqCst));
}
