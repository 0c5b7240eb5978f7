//! Names for conditions the code would otherwise spell out again and again:
//!
//! - `linux_stack_walk`: the targets that have every capture, Linux on x86_64 or
//!   aarch64, whose signal contexts, frame layout and thread pointer the stack walker
//!   reads.
//! - `tokio_task_dumps`: builds that can take tokio task dumps: `--cfg tokio_unstable`
//!   (set through RUSTFLAGS), holmes's `taskdump` feature, and a target tokio's
//!   `Handle::dump` supports (Linux on x86, x86_64, aarch64 or s390x).
//! - `holmes_frame_pointers`: the build forces frame pointers (`-C
//!   force-frame-pointers=yes` in the flags cargo passes, from `RUSTFLAGS` or a
//!   `.cargo/config.toml`), so `StackWalk::Auto` may take the faster frame-pointer walk.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_stack_walk)");
    println!("cargo::rustc-check-cfg=cfg(tokio_task_dumps)");
    println!("cargo::rustc-check-cfg=cfg(holmes_frame_pointers)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    if forces_frame_pointers(&std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default()) {
        println!("cargo::rustc-cfg=holmes_frame_pointers");
    }
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

/// Whether the last `force-frame-pointers` codegen option among `flags` (separated by
/// 0x1f, as cargo encodes them) turns frame pointers on: `-C force-frame-pointers`,
/// `=yes`, `=y`, `=on`, `=true` (also written `-Cforce-frame-pointers=…`).
fn forces_frame_pointers(flags: &str) -> bool {
    let mut on = false;
    for flag in flags.split('\x1f') {
        let opt = flag.strip_prefix("-C").unwrap_or(flag);
        if let Some(rest) = opt.strip_prefix("force-frame-pointers") {
            on = matches!(rest, "" | "=yes" | "=y" | "=on" | "=true" | "=always");
        }
    }
    on
}
