//! Scenarios for `tests/hygiene.rs` about the dump directory's disk. The first argument
//! picks one; `HOLMES_TEST_DIR` is the dump directory (prepared by the test):
//!
//! - `unwritable`: `start()` fails with a typed error naming its cause, and the
//!   attribute's semantics (`__private::start(.., OnError::Log)`) let the program run on.
//! - `full`: the file system fills up under a running holmes: the dump fails, is counted
//!   and leaves nothing behind; once there is room again, the next dump is written.
//! - `readonly`: the dump directory's file system (a tmpfs mounted by the test) is
//!   remounted read-only under a running holmes, then read-write again.
//! - `floor`: below `min_free_space` dumps are skipped and counted.
//! - `symlink`: symlinks named like the next dump files, pointing at a victim file, are
//!   never written through, and retention never deletes or follows them.
//! - `removed`: the dump directory is removed under a running holmes (a tmp cleaner):
//!   the next dump recreates it (0700) and lands in it; then it is replaced by a
//!   symlink to `HOLMES_TEST_VICTIM` (a directory): the next dump is refused and
//!   counted, and nothing is written or deleted through the symlink.

#[path = "../hygiene_pile.rs"]
mod pile;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pile::{builder, last_dump, threads_rule, wait_until, Pile, HIGH};

fn main() {
    pile::init_log();
    let dir = PathBuf::from(pile::env("HOLMES_TEST_DIR"));
    match std::env::args().nth(1).as_deref() {
        Some("unwritable") => unwritable(&dir),
        Some("full") => full(&dir),
        Some("readonly") => readonly(&dir),
        Some("floor") => floor(&dir),
        Some("symlink") => symlink(&dir),
        Some("removed") => removed(&dir),
        other => panic!("unknown mode {other:?}"),
    }
    println!("host: still running");
}

fn unwritable(dir: &Path) {
    let b = builder(dir).threads(threads_rule(Duration::from_millis(100)));
    match b.clone().start() {
        Ok(_) => panic!("start() succeeded on an unwritable {}", dir.display()),
        Err(e) => {
            let variant = match &e {
                holmes::Error::CreateDumpDir { .. } => "CreateDumpDir",
                holmes::Error::DumpDirNotWritable { .. } => "DumpDirNotWritable",
                _ => "other",
            };
            let source = std::error::Error::source(&e).map(|s| s.to_string());
            println!("start error: {variant}; source: {source:?}; message: {e}");
        }
    }
    // What `#[holmes::watch]` generates: log the error and run on without holmes.
    let guard = holmes::__private::start(b, holmes::__private::OnError::Log);
    println!(
        "attribute start: {}",
        if guard.is_some() { "running" } else { "none" }
    );
}

