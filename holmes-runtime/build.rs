//! One name, `linux_stack_walk`, for the targets that have every capture: Linux on
//! x86_64 or aarch64, whose signal contexts, frame layout and thread pointer the stack
//! walker reads. The code says `#[cfg(linux_stack_walk)]` instead of repeating the
//! condition.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_stack_walk)");
    println!("cargo::rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && (arch == "x86_64" || arch == "aarch64") {
        println!("cargo::rustc-cfg=linux_stack_walk");
    }
}
