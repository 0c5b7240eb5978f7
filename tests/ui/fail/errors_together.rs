// Independent errors are reported together, and the function is still emitted: `main`
// can call `serve` without a "cannot find function" follow-on error.
#[holmes::watch(cpu(90, 0, 80), interval = "0s", nope = 1, cooldown = "soon")]
fn serve() -> u16 {
    8080
}

fn main() {
    let port: u16 = serve();
    let _ = port;
}
