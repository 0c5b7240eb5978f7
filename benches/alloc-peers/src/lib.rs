//! Empty: this package only holds the `peers` benchmark (benches/peers.rs).
