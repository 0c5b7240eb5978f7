// The attribute only goes on functions with a body.
#[holmes::watch(cpu(10, 25, 80))]
struct Service;

#[holmes::watch(cpu(10, 25, 80))]
const PORT: u16 = 8080;

trait Run {
    #[holmes::watch(cpu(10, 25, 80))]
    fn run(&self);
}

fn main() {
    let _ = (Service, PORT);
}
