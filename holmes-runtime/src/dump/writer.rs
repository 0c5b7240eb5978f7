//! Writing dump files safely.
//!
//! - The dump directory is created with mode 0700 (missing parents too), and must be
//!   trusted, as ssh's `StrictModes` requires of `~/.ssh`: a real directory (not a
//!   symlink: it is never followed), owned by the process's effective uid and not
//!   writable by group or others. Otherwise [`DumpWriter::prepare`] fails with
//!   [`Error::UntrustedDumpDir`] and holmes changes nothing there. An existing trusted
//!   directory is left as it is.
//! - Before each dump, [`DumpWriter::ensure_dir`] checks the directory again: removed
//!   at run time (a tmp cleaner), it is recreated the same way; replaced by something
//!   untrusted (a symlink), the dump is refused. Retention lists the directory only
//!   while it is trusted.
//! - Each file is written under a temporary name in that directory, opened with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600, flushed to disk, then published
//!   under its final name with `link(2)`, which never replaces an existing path and never
//!   follows a symlink planted there; the temporary name is then removed. A crash leaves
//!   at worst a `.tmp` file, never a partial file under a final name.
//! - Any failure (full disk, unwritable directory) removes the temporary file and is
//!   returned to the caller, which logs and counts it; nothing here panics.
//! - Disk stays bounded: [`DumpWriter::enforce_retention`] deletes the oldest dump files
//!   beyond a count and a total size, touching only regular files whose names holmes
//!   writes ([`is_dump_file`]); [`DumpWriter::free_space`] lets the dumper skip dumps
//!   below a free-space floor; temporary files left by a process that died mid-write
//!   are removed at start ([`DumpWriter::remove_stale_tmp`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::config::Retention;
use crate::error::Error;
use crate::escape::EscapedPath;

