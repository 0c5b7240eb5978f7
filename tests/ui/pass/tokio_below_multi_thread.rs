// `#[holmes::watch]` below `#[tokio::main]`, multi_thread flavor: `.await`, `?` and the
// return type keep working.
use std::time::Duration;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    let answer = tokio::spawn(async { 42 }).await?;
    assert_eq!(answer, 42);
    Ok(())
}
