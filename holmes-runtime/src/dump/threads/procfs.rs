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
pub(super) fn read_stat(tid: u32) -> Option<(String, ThreadState)> {
    let raw = std::fs::read(format!("/proc/self/task/{tid}/stat")).ok()?;
    parse_stat(&raw)
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
pub(super) fn read_sigmasks(tid: u32) -> Option<SigMasks> {
    let raw = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    parse_sigmasks(&raw)
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
}

fn bit(mask: u64, sig: i32) -> bool {
    (1..=64).contains(&sig) && mask & (1u64 << (sig - 1)) != 0
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
