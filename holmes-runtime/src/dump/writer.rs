//! Writing dump files safely.
//!
//! - The dump directory is created with mode 0700 (an existing one is left as it is).
//! - Each file is written under a temporary name in that directory, opened with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600, flushed to disk, then published
//!   under its final name with `link(2)`, which never replaces an existing path and never
//!   follows a symlink planted there; the temporary name is then removed. A crash leaves
//!   at worst a `.tmp` file, never a partial file under a final name.
//! - Any failure (full disk, unwritable directory) removes the temporary file and is
//!   returned to the caller, which logs and counts it; nothing here panics.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::error::Error;

/// Writes files into one dump directory.
#[derive(Clone, Debug)]
pub struct DumpWriter {
    dir: PathBuf,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl DumpWriter {
    /// Creates the directory (mode 0700) when missing and checks that a file can be
    /// written into it.
    pub fn prepare(dir: &Path) -> Result<DumpWriter, Error> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| Error::CreateDumpDir {
            path: dir.to_path_buf(),
            source,
        })?;
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

/// Splits `cpu.X.123.pb.gz` into (`cpu.X.123`, `.pb.gz`) at the known extensions.
fn split_ext(name: &str) -> (&str, &str) {
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
}
