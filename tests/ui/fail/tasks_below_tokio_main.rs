// Below `#[tokio::main]`, holmes sees the synchronous `main` that tokio generated and
// would start before the runtime whose tasks the `tasks` rule counts.
#[tokio::main]
#[holmes::watch(tasks(3000, 20, 200000))]
async fn main() {}