/// Bytes available in `dir`'s file system.
fn free_bytes(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("path");
    // SAFETY: c is NUL-terminated; st is a valid out-pointer.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0, "statvfs");
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

/// Temporary files holmes left in `dir`.
fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn full(dir: &Path) {
    let guard = builder(dir)
        .threads(threads_rule(Duration::from_millis(200)))
        .start()
        .expect("holmes starts");
    // Fill the file system, leaving one page.
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let mut left = free_bytes(dir).saturating_sub(4096);
    let chunk = vec![0xa5u8; 64 << 10];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if f.write_all(&chunk[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    drop(f);
    println!("filled: {} bytes free", free_bytes(dir));

    let mut pile = Pile::default();
    pile.set(HIGH);
    let ok = wait_until(Duration::from_secs(10), || {
        last_dump(&guard).is_some_and(|e| e.error.is_some())
    });
    assert!(ok, "no failed dump on the full disk: {:?}", guard.status());
    let failed = last_dump(&guard).expect("event");
    let s = guard.status();
    println!(
        "full: error={:?} write_failures={} dump_failures={} tmp={:?}",
        failed.error.as_deref().unwrap_or(""),
        s.write_failures,
        s.dump_failures,
        tmp_files(dir)
    );

    // Room again: the next dump (after the cooldown) is written whole.
    std::fs::remove_file(&filler).expect("remove filler");
    let ok = wait_until(Duration::from_secs(10), || {
        last_dump(&guard).is_some_and(|e| e.id > failed.id && e.error.is_none())
    });
    assert!(ok, "no dump after the disk was freed: {:?}", guard.status());
    let written = last_dump(&guard).expect("event");
    pile.set(0);
    let s = guard.status();
    println!("room: dumps={} files={:?}", s.dumps, written.files);
    drop(guard);
}

/// `mount -o remount,<how> dir`.
fn remount(dir: &Path, how: &str) {
    let st = std::process::Command::new("mount")
        .args(["-o", &format!("remount,{how}")])
        .arg(dir)
        .status()
        .expect("run mount");
    assert!(
        st.success(),
        "mount -o remount,{how} {}: {st}",
        dir.display()
    );
}

fn readonly(dir: &Path) {
    let guard = builder(dir)
        .threads(threads_rule(Duration::from_millis(200)))
        .start()
        .expect("holmes starts");
    remount(dir, "ro");
    let mut pile = Pile::default();
    pile.set(HIGH);
    let ok = wait_until(Duration::from_secs(10), || {
        last_dump(&guard).is_some_and(|e| e.error.is_some())
    });
    if !ok {
        remount(dir, "rw");
    }
    assert!(
        ok,
        "no failed dump on a read-only disk: {:?}",
        guard.status()
    );
    let failed = last_dump(&guard).expect("event");
    let s = guard.status();
    println!(
        "readonly: error={:?} write_failures={} files={}",
        failed.error.as_deref().unwrap_or(""),
        s.write_failures,
        failed.files.len()
    );
    remount(dir, "rw");
    let ok = wait_until(Duration::from_secs(10), || {
        last_dump(&guard).is_some_and(|e| e.id > failed.id && e.error.is_none())
    });
    pile.set(0);
    assert!(ok, "no dump once writable again: {:?}", guard.status());
    println!(
        "writable: files={:?}",
        last_dump(&guard).expect("event").files
    );
}

fn floor(dir: &Path) {
    let guard = builder(dir)
        .threads(threads_rule(Duration::from_millis(100)))
        .min_free_space(free_bytes(dir) + (1 << 20))
        .start()
        .expect("holmes starts");
    let mut pile = Pile::default();
    pile.set(HIGH);
    let ok = wait_until(Duration::from_secs(10), || {
        guard.status().skipped_low_disk >= 3
    });
    pile.set(0);
    let s = guard.status();
    assert!(ok, "dumps not skipped below the floor: {s:?}");
    println!(
        "floor: skipped_low_disk={} dumps={} dump_failures={}",
        s.skipped_low_disk, s.dumps, s.dump_failures
    );
}

fn symlink(dir: &Path) {
    let victim = PathBuf::from(pile::env("HOLMES_TEST_VICTIM"));
    let guard = builder(dir)
        .threads(threads_rule(Duration::from_millis(100)))
        .retention(2, 1 << 30)
        .start()
        .expect("holmes starts");
    // Plant a symlink to the victim under every name a dump of the next 3 s could take.
    let t0 = SystemTime::now();
    let mut planted = 0;
    for ms in 0..3000 {
        let stem =
            holmes_runtime::dump::writer::file_stem("threads", t0 + Duration::from_millis(ms));
        for ext in ["pb.gz", "txt", "svg"] {
            std::os::unix::fs::symlink(&victim, dir.join(format!("{stem}.{ext}")))
                .expect("plant symlink");
            planted += 1;
        }
    }
    println!(
        "planted={planted} in {:?}",
        t0.elapsed().unwrap_or_default()
    );
    let mut pile = Pile::default();
    pile.set(HIGH);
    let ok = wait_until(Duration::from_secs(10), || guard.status().dumps >= 2);
    pile.set(0);
    let s = guard.status();
    assert!(ok, "no dumps next to the symlinks: {s:?}");
    let e = last_dump(&guard).expect("event");
    assert!(
        e.time < t0 + Duration::from_millis(3000),
        "the dump came after the planted window: {e:?}"
    );
    println!(
        "symlink: dumps={} failures={} files_deleted={} last={:?}",
        s.dumps, s.dump_failures, s.files_deleted, e.files
    );
}

fn removed(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let victim = PathBuf::from(pile::env("HOLMES_TEST_VICTIM"));
    let guard = builder(dir)
        .threads(threads_rule(Duration::from_millis(200)))
        .start()
        .expect("holmes starts");
    let mut pile = Pile::default();
    pile.set(HIGH);
    let dumps = |n: u64| wait_until(Duration::from_secs(15), || guard.status().dumps >= n);
    assert!(dumps(1), "no first dump: {:?}", guard.status());

    // A tmp cleaner removes the directory: the next dump recreates it.
    let mut removals = u32::from(rm_rf(dir));
    let before = guard.status().dumps;
    assert!(
        dumps(before + 1),
        "no dump after the directory was removed: {:?}",
        guard.status()
    );
    let e = last_dump(&guard).expect("event");
    let mode = std::fs::symlink_metadata(dir)
        .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
        .unwrap_or_else(|e| format!("missing ({e})"));
    let inside = e.files.iter().filter(|f| f.parent() == Some(dir)).count();
    println!(
        "removed: mode={mode} error={:?} files={} inside={inside}",
        e.error,
        e.files.len()
    );

    // Replaced by a symlink: refused, counted, nothing written or deleted through it.
    // (holmes may recreate the directory between the removal and the symlink: retry.)
    loop {
        removals += u32::from(rm_rf(dir));
        match std::os::unix::fs::symlink(&victim, dir) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("plant the symlink: {e}"),
        }
    }
    let failures = guard.status().dump_failures;
    let refused = wait_until(Duration::from_secs(15), || {
        guard.status().dump_failures > failures
    });
    pile.set(0);
    let s = guard.status();
    let e = last_dump(&guard).expect("event");
    println!("removals={removals}");
    println!(
        "symlinked: refused={refused} failures={} files={} error={:?}",
        s.dump_failures - failures,
        e.files.len(),
        e.error
    );
}

/// `rm -rf dir`, retried while holmes writes into it (a file may appear mid-removal);
/// false when there was nothing to remove.
fn rm_rf(dir: &Path) -> bool {
    for _ in 0..100 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("cannot remove {}", dir.display());
}
