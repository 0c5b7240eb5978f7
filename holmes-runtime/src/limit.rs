//! Action limits: at most N dumps per sliding window, per rule and overall.
//!
//! dotnet-monitor's collection rules and CockroachDB's automatic profiler both bound how
//! often they act; the Go library does not, and a flapping metric filled its users'
//! disks. Cooldowns space dumps out; these limits cap them however the rules are set.

use std::collections::VecDeque;
use std::time::Instant;

use crate::clock::later;
use crate::rule::{DumpLimit, Metric};

/// The times of recent events, for one limit.
#[derive(Debug)]
struct Window {
    times: VecDeque<Instant>,
}

impl Window {
    fn new() -> Window {
        Window {
            times: VecDeque::new(),
        }
    }

    /// `Err(until)` when another event now would exceed `limit`.
    fn check(&mut self, limit: DumpLimit, now: Instant) -> Result<(), Instant> {
        while self
            .times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= limit.window)
        {
            self.times.pop_front();
        }
        if self.times.len() < limit.max {
            Ok(())
        } else {
            Err(self.times.front().map_or(now, |&t| later(t, limit.window)))
        }
    }

    fn record(&mut self, now: Instant, limit: DumpLimit) {
        self.times.push_back(now);
        while self.times.len() > limit.max.max(1) {
            self.times.pop_front();
        }
    }
}

/// Per-rule and overall windows.
#[derive(Debug)]
pub(crate) struct Limiter {
    per_rule: Vec<Window>,
    overall: Window,
}

impl Limiter {
    pub fn new() -> Limiter {
        Limiter {
            per_rule: (0..Metric::COUNT).map(|_| Window::new()).collect(),
            overall: Window::new(),
        }
    }

    /// Records a dump of `m` now if both limits allow it; otherwise returns when the
    /// tighter one allows the next.
    pub fn admit(
        &mut self,
        m: Metric,
        per_rule: DumpLimit,
        overall: DumpLimit,
        now: Instant,
    ) -> Result<(), Instant> {
        let a = self.per_rule[m as usize].check(per_rule, now);
        let b = self.overall.check(overall, now);
        match (a, b) {
            (Ok(()), Ok(())) => {
                self.per_rule[m as usize].record(now, per_rule);
                self.overall.record(now, overall);
                Ok(())
            }
            (Err(x), Err(y)) => Err(x.max(y)),
            (Err(x), _) | (_, Err(x)) => Err(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sliding_windows_per_rule_and_overall() {
        let mut l = Limiter::new();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let per = DumpLimit::new(2, s(60));
        let all = DumpLimit::new(3, s(60));
        assert!(l.admit(Metric::Cpu, per, all, t0).is_ok());
        assert!(l.admit(Metric::Cpu, per, all, t0 + s(1)).is_ok());
        // Third CPU dump within the minute: throttled until the first leaves the window.
        assert_eq!(l.admit(Metric::Cpu, per, all, t0 + s(2)), Err(t0 + s(60)));
        // Another rule still has room, until the overall limit.
        assert!(l.admit(Metric::Mem, per, all, t0 + s(3)).is_ok());
        assert_eq!(
            l.admit(Metric::Threads, per, all, t0 + s(4)),
            Err(t0 + s(60))
        );
        // The window slides.
        assert!(l.admit(Metric::Cpu, per, all, t0 + s(61)).is_ok());
        // max 0: never.
        assert!(l
            .admit(Metric::Heap, DumpLimit::new(0, s(1)), all, t0 + s(200))
            .is_err());
    }

    // Guards against: `max_dumps(1, Duration::MAX)` panicking with "overflow when adding
    // duration to instant" when the throttle's end was computed.
    #[test]
    fn a_huge_window_throttles_without_panicking() {
        let mut l = Limiter::new();
        let t0 = Instant::now();
        let huge = DumpLimit::new(1, Duration::MAX);
        assert!(l.admit(Metric::Cpu, huge, huge, t0).is_ok());
        let until = l.admit(Metric::Cpu, huge, huge, t0).unwrap_err();
        assert!(until > t0 + Duration::from_secs(3600));
    }
}
