//! `/proc/self` through kept-open file descriptors.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use super::Reading;

pub(super) struct ProcReader {
    stat: File,
    statm: File,
    page_size: u64,
}

impl ProcReader {
    pub(super) fn open() -> io::Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Ok(ProcReader {
            stat: File::open("/proc/self/stat")?,
            statm: File::open("/proc/self/statm")?,
            page_size: if page > 0 { page as u64 } else { 4096 },
        })
    }

    pub(super) fn read(&mut self) -> io::Result<Reading> {
        let mut buf = [0u8; 1024];
        let n = self.stat.read_at(&mut buf, 0)?;
        let threads = parse_stat_threads(&buf[..n]).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/stat")
        })?;
        let n = self.statm.read_at(&mut buf, 0)?;
        let pages = parse_statm_resident(&buf[..n]).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/statm")
        })?;
        Ok(Reading {
            cpu_time: process_cpu_time()?,
            rss_bytes: pages * self.page_size,
            threads,
        })
    }
}

/// CPU time of the whole process (all threads), nanosecond resolution.
fn process_cpu_time() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `num_threads` (field 20) of `/proc/<pid>/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub(crate) fn parse_stat_threads(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // After ")": state is field 3, so num_threads (20) is the 18th token.
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// Resident pages (field 2) of `/proc/<pid>/statm`.
pub(crate) fn parse_statm_resident(statm: &[u8]) -> Option<u64> {
    std::str::from_utf8(statm)
        .ok()?
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_tricky_comm() {
        let line = b"1234 (my (weird) prog) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 37 0 12345 100000000 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat_threads(line), Some(37));
        assert_eq!(parse_stat_threads(b"garbage"), None);
        assert_eq!(parse_stat_threads(b"1 (x) S 1"), None);
    }

    #[test]
    fn parses_statm() {
        assert_eq!(
            parse_statm_resident(b"10000 2500 300 10 0 900 0\n"),
            Some(2500)
        );
        assert_eq!(parse_statm_resident(b"10000"), None);
    }
}