/// Writes files into one dump directory.
#[derive(Clone, Debug)]
pub struct DumpWriter {
    dir: PathBuf,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl DumpWriter {
    /// Creates the directory (mode 0700) when missing, checks that it is trusted (see
    /// the module docs) and that a file can be written into it.
    pub fn prepare(dir: &Path) -> Result<DumpWriter, Error> {
        create_trusted(dir)?;
        let w = DumpWriter {
            dir: dir.to_path_buf(),
        };
        let (probe, file) = w.create_tmp().map_err(|source| Error::DumpDirNotWritable {
            path: dir.to_path_buf(),
            source,
        })?;
        drop(file);
        let _ = std::fs::remove_file(probe);
        Ok(w)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Before writing a dump: recreates the directory (mode 0700, with the checks of
    /// [`prepare`](Self::prepare)) when it was removed, and returns `Ok(true)` then;
    /// `Ok(false)` when it is there and trusted; `Err` when it cannot be recreated or is
    /// no longer trusted (e.g. replaced by a symlink): nothing may be written.
    pub fn ensure_dir(&self) -> Result<bool, Error> {
        match self.dir.symlink_metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_trusted(&self.dir)?;
                Ok(true)
            }
            _ => {
                check_trusted(&self.dir)
                    .map(|()| false)
                    .map_err(|reason| Error::UntrustedDumpDir {
                        path: self.dir.clone(),
                        reason,
                    })
            }
        }
    }

    fn create_tmp(&self) -> io::Result<(PathBuf, File)> {
        let name = format!(
            ".holmes-{}-{}.tmp",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(name);
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        let f = opts.open(&path)?;
        Ok((path, f))
    }

    /// Writes `bytes` as `name` in the directory, atomically (see the module docs).
    /// When `name` exists, `-1`, `-2`, … is inserted before the extension.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let (tmp, mut file) = self.create_tmp()?;
        let result = (|| {
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            self.publish(&tmp, name)
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    fn publish(&self, tmp: &Path, name: &str) -> io::Result<PathBuf> {
        let (stem, ext) = split_ext(name);
        for attempt in 0..100 {
            let candidate = if attempt == 0 {
                name.to_owned()
            } else {
                format!("{stem}-{attempt}{ext}")
            };
            let dest = self.dir.join(&candidate);
            match std::fs::hard_link(tmp, &dest) {
                Ok(()) => return Ok(dest),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free file name for {name}"),
        ))
    }
}

impl DumpWriter {
    /// Bytes available to this user in the directory's file system.
    pub fn free_space(&self) -> io::Result<u64> {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let c = std::ffi::CString::new(self.dir.as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            // SAFETY: c is NUL-terminated; st is a valid out-pointer.
            unsafe {
                let mut st: libc::statvfs = std::mem::zeroed();
                if libc::statvfs(c.as_ptr(), &mut st) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(st.f_bavail as u64 * st.f_frsize as u64)
            }
        }
        #[cfg(not(unix))]
        {
            Ok(u64::MAX)
        }
    }

    /// Deletes the oldest dump files until at most `r.max_files` files and
    /// `r.max_bytes` bytes remain. Returns how many files were deleted.
    /// Does nothing (`Err`) when the directory is not trusted any more.
    pub fn enforce_retention(&self, r: Retention) -> io::Result<usize> {
        check_trusted(&self.dir).map_err(io::Error::other)?;
        let mut files: Vec<(SystemTime, String, u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_dump_file(name) {
                continue;
            }
            // Never follow or delete anything but our regular files.
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if !meta.file_type().is_file() || !owned_by_us(&meta) {
                continue;
            }
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((mtime, name.to_owned(), meta.len(), entry.path()));
        }
        // Oldest first; the timestamp in the name breaks mtime ties.
        files.sort();
        let mut count = files.len();
        let mut bytes: u64 = files.iter().map(|f| f.2).sum();
        let mut deleted = 0;
        for (_, _, len, path) in files {
            if count <= r.max_files && bytes <= r.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                deleted += 1;
            }
            count -= 1;
            bytes = bytes.saturating_sub(len);
        }
        Ok(deleted)
    }

    /// Removes `.holmes-<pid>-<n>.tmp` files of processes that no longer run (a crash
    /// or SIGKILL in the middle of a write). Returns how many were removed.
    pub fn remove_stale_tmp(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(".holmes-"))
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
            let is_file = entry
                .path()
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_file());
            if !alive && is_file && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// Creates `dir` (mode 0700, parents too) unless it exists, then checks it with
/// [`check_trusted`]. A symlink is refused before anything is created through it.
fn create_trusted(dir: &Path) -> Result<(), Error> {
    let untrusted = |reason| Error::UntrustedDumpDir {
        path: dir.to_path_buf(),
        reason,
    };
    if let Ok(meta) = dir.symlink_metadata() {
        if meta.file_type().is_symlink() {
            return Err(untrusted(symlink_reason(dir)));
        }
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| Error::CreateDumpDir {
        path: dir.to_path_buf(),
        source,
    })?;
    check_trusted(dir).map_err(untrusted)
}

/// `Err(reason)` unless `dir` is a real directory (not followed if a symlink), owned by
/// the effective uid and not writable by group or others.
pub(crate) fn check_trusted(dir: &Path) -> Result<(), String> {
    let meta = dir
        .symlink_metadata()
        .map_err(|e| format!("cannot stat it: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(symlink_reason(dir));
    }
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if meta.uid() != euid {
            return Err(format!(
                "it is owned by uid {}, not by this process's effective uid {euid}; \
                 use a directory of this user",
                meta.uid()
            ));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "it is writable by group or others (mode {mode:04o}); \
                 `chmod go-w` it (holmes creates its directories 0700)"
            ));
        }
    }
    Ok(())
}

/// Why a symlinked dump directory is refused, with where it resolves to (resolved once,
/// for the message; holmes never uses the resolved path by itself).
fn symlink_reason(dir: &Path) -> String {
    let target = std::fs::canonicalize(dir).or_else(|_| std::fs::read_link(dir));
    match target {
        Ok(t) => format!(
            "it is a symlink to {0}; holmes does not follow a symlinked dump directory: \
             set dump_dir to {0} instead",
            EscapedPath(&t)
        ),
        Err(_) => "it is a dangling symlink; holmes does not follow a symlinked dump \
                   directory: set dump_dir to a real directory instead"
            .into(),
    }
}

#[cfg(unix)]
pub(crate) fn owned_by_us(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    meta.uid() == unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
pub(crate) fn owned_by_us(_meta: &std::fs::Metadata) -> bool {
    true
}

/// True for the names holmes gives dump files:
/// `<kind>.<yyyymmdd-HHMMSS.mmm>.<pid>[-n][.base].(pb.gz|txt|svg)`.
pub fn is_dump_file(name: &str) -> bool {
    let (stem, _) = split_ext(name);
    if stem.len() == name.len() {
        return false;
    }
    let stem = stem.strip_suffix(".base").unwrap_or(stem);
    let mut parts = stem.splitn(2, '.');
    let (Some(kind), Some(rest)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !["cpu", "heap", "threads", "tasks"].contains(&kind) {
        return false;
    }
    // rest = yyyymmdd-HHMMSS.mmm.<pid>[-n]
    let b = rest.as_bytes();
    if b.len() < 21 || b[8] != b'-' || b[15] != b'.' || b[19] != b'.' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let tail = &rest[20..];
    let (pid, n) = tail.split_once('-').unwrap_or((tail, "0"));
    digits(0..8)
        && digits(9..15)
        && digits(16..19)
        && !pid.is_empty()
        && pid.bytes().all(|c| c.is_ascii_digit())
        && !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_digit())
}

/// Splits `cpu.X.123.pb.gz` into (`cpu.X.123`, `.pb.gz`) at the known extensions.
pub(crate) fn split_ext(name: &str) -> (&str, &str) {
    for ext in [".pb.gz", ".txt", ".svg"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return (stem, &name[stem.len()..]);
        }
    }
    (name, "")
}

/// `<kind>.<yyyymmdd-HHMMSS.mmm>.<pid>`, the stem of every file of one dump (UTC).
pub fn file_stem(kind: &str, time: SystemTime) -> String {
    format!("{kind}.{}.{}", timestamp(time), std::process::id())
}

/// `yyyymmdd-HHMMSS.mmm` in UTC.
pub fn timestamp(time: SystemTime) -> String {
    // "2026-11-27T12:18:44.123Z"
    let s = humantime::format_rfc3339_millis(time).to_string();
    let b = s.as_bytes();
    if b.len() < 23 {
        return s;
    }
    format!(
        "{}{}{}-{}{}{}.{}",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19],
        &s[20..23]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(timestamp(t), "20261118-110640.123");
        assert!(file_stem("cpu", t).starts_with("cpu.20261118-110640.123."));
        assert_eq!(split_ext("a.b.pb.gz"), ("a.b", ".pb.gz"));
        assert_eq!(split_ext("a.txt"), ("a", ".txt"));
    }

