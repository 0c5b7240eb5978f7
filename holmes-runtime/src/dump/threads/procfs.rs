//! What `/proc/self/task` says about each thread: its id, name, scheduler state and
//! signal masks. Read on the capturing thread only (allocates freely).

use std::io;

use super::ThreadState;

/// Ids of every thread of this process, in the order the kernel lists them.
pub(super) fn list_tasks() -> io::Result<Vec<u32>> {
    let mut tids = Vec::with_capacity(64);
    for entry in std::fs::read_dir("/proc/self/task")? {
        let entry = entry?;
        if let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            tids.push(tid);
        }
    }
    Ok(tids)
}

/// Name and state of thread `tid`, from `/proc/self/task/<tid>/stat`; `None` when the
/// thread is gone.
#[cfg(test)]
pub(super) fn read_stat(tid: u32) -> Option<(String, ThreadState)> {
    TaskDir::open().ok()?.stat(tid)
}

/// An open `/proc/self/task` directory: per-thread files are opened relative to it
/// (`openat`), which skips resolving `/proc/self/task` again for each of a thousand
/// threads, and read into a stack buffer.
pub(super) struct TaskDir {
    fd: std::os::fd::OwnedFd,
}

impl TaskDir {
    /// Opens `/proc/self/task`.
    pub fn open() -> io::Result<Self> {
        let dir = std::fs::File::open("/proc/self/task")?;
        Ok(TaskDir { fd: dir.into() })
    }

    /// Reads `<tid>/<file>` into `buf`; the bytes read, or `None` when the thread is
    /// gone (or the read failed).
    fn read<'b>(&self, tid: u32, file: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        use std::io::Write as _;
        use std::os::fd::AsRawFd as _;
        let mut path = [0u8; 48];
        let mut w = &mut path[..];
        write!(w, "{tid}/{file}\0").ok()?;
        // SAFETY: `path` is NUL-terminated (written above, buffer zeroed); the
        // directory fd is open for the life of `self`.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                path.as_ptr().cast(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let mut filled = 0;
        while filled < buf.len() {
            // SAFETY: reads into the unfilled tail of `buf`.
            let n =
                unsafe { libc::read(fd, buf[filled..].as_mut_ptr().cast(), buf.len() - filled) };
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n <= 0 {
                break;
            }
            filled += n as usize;
        }
        // SAFETY: fd was opened above and is closed exactly once.
        unsafe { libc::close(fd) };
        (filled > 0).then(|| &buf[..filled])
    }

    /// Name and state of thread `tid` (`<tid>/stat`); `None` when it is gone.
    pub fn stat(&self, tid: u32) -> Option<(String, ThreadState)> {
        // The name and state come first; the rest of the line is not needed.
        let mut buf = [0u8; 128];
        parse_stat(self.read(tid, "stat", &mut buf)?)
    }

    /// Signal masks of thread `tid` (`<tid>/status`); `None` when it is gone.
    pub fn sigmasks(&self, tid: u32) -> Option<SigMasks> {
        self.status(tid).map(|s| s.masks)
    }

    /// Name, state and signal masks of thread `tid` (`<tid>/status`, one read); `None`
    /// when it is gone.
    pub fn status(&self, tid: u32) -> Option<TaskStatus> {
        let mut buf = [0u8; 4096];
        parse_status(&String::from_utf8_lossy(
            self.read(tid, "status", &mut buf)?,
        ))
    }
}

/// What `/proc/self/task/<tid>/status` says of a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TaskStatus {
    /// `Name:` (the kernel escapes newlines and backslashes in it).
    pub name: String,
    /// `State:`.
    pub state: ThreadState,
    /// `SigPnd:` and `SigBlk:`.
    pub masks: SigMasks,
}

/// Parses `tid (comm) S …`. The name may contain spaces and parentheses, so it ends at
/// the *last* `)`.
pub(super) fn parse_stat(raw: &[u8]) -> Option<(String, ThreadState)> {
    let open = raw.iter().position(|&b| b == b'(')?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let name = String::from_utf8_lossy(&raw[open + 1..close]).into_owned();
    let state = raw
        .get(close + 2)
        .map(|&c| ThreadState::from_code(c as char))
        .unwrap_or(ThreadState::Other('?'));
    Some((name, state))
}

/// The `SigPnd` (pending for this thread) and `SigBlk` (blocked) masks of thread `tid`,
/// from `/proc/self/task/<tid>/status`; `None` when the thread is gone.
#[cfg(test)]
pub(super) fn read_sigmasks(tid: u32) -> Option<SigMasks> {
    TaskDir::open().ok()?.sigmasks(tid)
}

