//! Starting, refusing a second start, stopping promptly, typed configuration errors.
//! One test function: holmes is process-global, so these steps must not interleave.

use std::time::{Duration, Instant};

#[test]
fn lifecycle() {
    let dir = std::env::temp_dir().join(format!("holmes-lifecycle-{}", std::process::id()));

    // Bad configuration: a typed error, nothing started.
    let err = holmes::Holmes::builder()
        .dump_dir(&dir)
        .cpu(holmes::Rule::new(90, 25, 80))
        .start()
        .unwrap_err();
    assert!(matches!(err, holmes::Error::Config(_)), "{err}");
    assert!(
        err.to_string()
            .contains("`min` (90) must not be greater than `abs` (80)"),
        "{err}"
    );

    // A dump directory that cannot be created.
    let file = dir.with_extension("file");
    std::fs::write(&file, b"").unwrap();
    let err = holmes::Holmes::builder()
        .dump_dir(file.join("sub"))
        .start()
        .unwrap_err();
    assert!(matches!(err, holmes::Error::CreateDumpDir { .. }), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "cause kept");
    let _ = std::fs::remove_file(&file);

    // Guards against: a symlinked, world-writable or foreign-owned dump directory being
    // used (followed, or shared with other users): start() refuses it, naming the path
    // and the reason. The foreign-owned case needs root (chown); CI runs as root.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let base = dir.with_extension("untrusted");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let real = base.join("real");
        std::fs::create_dir(&real).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let theirs = base.join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let mut cases = vec![
            (link, "is a symlink to".to_owned()),
            (open, "writable by group or others (mode 0777)".to_owned()),
        ];
        if root {
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            cases.push((theirs, "owned by uid 65534".to_owned()));
        } else {
            eprintln!("SKIPPED the foreign-owned dump directory: needs root (chown)");
        }
        for (d, reason) in cases {
            let err = holmes::Holmes::builder()
                .dump_dir(&d)
                .cpu(holmes::Rule::new(10, 25, 80))
                .start()
                .unwrap_err();
            assert!(
                matches!(&err, holmes::Error::UntrustedDumpDir { path, .. } if *path == d),
                "{err}"
            );
            let msg = err.to_string();
            assert!(msg.contains(&d.display().to_string()), "{msg}");
            assert!(msg.contains(&reason), "{msg}");
        }
        assert_eq!(
            std::fs::read_dir(&real).unwrap().count(),
            0,
            "wrote through"
        );
        let _ = std::fs::remove_dir_all(&base);
    }

    // Start; a second start is refused while the first runs.
    let guard = holmes::Holmes::builder()
        .interval(Duration::from_millis(20))
        .dump_dir(&dir)
        .cpu(holmes::Rule::new(10, 25, 80))
        .start()
        .expect("first start");
    let err = holmes::Holmes::builder()
        .dump_dir(&dir)
        .start()
        .unwrap_err();
    assert!(matches!(err, holmes::Error::AlreadyRunning), "{err}");

    // The sampler ticks and the rule warms up, visible without locks from here.
    std::thread::sleep(Duration::from_millis(400));
    let s = guard.status();
    assert!(s.ticks >= 5, "ticks {}", s.ticks);
    let cpu = s.metric(holmes::Metric::Cpu);
    assert!(!cpu.ring.is_empty() && cpu.ring.len() <= 10);
    assert_ne!(cpu.state, holmes::RuleState::Disabled);
    assert_eq!(
        s.metric(holmes::Metric::Mem).state,
        holmes::RuleState::Disabled
    );
    let threads = s.metric(holmes::Metric::Threads).current.unwrap();
    assert!(threads >= 3.0, "threads {threads}"); // test thread + sampler + dumper
    assert!(s.cores > 0.0 && s.memory_limit > 0);

    // Dropping returns promptly and frees the slot.
    let t0 = Instant::now();
    drop(guard);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        t0.elapsed()
    );
    let again = holmes::Holmes::builder()
        .dump_dir(&dir)
        .start()
        .expect("restart after drop");
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}