    #[test]
    #[cfg(unix)]
    fn writes_atomically_with_private_modes() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("dumps/nested");
        let w = DumpWriter::prepare(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let p = w.write("cpu.x.pb.gz", b"hello").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Same name again: a suffix, never an overwrite.
        let p2 = w.write("cpu.x.pb.gz", b"again").unwrap();
        assert!(p2.ends_with("cpu.x-1.pb.gz"), "{p2:?}");
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        // No temporary files left behind.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty());
    }

    #[test]
    fn recognises_only_dump_file_names() {
        assert!(is_dump_file("cpu.20261127-122906.377.16663.pb.gz"));
        assert!(is_dump_file("heap.20261127-122906.377.16663.base.pb.gz"));
        assert!(is_dump_file("threads.20261127-122906.377.16663-2.txt"));
        assert!(is_dump_file("tasks.20261127-122906.377.1.svg"));
        assert!(!is_dump_file("cpu.20261127-122906.377.16663.log"));
        assert!(!is_dump_file("mine.20261127-122906.377.16663.txt"));
        assert!(!is_dump_file("cpu.2026112-122906.377.16663.txt"));
        assert!(!is_dump_file("cpu.20261127-122906.377..txt"));
        assert!(!is_dump_file("notes.txt"));
        assert!(!is_dump_file(".holmes-1-2.tmp"));
    }