/// Signal masks of one thread (bit `n - 1` stands for signal `n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SigMasks {
    /// Signals pending for this thread only (`SigPnd`).
    pub pending: u64,
    /// Signals the thread blocks (`SigBlk`).
    pub blocked: u64,
}

impl SigMasks {
    /// True when `sig` is pending for the thread.
    pub fn is_pending(&self, sig: i32) -> bool {
        bit(self.pending, sig)
    }
    /// True when the thread blocks `sig`.
    pub fn is_blocked(&self, sig: i32) -> bool {
        bit(self.blocked, sig)
    }

    /// True when `sig` waits in the thread's queue because the thread blocks it.
    ///
    /// Blocked alone is not enough: while the kernel delivers `sig` to its handler,
    /// `sig` is in the blocked mask too (a handler runs with its own signal blocked),
    /// from before the handler's first instruction. A thread preempted there is
    /// answering, not refusing. Such a signal is no longer pending.
    pub fn holds_back(&self, sig: i32) -> bool {
        self.is_blocked(sig) && self.is_pending(sig)
    }
}

fn bit(mask: u64, sig: i32) -> bool {
    (1..=64).contains(&sig) && mask & (1u64 << (sig - 1)) != 0
}

pub(super) fn parse_status(status: &str) -> Option<TaskStatus> {
    let mut name = None;
    let mut state = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.strip_prefix('\t').unwrap_or(v).to_owned());
        } else if let Some(v) = line.strip_prefix("State:") {
            state = v.trim_start().chars().next().map(ThreadState::from_code);
            break; // `State:` comes right after `Name:`, and the masks come later
        }
    }
    Some(TaskStatus {
        name: name?,
        state: state?,
        masks: parse_sigmasks(status)?,
    })
}

pub(super) fn parse_sigmasks(status: &str) -> Option<SigMasks> {
    let mut m = SigMasks::default();
    let (mut pnd, mut blk) = (false, false);
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("SigPnd:") {
            m.pending = u64::from_str_radix(v.trim(), 16).ok()?;
            pnd = true;
        } else if let Some(v) = line.strip_prefix("SigBlk:") {
            m.blocked = u64::from_str_radix(v.trim(), 16).ok()?;
            blk = true;
        }
    }
    (pnd && blk).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_name_state_and_masks() {
        let raw = "Name:\ta b\\nc\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1\n\
                   SigQ:\t0/1\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n\
                   SigBlk:\t0000008000000000\nSigIgn:\t0\n";
        let st = parse_status(raw).unwrap();
        assert_eq!(st.name, "a b\\nc");
        assert_eq!(st.state, ThreadState::Sleeping);
        assert!(st.masks.is_blocked(40));
        assert!(!st.masks.is_pending(40));
        assert_eq!(parse_status("Name:\tx\n"), None);
        // This very thread, read for real.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        let me = TaskDir::open().unwrap().status(tid).unwrap();
        assert_eq!(me.state, ThreadState::Running);
        assert_eq!(Some(me.name), read_stat(tid).map(|(n, _)| n));
    }

    #[test]
    fn parses_stat_with_odd_names() {
        let (name, state) = parse_stat(b"1234 (a (weird) name) S 1 2 3").unwrap();
        assert_eq!(name, "a (weird) name");
        assert_eq!(state, ThreadState::Sleeping);
        let (_, state) = parse_stat(b"7 (x) D 1").unwrap();
        assert_eq!(state, ThreadState::DiskWait);
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn parses_signal_masks() {
        let status = "Name:\tx\nSigQ:\t0/1\nSigPnd:\t0000000000000020\nShdPnd:\t0\nSigBlk:\t0000000000000002\n";
        let m = parse_sigmasks(status).unwrap();
        assert!(m.is_pending(6));
        assert!(!m.is_pending(5));
        assert!(m.is_blocked(2));
        assert!(!m.is_blocked(0) && !m.is_blocked(65));
        // Regression: blocked but not pending = being delivered, not refused.
        assert!(!m.holds_back(2));
        let both = SigMasks {
            pending: 0b10,
            blocked: 0b10,
        };
        assert!(both.holds_back(2));
        assert!(parse_sigmasks("Name: x\n").is_none());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn lists_own_threads() {
        let tids = list_tasks().unwrap();
        assert!(tids.contains(&std::process::id()));
        let (_, state) = read_stat(std::process::id()).unwrap();
        assert_ne!(state, ThreadState::Dead);
        assert!(read_sigmasks(std::process::id()).is_some());
    }
}
