// `allocator = Path` wraps the program's own allocator (a unit struct implementing
// `GlobalAlloc`) in holmes's sampling allocator: allocations still reach it.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static CALLS: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[holmes::watch(mem(3, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui", allocator = Counting, on_error = "panic")]
fn main() {
    let before = CALLS.load(Ordering::Relaxed);
    let boxed = Box::new([0u8; 4096]);
    assert!(CALLS.load(Ordering::Relaxed) > before);
    drop(boxed);
}
