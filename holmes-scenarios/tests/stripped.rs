//! A dump taken by a stripped binary names its culprit offline: the pprof carries the
//! executable's mapping (bounds, file offset, path, GNU build-id) and every location's
//! address, so `go tool pprof <unstripped binary> <dump>` symbolizes it; the text
//! report says the symbols are missing and how to read it.
//!
//! Go's bundled `go tool pprof` cannot read build-ids from binaries (its object reader
//! reports none), so it rejects every `PPROF_BINARY_PATH` candidate of a mapping that
//! has one ("build-id mismatch"); upstream pprof and profiling backends match them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `go tool pprof <args> <file>` with `PPROF_BINARY_PATH` set to `binaries`.
fn pprof_with_binaries(args: &[&str], file: &Path, binaries: &Path) -> String {
    let home = std::env::temp_dir();
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", &home)
        .env("PPROF_TMPDIR", &home)
        .env("PPROF_BINARY_PATH", binaries)
        .output()
        .expect("`go` not found: install golang-go");
    assert!(
        out.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `objcopy <flag> from to`: a copy of a binary with parts stripped.
fn objcopy(flag: &str, from: &Path, to: &Path) {
    let st = Command::new("objcopy")
        .arg(flag)
        .arg(from)
        .arg(to)
        .status()
        .expect("objcopy (binutils) not found");
    assert!(st.success(), "objcopy {flag} failed");
}

/// Runs the `cpu_spike` scenario binary `bin` with dumps in `dumps`: the one CPU dump's
/// pprof file, and the process's stderr.
fn run_cpu_spike(bin: &Path, dumps: &Path) -> (PathBuf, String) {
    let mut cmd = Command::new(bin);
    cmd.env("HOLMES_TEST_DIR", dumps)
        .env("RUST_LOG", "holmes=info");
    let out = common::run_with_deadline(cmd, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{stderr}");
    let pb = common::files(dumps, "cpu.", ".pb.gz");
    assert_eq!(pb.len(), 1, "one CPU dump expected: {stdout}\n{stderr}");
    (pb[0].clone(), stderr)
}

// Guards against: locations without mappings (`mapping_id: 0`, no build-id), which
// left a stripped binary's dumps as bare hex addresses for good.
#[test]
fn a_stripped_binarys_cpu_dump_is_symbolized_with_the_unstripped_one() {
    let root = common::fresh_dir("stripped");
    let (run, binaries, dumps) = (root.join("run"), root.join("bin"), root.join("dumps"));
    for d in [&run, &binaries] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    // The same file name in both places: pprof finds the binary by build-id and name.
    let unstripped = binaries.join("cpu_spike");
    std::fs::copy(common::scenario_bin("cpu_spike"), &unstripped).expect("copy");
    let stripped = run.join("cpu_spike");
    objcopy("--strip-all", &unstripped, &stripped);
    let (pb, _) = run_cpu_spike(&stripped, &dumps);
    let pb = &pb;

    // The stripped process could not name its own code.
    let txt =
        std::fs::read_to_string(pb.to_string_lossy().replace(".pb.gz", ".txt")).expect("text dump");
    assert!(!txt.contains("cpu_spike_culprit"), "{txt}");
    assert!(
        txt.contains("symbols: ") && txt.contains("go tool pprof -top <unstripped cpu_spike>"),
        "{txt}"
    );

    // Nothing where pprof looks: still hex addresses.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let bare = pprof_with_binaries(&["-top"], pb, &empty);
    assert!(!bare.contains("cpu_spike_culprit"), "{bare}");

    // The executable's mapping carries the binary's GNU build-id.
    let notes = Command::new("readelf")
        .arg("-n")
        .arg(&stripped)
        .output()
        .expect("readelf (binutils) not found");
    let notes = String::from_utf8_lossy(&notes.stdout);
    let build_id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("the linker wrote a build-id");
    let raw = common::pprof(&["-raw"], pb);
    let mappings = raw.split("Mappings").nth(1).unwrap_or("");
    let main = mappings.lines().nth(1).unwrap_or("");
    assert!(
        main.contains(&*stripped.to_string_lossy()) && main.contains(build_id),
        "{mappings}"
    );

    // With the unstripped binary: the culprit is among the top functions (the
    // stripped process's symbolizer warm-up may run during the capture too), and the
    // callers are named (the return addresses of outer frames resolve to their calls).
    let unstripped_arg = unstripped.to_string_lossy().into_owned();
    let top = pprof_with_binaries(&["-top", "-nodecount=5", &unstripped_arg], pb, &empty);
    let rows: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .collect();
    assert!(
        rows.iter().any(|r| r.ends_with(" cpu_spike_culprit")),
        "{top}"
    );
    let cum = pprof_with_binaries(
        &["-top", "-cum", "-nodecount=40", &unstripped_arg],
        pb,
        &empty,
    );
    // Go's pprof names functions by their DWARF names (unqualified).
    for caller in ["__rust_begin_short_backtrace", "thread_start"] {
        assert!(cum.contains(caller), "{caller}:\n{cum}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

// Guards against: a binary without line tables (`debug = 0`, or debug info stripped
// for the image) whose dumps silently lose inlined frames and file:line. The header
// says why and what to set; functions are still named from the symbol table.
#[test]
fn a_binary_without_line_tables_says_so_in_every_dump() {
    let root = common::fresh_dir("no-line-tables");
    let (run, dumps) = (root.join("run"), root.join("dumps"));
    std::fs::create_dir_all(&run).expect("mkdir");
    let bin = run.join("cpu_spike");
    objcopy("--strip-debug", &common::scenario_bin("cpu_spike"), &bin);
    let (pb, stderr) = run_cpu_spike(&bin, &dumps);
    let txt =
        std::fs::read_to_string(pb.to_string_lossy().replace(".pb.gz", ".txt")).expect("text dump");
    let header: Vec<&str> = txt
        .lines()
        .take_while(|l| !l.starts_with("Type:"))
        .collect();
    assert!(
        header
            .iter()
            .any(|l| l.starts_with("symbols: built without line tables")
                && l.contains("debug = \"line-tables-only\"")),
        "{txt}"
    );
    assert!(stderr.contains("built without line tables"), "{stderr}");
    // The symbol table still names the culprit.
    assert!(
        txt.lines()
            .any(|l| l.starts_with("culprit: ") && l.contains("cpu_spike_culprit")),
        "{txt}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
