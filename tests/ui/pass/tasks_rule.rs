// The `tasks` rule (holmes's `tokio` feature: `cargo test --features tokio`), above
// `#[tokio::main]`: attributes expand from the top down, so the guard lands inside the
// runtime's `block_on` and holmes counts that runtime's tasks.
#[cfg(feature = "tokio")]
#[holmes::watch(tasks(3000, 20, 200000, 300000), interval = "1h", dump_dir = "/tmp/holmes-ui", on_error = "panic")]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    tokio::spawn(async {}).await.expect("task");
}

#[cfg(not(feature = "tokio"))]
fn main() {}
