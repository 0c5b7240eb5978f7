// `enabled = false` emits the function unchanged; the arguments are still checked.
#[holmes::watch(cpu(10, 25, 80), enabled = false, dump_dir = "/proc/no-such-dir")]
fn main() {
    #![allow(unused_variables)]
    let unused = 1;
}
