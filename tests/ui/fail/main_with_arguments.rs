// `main` takes no arguments.
#[holmes::watch(cpu(10, 25, 80))]
fn main(args: Vec<String>) {
    drop(args);
}
