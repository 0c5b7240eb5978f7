//! Compile-time behaviour of `#[holmes::watch]`, driven by trybuild: every program in
//! `tests/ui/pass` must build and run successfully, every program in `tests/ui/fail` must
//! fail to build with exactly the errors in its `.stderr` snapshot.
//!
//! After changing a message, refresh the snapshots with
//! `TRYBUILD=overwrite cargo test --test ui` and read every changed `.stderr`: each error
//! must point at the offending token and say what to write instead.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
