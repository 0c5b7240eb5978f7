//! Issue 6, "safe to leave on in production": holmes under a hostile disk, SIGKILL,
//! planted symlinks, a flapping metric, live reconfiguration and operator overrides.
//! Every scenario runs in a child process (`src/bin/hygiene_*.rs`) and every
//! test asserts that nothing is lost or left half-written and that the child — the host
//! program — exited 0.
//!
//! The file-system tests mount small tmpfs (root is available here and in CI); where
//! `mount` fails they print why and return.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use holmes_runtime::dump::pprof::{Message as _, Profile};
use holmes_runtime::dump::writer::is_dump_file;

/// Runs scenario `bin` with `args` and `env` (no inherited `HOLMES_*`), to completion.
fn run(bin: &str, args: &[&str], env: &[(&str, &Path)], deadline: Duration) -> Output {
    let out = common::run_with_deadline(scenario(bin, args, env), deadline);
    eprintln!(
        "--- {bin} {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scenario(bin: &str, args: &[&str], env: &[(&str, &Path)]) -> Command {
    let mut cmd = Command::new(common::scenario_bin(bin));
    cmd.args(args).env("RUST_LOG", "holmes=info");
    for v in holmes::ENV_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The child exited 0 (the host kept running); returns its stdout and stderr.
fn host_ok(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the host did not survive: {}\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// The stdout line starting with `prefix`.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}` in:\n{stdout}"))
}

/// The number after `key=` in `line`.
fn field(line: &str, key: &str) -> u64 {
    let at = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("no {key}= in {line}"));
    line[at + key.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key}= is not a number in {line}"))
}

/// Names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// holmes's temporary files in `dir`.
fn tmp_files(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".holmes-") && n.ends_with(".tmp"))
        .collect()
}

/// Regular dump files (by name) in `dir`.
fn dump_files(dir: &Path) -> Vec<PathBuf> {
    names(dir)
        .into_iter()
        .filter(|n| is_dump_file(n))
        .map(|n| dir.join(n))
        .filter(|p| p.symlink_metadata().is_ok_and(|m| m.file_type().is_file()))
        .collect()
}

/// Asserts that `file`, under a final name, is whole: a `.pb.gz` gunzips and decodes as
/// a pprof `Profile` with samples, an `.svg` ends with `</svg>`, a `.txt` has the header.
/// Nothing half-written in `dir`: no temporary file, and every file under a final name
/// is a whole dump; nothing else is there.
fn assert_only_whole_dumps(dir: &Path) {
    assert_eq!(tmp_files(dir), Vec::<String>::new());
    for name in names(dir) {
        assert!(is_dump_file(&name), "unexpected {name}");
        assert_complete(&dir.join(name));
    }
}

fn assert_complete(file: &Path) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let name = file.to_string_lossy();
    if name.ends_with(".pb.gz") {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("{name} does not gunzip ({} bytes): {e}", bytes.len()));
        let p = Profile::decode(&raw[..])
            .unwrap_or_else(|e| panic!("{name} is not a pprof Profile: {e}"));
        assert!(!p.sample.is_empty(), "{name}: no samples");
    } else if name.ends_with(".svg") {
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.trim_end().ends_with("</svg>"), "{name} is truncated");
    } else if name.ends_with(".txt") {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.starts_with("holmes ") && text.contains("\nreason: "),
            "{name} is not a whole report"
        );
    } else {
        panic!("unexpected dump file {name}");
    }
}

/// A tmpfs mounted for one test, unmounted (and its mount point removed) on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs with `options` at a fresh directory; `None` (printed) if `mount`
    /// is unavailable or refused. Its root is 0700 (a tmpfs root is 1777 by default,
    /// which holmes refuses as a dump directory).
    fn mount(test: &str, options: &str) -> Option<Tmpfs> {
        let dir = common::fresh_dir(test);
        std::fs::create_dir_all(&dir).expect("mount point");
        let options = format!("{options},mode=0700");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "SKIPPED {test}: mount -t tmpfs failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: cannot run mount: {e}");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

