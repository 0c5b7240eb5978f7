// `allocator = false`: the program installs holmes's allocator itself.
#[global_allocator]
static ALLOCATOR: holmes::Allocator = holmes::Allocator::system();

#[holmes::watch(heap(10, 20, 40), interval = "1h", dump_dir = "/tmp/holmes-ui", allocator = false, on_error = "panic")]
fn main() {
    let v = vec![1u8; 1 << 20];
    assert_eq!(v.len(), 1 << 20);
}
