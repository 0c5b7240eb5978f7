//! The fallback reader for platforms without `/proc`: sysinfo.

use std::io;
use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::Reading;

pub(super) struct SysinfoReader {
    sys: System,
    pid: Pid,
}

impl SysinfoReader {
    pub(super) fn new() -> Self {
        SysinfoReader {
            sys: System::new(),
            pid: Pid::from_u32(std::process::id()),
        }
    }

    pub(super) fn read(&mut self) -> io::Result<Reading> {
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let p = self
            .sys
            .process(self.pid)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "own process not listed"))?;
        Ok(Reading {
            cpu_time: Duration::from_millis(p.accumulated_cpu_time()),
            rss_bytes: p.memory(),
            threads: 0,
        })
    }
}
