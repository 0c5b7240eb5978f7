// The attribute on functions other than `main`: holmes runs for the life of each call.
#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
fn run(port: u16) -> Result<u16, String> {
    if port == 0 {
        return Err("no port".to_string());
    }
    Ok(port)
}

#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
pub async fn serve(name: &str) -> usize {
    tokio::task::yield_now().await;
    name.len()
}

struct Server;

impl Server {
    #[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
    fn handle<'a>(&self, request: &'a str) -> &'a str {
        request
    }
}

fn main() {
    assert_eq!(run(8080), Ok(8080));
    assert!(run(0).is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(runtime.block_on(serve("holmes")), 6);
    assert_eq!(Server.handle("ping"), "ping");
}
