// Generic and const functions are rejected (lifetimes are fine).
#[holmes::watch(cpu(10, 25, 80))]
fn run<T: std::fmt::Debug>(value: T) {
    println!("{value:?}");
}

#[holmes::watch(cpu(10, 25, 80))]
const fn constant() -> u8 {
    1
}

fn main() {
    run(1);
    let _ = constant();
}