    #[test]
    #[cfg(unix)]
    fn retention_deletes_oldest_dump_files_only() {
        let t = tempfile::tempdir().unwrap();
        let w = DumpWriter::prepare(t.path()).unwrap();
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut names = Vec::new();
        for i in 0..10u64 {
            let name = format!("{}.pb.gz", file_stem("cpu", base + Duration::from_secs(i)));
            let p = w.write(&name, &[0u8; 100]).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(base + Duration::from_secs(i)).unwrap();
            names.push(p);
        }
        std::fs::write(t.path().join("keep-me.txt"), [0u8; 5000]).unwrap();
        std::os::unix::fs::symlink(
            "/etc/hostname",
            t.path().join("cpu.20261127-122906.377.1.txt"),
        )
        .unwrap();
        assert_eq!(
            w.enforce_retention(Retention {
                max_files: 6,
                max_bytes: u64::MAX
            })
            .unwrap(),
            4
        );
        assert!(names[..4].iter().all(|p| !p.exists()));
        assert!(names[4..].iter().all(|p| p.exists()));
        assert_eq!(
            w.enforce_retention(Retention {
                max_files: 100,
                max_bytes: 250
            })
            .unwrap(),
            4
        );
        assert!(names[8..].iter().all(|p| p.exists()));
        assert!(t.path().join("keep-me.txt").exists());
        assert!(t
            .path()
            .join("cpu.20261127-122906.377.1.txt")
            .symlink_metadata()
            .is_ok());
        assert!(w.free_space().unwrap() > 0);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn stale_tmp_files_of_dead_processes_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let w = DumpWriter::prepare(t.path()).unwrap();
        // pid_max is at most 4194304: this pid cannot exist.
        std::fs::write(t.path().join(".holmes-4194399-0.tmp"), b"partial").unwrap();
        let mine = t
            .path()
            .join(format!(".holmes-{}-999.tmp", std::process::id()));
        std::fs::write(&mine, b"in flight").unwrap();
        assert_eq!(w.remove_stale_tmp(), 1);
        assert!(mine.exists());
    }

