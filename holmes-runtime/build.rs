//! Names for conditions the code would otherwise spell out again and again:
//!
//! - `linux_stack_walk`: the targets that have every capture, Linux on x86_64 or
//!   aarch64, whose signal contexts, frame layout and thread pointer the stack walker
//!   reads.
//! - `tokio_task_dumps`: builds that can take tokio task dumps: `--cfg tokio_unstable`
//!   (set through RUSTFLAGS), holmes's `taskdump` feature, and a target tokio's
//!   `Handle::dump` supports (Linux on x86, x86_64, aarch64 or s390x).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_stack_walk)");
    println!("cargo::rustc-check-cfg=cfg(tokio_task_dumps)");
    println!("cargo::rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && (arch == "x86_64" || arch == "aarch64") {
        println!("cargo::rustc-cfg=linux_stack_walk");
    }
    // A `--cfg` from RUSTFLAGS reaches build scripts as `CARGO_CFG_<NAME>`.
    let set = |var: &str| std::env::var_os(var).is_some();
    if set("CARGO_CFG_TOKIO_UNSTABLE")
        && set("CARGO_FEATURE_TASKDUMP")
        && os == "linux"
        && ["x86", "x86_64", "aarch64", "s390x"].contains(&arch.as_str())
    {
        println!("cargo::rustc-cfg=tokio_task_dumps");
    }
}
