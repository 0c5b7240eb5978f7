// `main` returning a Result: `?` and an early `return` still leave `main` itself, and a
// tail expression borrowing a local still compiles.
use std::error::Error;

#[holmes::watch(cpu(10, 25, 80), interval = "1h", dump_dir = "/tmp/holmes-ui")]
fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "5".parse()?;
    if n == 0 {
        return Err("zero".into());
    }
    let text = String::from("ok");
    let len = text.as_str().len();
    assert_eq!(len, 2);
    Ok(())
}