    #[test]
    #[cfg(unix)]
    fn planted_symlink_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let w = DumpWriter::prepare(t.path()).unwrap();
        std::os::unix::fs::symlink(&target, t.path().join("cpu.y.txt")).unwrap();
        let p = w.write("cpu.y.txt", b"dump").unwrap();
        assert!(p.ends_with("cpu.y-1.txt"));
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    #[cfg(unix)]
    fn unwritable_directory_is_a_typed_error() {
        if unsafe { libc::geteuid() } == 0 {
            // root writes anywhere; use a path below a regular file instead.
            let t = tempfile::tempdir().unwrap();
            let f = t.path().join("file");
            std::fs::write(&f, b"").unwrap();
            let err = DumpWriter::prepare(&f.join("sub")).unwrap_err();
            assert!(matches!(err, Error::CreateDumpDir { .. }), "{err}");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("ro");
        std::fs::create_dir(&d).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o500)).unwrap();
        let err = DumpWriter::prepare(&d).unwrap_err();
        assert!(matches!(err, Error::DumpDirNotWritable { .. }), "{err}");
    }

    fn untrusted(dir: &Path) -> String {
        match DumpWriter::prepare(dir) {
            Err(e @ Error::UntrustedDumpDir { .. }) => e.to_string(),
            Err(e) => panic!("expected UntrustedDumpDir, got {e:?}"),
            Ok(_) => panic!("{} accepted as a dump directory", dir.display()),
        }
    }

    // Guards against: holmes following a symlinked dump directory into wherever it
    // points (and retention deleting dump-named files there).
    #[test]
    #[cfg(unix)]
    fn a_symlinked_dump_dir_is_refused_naming_its_target() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = untrusted(&link);
        assert!(
            e.contains(&link.display().to_string()),
            "names the path: {e}"
        );
        assert!(
            e.contains("is a symlink to") && e.contains(&real.display().to_string()),
            "{e}"
        );
        assert_eq!(
            std::fs::read_dir(&real).unwrap().count(),
            0,
            "wrote through it"
        );
        // A dangling symlink: refused, and nothing is created where it points.
        let dangling = t.path().join("dangling");
        std::os::unix::fs::symlink(t.path().join("nowhere"), &dangling).unwrap();
        assert!(untrusted(&dangling).contains("symlink"));
        assert!(!t.path().join("nowhere").exists());
    }

    // Guards against: a world-writable dump directory accepted (anyone could plant or
    // swap files among the dumps).
    #[test]
    #[cfg(unix)]
    fn a_group_or_world_writable_dump_dir_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o1777, 0o770, 0o702] {
            let d = t.path().join(format!("d{mode:o}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = untrusted(&d);
            assert!(e.contains(&d.display().to_string()), "{e}");
            assert!(
                e.contains(&format!("writable by group or others (mode {mode:04o})")),
                "{e}"
            );
        }
        // Read/execute for others is fine; holmes' own files are 0600.
        let d = t.path().join("d755");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(DumpWriter::prepare(&d).is_ok());
    }

    // Guards against: a directory owned by another user accepted as the dump directory.
    // Needs root (chown to another uid): skipped with a note otherwise; CI runs as root.
    #[test]
    #[cfg(unix)]
    fn a_dump_dir_owned_by_another_user_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED a_dump_dir_owned_by_another_user_is_refused: needs root (chown)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("theirs");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
        let e = untrusted(&d);
        assert!(e.contains(&d.display().to_string()), "{e}");
        assert!(
            e.contains("owned by uid 65534, not by this process's effective uid 0"),
            "{e}"
        );
    }

    #[test]
    #[cfg(unix)]
    fn a_created_dump_dir_is_0700_and_a_newline_in_its_path_is_escaped_in_errors() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("new\nWARN forged");
        DumpWriter::prepare(&d).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(&d).unwrap()) & 0o777,
            0o700
        );
        let file = t.path().join("file\nline");
        std::fs::write(&file, b"").unwrap();
        let e = DumpWriter::prepare(&file).unwrap_err().to_string();
        assert!(!e.contains('\n') && e.contains("file\\nline"), "{e}");
    }

    // Guards against: a dump directory removed at run time never being recreated, or
    // being recreated through a symlink planted in its place.
    #[test]
    #[cfg(unix)]
    fn ensure_dir_recreates_a_removed_directory_and_refuses_a_symlink() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("dumps");
        let w = DumpWriter::prepare(&d).unwrap();
        assert!(!w.ensure_dir().unwrap(), "present: nothing to do");
        std::fs::remove_dir_all(&d).unwrap();
        assert!(w.ensure_dir().unwrap(), "recreated");
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        assert!(w.write("cpu.x.txt", b"dump").is_ok());
        std::fs::remove_dir_all(&d).unwrap();
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &d).unwrap();
        assert!(matches!(
            w.ensure_dir(),
            Err(Error::UntrustedDumpDir { .. })
        ));
        assert!(w.enforce_retention(Retention::default()).is_err());
    }
}
