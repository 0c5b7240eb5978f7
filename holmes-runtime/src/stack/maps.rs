//! Allocation-free reading of `/proc/self/maps`.
//!
//! Used from inside the allocator's sampling path (to learn a thread's stack bounds once)
//! and before a thread dump (to learn every stack's bounds), so it must not allocate: it
//! reads through a raw file descriptor into a buffer on the stack and parses in place.

/// One line of the memory map: `[start, end)` and the `rwxp` permission bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: usize,
    /// One past the last address.
    pub end: usize,
    /// `r`, `w`, `x`, `p`/`s` or `-`.
    pub perms: [u8; 4],
}

impl Mapping {
    /// True when the mapping can be read.
    pub fn readable(&self) -> bool {
        self.perms[0] == b'r'
    }
}

/// Parses the leading `start-end perms` of a maps line.
pub fn parse_line(line: &[u8]) -> Option<Mapping> {
    let dash = line.iter().position(|&b| b == b'-')?;
    let start = parse_hex(&line[..dash])?;
    let rest = &line[dash + 1..];
    let sp = rest.iter().position(|&b| b == b' ')?;
    let end = parse_hex(&rest[..sp])?;
    let p = rest.get(sp + 1..sp + 5)?;
    Some(Mapping {
        start,
        end,
        perms: [p[0], p[1], p[2], p[3]],
    })
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0usize;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | d as usize;
    }
    Some(v)
}

/// Calls `f` for every mapping of this process, in address order, until it returns
/// false. Allocation-free and lock-free (raw `open`/`read`/`close`), so callable from
/// inside the allocator; returns false when the map could not be read.
#[cfg(target_os = "linux")]
pub fn for_each_mapping(mut f: impl FnMut(Mapping) -> bool) -> bool {
    const PATH: &[u8] = b"/proc/self/maps\0";
    // SAFETY: PATH is NUL-terminated; the fd is closed on every path below.
    let fd = unsafe { libc::open(PATH.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    let mut buf = [0u8; 4096];
    let mut filled = 0usize;
    let mut ok = true;
    'outer: loop {
        // SAFETY: writes at most buf.len() - filled bytes into buf[filled..].
        let n = unsafe { libc::read(fd, buf[filled..].as_mut_ptr().cast(), buf.len() - filled) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            ok = false;
            break;
        }
        let n = n as usize;
        let eof = n == 0;
        filled += n;
        let mut consumed = 0;
        while let Some(nl) = buf[consumed..filled].iter().position(|&b| b == b'\n') {
            if let Some(m) = parse_line(&buf[consumed..consumed + nl]) {
                if !f(m) {
                    break 'outer;
                }
            }
            consumed += nl + 1;
        }
        if eof {
            if consumed < filled {
                if let Some(m) = parse_line(&buf[consumed..filled]) {
                    f(m);
                }
            }
            break;
        }
        if consumed == 0 && filled == buf.len() {
            // A line longer than the buffer (a very long path): skip to its end.
            let mut skip = [0u8; 1];
            loop {
                // SAFETY: reads one byte into `skip`.
                let r = unsafe { libc::read(fd, skip.as_mut_ptr().cast(), 1) };
                if r <= 0 || skip[0] == b'\n' {
                    break;
                }
            }
            filled = 0;
            continue;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
    // SAFETY: fd was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    ok
}

/// Not available outside Linux: reports that the map could not be read.
#[cfg(not(target_os = "linux"))]
pub fn for_each_mapping(_f: impl FnMut(Mapping) -> bool) -> bool {
    false
}

/// The readable mapping containing `addr`, as `[start, end)`. Allocation-free.
pub fn find_mapping(addr: usize) -> Option<(usize, usize)> {
    let mut found = None;
    for_each_mapping(|m| {
        if m.start <= addr && addr < m.end {
            if m.readable() {
                found = Some((m.start, m.end));
            }
            return false;
        }
        m.start <= addr
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let m = parse_line(b"7ffd5c1e1000-7ffd5c202000 rw-p 00000000 00:00 0   [stack]").unwrap();
        assert_eq!(m.start, 0x7ffd5c1e1000);
        assert_eq!(m.end, 0x7ffd5c202000);
        assert!(m.readable());
        let m = parse_line(b"55d0c0a00000-55d0c0a01000 ---p 00000000 00:00 0").unwrap();
        assert!(!m.readable());
        assert!(parse_line(b"garbage").is_none());
        assert!(parse_line(b"12-zz rw-p").is_none());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn finds_own_stack() {
        let x = 5u64;
        let addr = std::hint::black_box(&x) as *const u64 as usize;
        let (lo, hi) = find_mapping(addr).expect("stack mapping");
        assert!(lo <= addr && addr < hi);
        let mut count = 0;
        assert!(for_each_mapping(|_| {
            count += 1;
            true
        }));
        assert!(count > 5);
    }
}
