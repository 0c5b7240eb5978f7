// A plain synchronous main: holmes starts, the body runs, the guard drops on return.
// An inner attribute stays first in the body.
#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
fn main() {
    #![allow(clippy::useless_vec)]
    let words = vec!["holmes", "watch"];
    let first = &words[0];
    assert_eq!(*first, "holmes");
}