// Guards against: a dump directory that cannot be used aborting the program, or an error
// that lost its cause.
#[test]
fn unwritable_dump_dir_is_a_typed_error_and_the_host_runs_on() {
    let base = common::fresh_dir("hygiene-unwritable");
    std::fs::create_dir_all(&base).unwrap();
    // As root every directory is writable: put the dump directory under a regular file.
    let file = base.join("a-regular-file");
    std::fs::write(&file, b"").unwrap();
    let dir = file.join("dumps");
    let out = run(
        "hygiene_disk",
        &["unwritable"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(30),
    );
    let (stdout, stderr) = host_ok(&out);
    let err = line(&stdout, "start error:");
    assert!(err.contains("CreateDumpDir; source: Some("), "{err}");
    assert!(
        err.contains("a-regular-file"),
        "the error names the directory: {err}"
    );
    assert!(stdout.contains("attribute start: none"), "{stdout}");
    assert!(stdout.contains("host: still running"), "{stdout}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(" ERROR holmes]") && l.contains("a-regular-file")),
        "the failed start is logged at error level, target holmes:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&base);

    // An existing directory holmes cannot write into: a read-only tmpfs.
    let Some(ro) = Tmpfs::mount("hygiene-readonly", "ro,size=1m") else {
        return;
    };
    let out = run(
        "hygiene_disk",
        &["unwritable"],
        &[("HOLMES_TEST_DIR", &ro.0)],
        Duration::from_secs(30),
    );
    let (stdout, _) = host_ok(&out);
    let err = line(&stdout, "start error:");
    assert!(err.contains("DumpDirNotWritable; source: Some("), "{err}");
    assert!(
        err.contains("Read-only file system"),
        "the OS error is kept: {err}"
    );
    assert!(stdout.contains("attribute start: none"), "{stdout}");
    assert!(
        names(&ro.0).is_empty(),
        "nothing left behind: {:?}",
        names(&ro.0)
    );
}

// Guards against: a full disk mid-dump leaving a temporary or truncated file, going
// uncounted, or stopping later dumps once there is room again.
#[test]
fn full_file_system_fails_the_dump_cleanly_and_the_next_one_is_written() {
    let Some(fs) = Tmpfs::mount("hygiene-full", "size=2m") else {
        return;
    };
    let out = run(
        "hygiene_disk",
        &["full"],
        &[("HOLMES_TEST_DIR", &fs.0)],
        Duration::from_secs(40),
    );
    let (stdout, _) = host_ok(&out);
    let full = line(&stdout, "full:");
    assert!(full.contains("No space left on device"), "{full}");
    assert!(field(full, "write_failures") >= 1, "{full}");
    assert!(field(full, "dump_failures") >= 1, "{full}");
    assert!(
        full.ends_with("tmp=[]"),
        "a temporary file survived the failure: {full}"
    );
    let room = line(&stdout, "room:");
    let written: Vec<PathBuf> = room
        .split('"')
        .skip(1)
        .step_by(2)
        .map(PathBuf::from)
        .collect();
    assert_eq!(
        written.len(),
        3,
        "pprof, text and svg once there is room: {room}"
    );
    for f in &written {
        assert!(f.exists(), "{} missing", f.display());
    }
    assert!(stdout.contains("host: still running"), "{stdout}");
    // Including any written before the disk was full.
    assert_only_whole_dumps(&fs.0);
}

// Guards against: a dump directory that turns read-only under a running holmes (a
// remount after disk errors) crashing the host or stopping dumps for good.
#[test]
fn dump_dir_turning_read_only_fails_dumps_cleanly_until_it_is_writable() {
    let Some(fs) = Tmpfs::mount("hygiene-readonly-midrun", "size=8m") else {
        return;
    };
    let out = run(
        "hygiene_disk",
        &["readonly"],
        &[("HOLMES_TEST_DIR", &fs.0)],
        Duration::from_secs(40),
    );
    let (stdout, _) = host_ok(&out);
    let ro = line(&stdout, "readonly:");
    assert!(ro.contains("Read-only file system"), "{ro}");
    assert!(field(ro, "write_failures") >= 1, "{ro}");
    assert_eq!(field(ro, "files"), 0, "{ro}");
    let writable = line(&stdout, "writable:");
    assert_eq!(writable.split('"').count(), 7, "three files: {writable}");
    assert!(stdout.contains("host: still running"), "{stdout}");
    assert_only_whole_dumps(&fs.0);
}

// Guards against: dumps filling the last bytes of a disk below the free-space floor.
#[test]
fn below_the_free_space_floor_dumps_are_skipped_and_counted() {
    let Some(fs) = Tmpfs::mount("hygiene-floor", "size=2m") else {
        return;
    };
    let out = run(
        "hygiene_disk",
        &["floor"],
        &[("HOLMES_TEST_DIR", &fs.0)],
        Duration::from_secs(30),
    );
    let (stdout, stderr) = host_ok(&out);
    let floor = line(&stdout, "floor:");
    assert!(field(floor, "skipped_low_disk") >= 3, "{floor}");
    assert_eq!(field(floor, "dumps"), 0, "{floor}");
    assert_eq!(field(floor, "dump_failures"), 0, "{floor}");
    assert!(
        stderr.contains("below the"),
        "the skip is logged:\n{stderr}"
    );
    assert!(
        names(&fs.0).is_empty(),
        "files below the floor: {:?}",
        names(&fs.0)
    );
}

/// Milliseconds in `lo..hi`, from the clock (no RNG dependency).
fn random_ms(lo: u64, hi: u64, salt: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let x = (nanos ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(6364136223846793005);
    lo + (x >> 33) % (hi - lo)
}

// Guards against: a process killed while writing a dump leaving a partial file under a
// final name, or its temporary files piling up forever.
#[test]
fn sigkill_mid_dump_leaves_only_whole_files_and_stale_tmp_files_are_removed() {
    let dir = common::fresh_dir("hygiene-kill");
    let mut killed_pids = Vec::new();
    for run_no in 0..10u64 {
        let mut cmd = scenario("hygiene_kill", &["dump"], &[("HOLMES_TEST_DIR", &dir)]);
        cmd.env("RUST_LOG", "holmes=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let before = dump_files(&dir).len();
        let mut child = cmd.spawn().expect("spawn");
        // Kill while it dumps: once its first files appear, at a random moment after.
        let t0 = Instant::now();
        while dump_files(&dir).len() == before && t0.elapsed() < Duration::from_secs(15) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the child exited early"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            dump_files(&dir).len() > before,
            "run {run_no}: no dump within 15 s"
        );
        std::thread::sleep(Duration::from_millis(random_ms(0, 250, run_no)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "run {run_no}: {status}"
        );
        killed_pids.push(child.id());
    }
    let files = dump_files(&dir);
    let stale = tmp_files(&dir);
    eprintln!(
        "{} dump files after 10 kills; temporary files of the killed processes: {stale:?}",
        files.len()
    );
    for f in &files {
        assert_complete(f);
    }
    for name in names(&dir) {
        assert!(
            is_dump_file(&name) || stale.contains(&name),
            "unexpected {name} in {}",
            dir.display()
        );
    }
    // A temporary file of a dead process, as a kill mid-write leaves (the kills above
    // may or may not have left some).
    let planted = format!(".holmes-{}-999.tmp", killed_pids[0]);
    std::fs::write(dir.join(&planted), b"partial").unwrap();

    let out = run(
        "hygiene_kill",
        &["start"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(30),
    );
    let (stdout, stderr) = host_ok(&out);
    assert!(stdout.contains("started and stopped"), "{stdout}");
    assert!(
        stderr.contains("temporary files left by a crashed process"),
        "the cleanup is logged:\n{stderr}"
    );
    assert_eq!(
        tmp_files(&dir),
        Vec::<String>::new(),
        "stale temporary files remain"
    );
    assert_eq!(
        dump_files(&dir).len(),
        files.len(),
        "dump files were touched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: following a symlink planted under a dump file's name, writing through
// it or letting retention delete (or count) what it points to.
#[test]
fn planted_symlinks_are_never_written_through_nor_deleted() {
    // On a tmpfs: planting 9000 symlinks on a disk busy with the other tests' fsyncs
    // can take longer than the window they cover.
    let fs = Tmpfs::mount("hygiene-symlink", "size=16m");
    let dir = match &fs {
        Some(fs) => fs.0.clone(),
        None => common::fresh_dir("hygiene-symlink"),
    };
    let outside = common::fresh_dir("hygiene-symlink-victim");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = run(
        "hygiene_disk",
        &["symlink"],
        &[("HOLMES_TEST_DIR", &dir), ("HOLMES_TEST_VICTIM", &victim)],
        Duration::from_secs(30),
    );
    let (stdout, _) = host_ok(&out);
    let planted = field(line(&stdout, "planted="), "planted");
    let s = line(&stdout, "symlink:");
    assert!(field(s, "dumps") >= 2, "{s}");
    assert_eq!(field(s, "failures"), 0, "{s}");
    assert!(field(s, "files_deleted") > 0, "retention ran: {s}");
    // The dump took a planted name's place under another name.
    assert!(s.contains("-1.pb.gz"), "the planted name was not hit: {s}");

    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "written through a symlink"
    );
    assert_eq!(common::mode(&victim), 0o644);
    let links = names(&dir)
        .into_iter()
        .filter(|n| {
            let p = dir.join(n);
            p.symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
                && std::fs::read_link(&p).is_ok_and(|t| t == victim)
        })
        .count() as u64;
    assert_eq!(links, planted, "retention deleted planted symlinks");
    let files = dump_files(&dir);
    assert!(files.len() <= 2, "retention(2, …) ignored: {files:?}");
    for f in &files {
        assert_complete(f);
    }
    if fs.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&outside);
}

// Guards against: a flapping metric producing a dump storm that fills the disk (the Go
// library's users' complaint): dump limits, throttling and retention must bound it.
#[test]
fn a_day_of_flapping_stays_within_the_dump_limits_and_retention() {
    let dir = common::fresh_dir("hygiene-flap");
    let out = run(
        "hygiene_flap",
        &["limits"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(40),
    );
    let (stdout, _) = host_ok(&out);
    let s = line(&stdout, "elapsed_ms=");
    let elapsed = field(s, "elapsed_ms");
    let dumps = field(s, "dumps") + field(s, "dump_failures");
    assert!(
        field(s, "ticks") >= 500,
        "too few ticks to stand for a day: {s}"
    );
    // max_dumps_per_rule(3, 2 s): 3 per window started.
    let windows = elapsed / 2000 + 1;
    assert!(
        dumps <= 3 * windows,
        "{dumps} dumps in {windows} windows: {s}"
    );
    assert!(dumps >= 3, "the flapping metric never fired: {s}");
    assert!(field(s, "throttled") > 0, "{s}");
    assert!(
        s.contains("saw_throttled=true"),
        "RuleState::Throttled never seen: {s}"
    );
    assert!(field(s, "files_deleted") > 0, "{s}");
    let files = dump_files(&dir);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(files.len() <= 12, "retention(12, …): {} files", files.len());
    assert!(bytes <= 2 << 20, "retention(…, 2 MiB): {bytes} bytes");
    assert_eq!(
        names(&dir).len(),
        files.len(),
        "stray files: {:?}",
        names(&dir)
    );
    for f in &files {
        assert_complete(f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: escalation firing again at the same level (a flapping metric must give
// one dump, not one per flap).
#[test]
fn escalation_turns_a_flapping_metric_into_one_dump() {
    let dir = common::fresh_dir("hygiene-escalate");
    let out = run(
        "hygiene_flap",
        &["escalate"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(30),
    );
    let (stdout, _) = host_ok(&out);
    let s = line(&stdout, "elapsed_ms=");
    assert_eq!(field(s, "dumps"), 1, "{s}");
    assert_eq!(field(s, "dump_failures"), 0, "{s}");
    let files = dump_files(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_complete(f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: thresholds, enabled rules or the interval needing a restart to change.
#[test]
fn live_update_changes_rules_thresholds_and_interval_without_restart() {
    let dir = common::fresh_dir("hygiene-update");
    let out = run(
        "hygiene_config",
        &["update"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(40),
    );
    let (stdout, stderr) = host_ok(&out);
    assert!(field(line(&stdout, "enabled:"), "dumps") >= 1, "{stdout}");
    let raised = line(&stdout, "raised:");
    assert!(raised.contains("interval=30ms"), "{raised}");
    assert_eq!(field(raised, "before"), field(raised, "after"), "{raised}");
    let lowered = field(line(&stdout, "lowered:"), "dumps");
    assert!(lowered > field(raised, "after"), "{stdout}");
    assert!(stderr.contains("configuration updated"), "{stderr}");
    assert!(stdout.contains("host: still running"), "{stdout}");
    for f in dump_files(&dir) {
        assert_complete(&f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: triggers queued behind a slow dump being written after
// `Guard::update` raised the rule: the change must apply from the next tick.
#[test]
fn live_update_leaves_no_stale_dumps_queued_behind_a_slow_one() {
    let dir = common::fresh_dir("hygiene-update-stale");
    let out = run(
        "hygiene_config",
        &["update"],
        &[("HOLMES_TEST_DIR", &dir)],
        Duration::from_secs(40),
    );
    let (stdout, _) = host_ok(&out);
    let _ = std::fs::remove_dir_all(&dir);
    // At most the dump in flight when the update came.
    let drained = line(&stdout, "drained:");
    let n: u64 = drained
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{drained}"));
    assert!(
        n <= 1,
        "{n} dumps written after the update raised abs: {drained}"
    );
}

// Guards against: HOLMES_DISABLE being ignored, or being treated as a start failure.
#[test]
fn holmes_disable_runs_the_program_without_holmes() {
    let dir = common::fresh_dir("hygiene-disable");
    let mut cmd = scenario("hygiene_config", &["disable"], &[("HOLMES_TEST_DIR", &dir)]);
    cmd.env("HOLMES_DISABLE", "1");
    let out = common::run_with_deadline(cmd, Duration::from_secs(30));
    let (stdout, stderr) = host_ok(&out);
    assert!(stdout.contains("disable: start() -> Disabled"), "{stdout}");
    assert!(stdout.contains("disable: holmes threads=[]"), "{stdout}");
    assert!(stdout.contains("host: still running"), "{stdout}");
    assert!(
        !stderr.contains(" ERROR "),
        "disabling is not an error:\n{stderr}"
    );
    assert!(
        !dir.exists(),
        "holmes touched its dump directory while disabled"
    );
}

// Guards against: operator overrides not applying over the code's configuration, or a
// malformed one being fatal or silent.
#[test]
fn environment_overrides_apply_and_a_malformed_value_is_logged_and_ignored() {
    let dir = common::fresh_dir("hygiene-env");
    let mut cmd = scenario("hygiene_config", &["env"], &[("HOLMES_TEST_DIR", &dir)]);
    cmd.env("HOLMES_DUMP_DIR", &dir)
        .env("HOLMES_THREADS", "5,25,10")
        .env("HOLMES_INTERVAL", "bogus");
    let out = common::run_with_deadline(cmd, Duration::from_secs(30));
    let (stdout, stderr) = host_ok(&out);
    let cfg = line(&stdout, "env: interval=");
    assert!(
        cfg.contains("interval=20ms"),
        "the bogus interval replaced the code's: {cfg}"
    );
    assert!(
        cfg.contains("rule=(5,25,10)"),
        "HOLMES_THREADS not applied: {cfg}"
    );
    assert!(
        cfg.contains("cooldown=Some(3600s)"),
        "the code's cooldown is kept: {cfg}"
    );
    assert!(cfg.ends_with(&format!("dir={}", dir.display())), "{cfg}");
    let warn = stderr
        .lines()
        .find(|l| l.contains("HOLMES_INTERVAL"))
        .unwrap_or_else(|| panic!("HOLMES_INTERVAL=bogus not logged:\n{stderr}"));
    assert!(
        warn.contains(" WARN  holmes]") && warn.contains("bogus"),
        "{warn}"
    );
    let dump = line(&stdout, "env: dump");
    assert!(dump.contains("error=None"), "{dump}");
    let files = dump_files(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert_complete(f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: extreme settings (Duration::MAX, 1 ns, usize::MAX) accepted by start()
// and then panicking holmes' threads ("overflow when adding duration to instant") or
// start() itself, and a huge HOLMES_COOLDOWN being applied instead of ignored.
#[test]
fn extreme_settings_are_typed_errors_and_a_huge_environment_value_is_ignored() {
    let dir = common::fresh_dir("hygiene-extreme");
    let mut cmd = scenario("hygiene_config", &["extreme"], &[("HOLMES_TEST_DIR", &dir)]);
    cmd.env("HOLMES_COOLDOWN", "500000000000y");
    let out = common::run_with_deadline(cmd, Duration::from_secs(60));
    let (stdout, stderr) = host_ok(&out);
    let results: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("extreme: "))
        .collect();
    assert_eq!(results.len(), 10, "{stdout}");
    for l in &results {
        let (name, result) = l["extreme: ".len()..]
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("{l}"));
        assert!(
            result.starts_with(&format!("invalid holmes setting `{name}`: must be ")),
            "not a typed error naming `{name}`: {l}"
        );
    }
    assert!(
        stdout.contains("`interval`: must be at least 10ms, found 1ns"),
        "{stdout}"
    );
    let env = line(&stdout, "extreme env:");
    assert!(field(env, "dumps") >= 1, "{env}");
    assert!(env.ends_with("ticking=true"), "the sampler stopped: {env}");
    assert!(
        field(env, "cooldown_left_s") <= 60,
        "HOLMES_COOLDOWN applied: {env}"
    );
    let warn = stderr
        .lines()
        .find(|l| l.contains("HOLMES_COOLDOWN"))
        .unwrap_or_else(|| panic!("HOLMES_COOLDOWN not logged:\n{stderr}"));
    assert!(
        warn.contains(" WARN  holmes]") && warn.contains("must be at most 1year"),
        "{warn}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a holmes thread panicked:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// Guards against: a dump directory removed at run time (systemd-tmpfiles on <temp>/holmes)
// failing every later dump for the rest of the process's life, or being recreated
// through a symlink planted in its place.
#[test]
fn a_removed_dump_dir_is_recreated_0700_and_a_symlink_in_its_place_is_refused() {
    let dir = common::fresh_dir("hygiene-removed");
    let victim = common::fresh_dir("hygiene-removed-victim");
    std::fs::create_dir_all(&victim).unwrap();
    let keep = victim.join("threads.20261127-122906.377.1.txt");
    std::fs::write(&keep, b"not holmes'").unwrap();
    let out = run(
        "hygiene_disk",
        &["removed"],
        &[("HOLMES_TEST_DIR", &dir), ("HOLMES_TEST_VICTIM", &victim)],
        Duration::from_secs(60),
    );
    let (stdout, stderr) = host_ok(&out);
    let r = line(&stdout, "removed:");
    assert!(r.contains("mode=700 error=None"), "{r}");
    assert!(field(r, "inside") >= 3, "{r}");
    let recreated: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("was removed") && l.contains("recreated"))
        .collect();
    let removals = field(line(&stdout, "removals="), "removals");
    assert!(
        (1..=removals as usize).contains(&recreated.len()),
        "logged once per recreation ({removals} removals):\n{stderr}"
    );
    assert!(recreated[0].contains(" WARN  holmes]"), "{}", recreated[0]);
    let s = line(&stdout, "symlinked:");
    assert!(s.contains("refused=true"), "{s}");
    assert!(s.contains("files=0"), "{s}");
    assert!(s.contains("untrusted dump directory"), "{s}");
    let mut in_victim = names(&victim);
    in_victim.sort();
    assert_eq!(
        in_victim,
        vec!["threads.20261127-122906.377.1.txt".to_owned()],
        "written or deleted through the symlink"
    );
    let _ = std::fs::remove_file(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&victim);
}
