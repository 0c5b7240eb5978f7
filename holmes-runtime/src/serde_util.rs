//! How the `serde` feature writes what is not plain data, for the `serialize_with`
//! attributes on the public types:
//!
//! - a wall-clock time: an RFC 3339 UTC string with milliseconds
//!   (`2026-11-27T12:50:09.751Z`), truncated to the millisecond; a time before 1970 or
//!   after 9999 (which RFC 3339 cannot write) is clamped to the nearest end of that range;
//! - a duration: a humantime string (`20ms`, `1m 30s`, `1s 500ms`), an unset optional one
//!   `None` (JSON `null`);
//! - a path: a string, with `U+FFFD` for what is not UTF-8.
//!
//! Nothing here panics or fails on any value.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// The last millisecond RFC 3339 can write: 9999-12-31T23:59:59.999Z.
const LAST: Duration = Duration::from_millis(253_402_300_800_000 - 1);

/// Serializes as the `Display` string of the value it holds.
struct AsStr<T>(T);

impl<T: Display> Serialize for AsStr<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// `t` clamped to what RFC 3339 can write, formatted with milliseconds.
fn rfc3339(t: SystemTime) -> impl Display {
    let t = match t.duration_since(UNIX_EPOCH) {
        Ok(since) if since <= LAST => t,
        Ok(_) => UNIX_EPOCH.checked_add(LAST).unwrap_or(UNIX_EPOCH),
        Err(_) => UNIX_EPOCH,
    };
    humantime::format_rfc3339_millis(t)
}

pub(crate) fn time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&rfc3339(*t))
}

pub(crate) fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

pub(crate) fn option_duration<S: Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&AsStr(humantime::format_duration(*d))),
        None => s.serialize_none(),
    }
}

pub(crate) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}

pub(crate) fn paths<S: Serializer>(ps: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ps.iter().map(|p| AsStr(p.display())))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use serde_json::{json, Value};

    use crate::event::{DumpEvent, DumpKind, TopEntry};
    use crate::rule::{FireReason, Metric, Rule};
    use crate::sample::limits::LimitSource;
    use crate::state::RuleState;
    use crate::{Holmes, StackWalk};

    fn to_value(v: &impl serde::Serialize) -> Value {
        let text = serde_json::to_string(v).expect("serialize");
        serde_json::from_str(&text).expect("parse back")
    }

    fn event() -> DumpEvent {
        DumpEvent {
            id: 7,
            kind: DumpKind::Threads,
            metric: Metric::Threads,
            reason: FireReason::AboveAbs,
            value: 30.5,
            average: 20.25,
            ring: vec![10.0, 30.5],
            rule: Rule::new(5, 25, 20)
                .max(1000)
                .cooldown(Duration::from_secs(90))
                .sustain(2),
            time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            capture_duration: Duration::from_millis(1500),
            capture_cpu_percent: None,
            top: vec![TopEntry {
                name: "svc::handler".into(),
                flat: 3,
                cum: 5,
            }],
            top_total: 9,
            culprit: Some("svc::handler".into()),
            files: vec![
                PathBuf::from("/tmp/holmes/threads.txt"),
                PathBuf::from("/tmp/holmes/threads.pb.gz"),
            ],
            error: None,
            cascade_of: Some(6),
        }
    }

    #[test]
    fn serde_dump_event_reads_as_json() {
        let v = to_value(&event());
        let time = v["time"].as_str().expect("time is a string");
        assert_eq!(time, "2023-11-14T22:13:20.123Z");
        let parsed = humantime::parse_rfc3339(time).expect("RFC 3339");
        assert_eq!(
            parsed,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        );
        assert_eq!(
            v,
            json!({
                "id": 7,
                "kind": "threads",
                "metric": "threads",
                "reason": "above_abs",
                "value": 30.5,
                "average": 20.25,
                "ring": [10.0, 30.5],
                "rule": {
                    "min": 5, "diff": 25, "abs": 20, "max": 1000,
                    "cooldown": "1m 30s", "sustain": 2, "escalate": null
                },
                "time": time,
                "capture_duration": "1s 500ms",
                "capture_cpu_percent": null,
                "top": [{"name": "svc::handler", "flat": 3, "cum": 5}],
                "top_total": 9,
                "culprit": "svc::handler",
                "files": ["/tmp/holmes/threads.txt", "/tmp/holmes/threads.pb.gz"],
                "error": null,
                "cascade_of": 6
            })
        );
    }

    #[test]
    fn serde_rule_states_limit_sources_and_names() {
        let until = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(to_value(&RuleState::Disabled), json!({"state": "disabled"}));
        assert_eq!(to_value(&RuleState::Armed), json!({"state": "armed"}));
        assert_eq!(
            to_value(&RuleState::WarmingUp { samples: 3, of: 10 }),
            json!({"state": "warming_up", "samples": 3, "of": 10})
        );
        assert_eq!(
            to_value(&RuleState::CoolingDown { until }),
            json!({"state": "cooling_down", "until": "2027-01-15T08:00:00.000Z"})
        );
        assert_eq!(
            to_value(&RuleState::Throttled { until }),
            json!({"state": "throttled", "until": "2027-01-15T08:00:00.000Z"})
        );
        assert_eq!(
            to_value(&LimitSource::Cgroup("/sys/fs/cgroup/memory.max".into())),
            json!({"kind": "cgroup", "path": "/sys/fs/cgroup/memory.max"})
        );
        assert_eq!(
            to_value(&LimitSource::Override),
            json!({"kind": "override"})
        );
        assert_eq!(
            to_value(&LimitSource::Affinity),
            json!({"kind": "affinity"})
        );
        assert_eq!(to_value(&LimitSource::Host), json!({"kind": "host"}));
        assert_eq!(to_value(&FireReason::Diff), json!("diff"));
        assert_eq!(to_value(&StackWalk::FramePointers), json!("frame_pointers"));
        for m in Metric::ALL {
            assert_eq!(to_value(&m), json!(m.name()));
            assert_eq!(
                to_value(&DumpKind::for_metric(m)),
                json!(DumpKind::for_metric(m).name())
            );
        }
    }

    // Guards against: humantime panicking on a time before 1970 and failing on one
    // after 9999 (RFC 3339 writes neither).
    #[test]
    fn serde_times_out_of_range_are_clamped() {
        let before = UNIX_EPOCH - Duration::from_secs(3600);
        assert_eq!(
            to_value(&RuleState::CoolingDown { until: before }),
            json!({"state": "cooling_down", "until": "1970-01-01T00:00:00.000Z"})
        );
        let after = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(
            to_value(&RuleState::Throttled { until: after }),
            json!({"state": "throttled", "until": "9999-12-31T23:59:59.999Z"})
        );
    }

    #[test]
    fn serde_status_of_a_running_holmes() {
        let _one = crate::guard::test_lock();
        let dir = tempfile::tempdir().expect("tempdir");
        let guard = Holmes::builder()
            .env_overrides(false)
            .interval(Duration::from_millis(20))
            .dump_dir(dir.path())
            .cpu(Rule::new(10, 25, 80))
            .start()
            .expect("start");
        // ~100 ms of ticks; longer only on a loaded machine.
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        while guard.status().ticks < 2 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let before = SystemTime::now();
        let v = to_value(&guard.status());
        drop(guard);

        let metrics = v["metrics"].as_array().expect("metrics is an array");
        let names: Vec<&str> = metrics
            .iter()
            .filter_map(|m| m["metric"].as_str())
            .collect();
        let expected: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, expected, "{v:#}");
        assert_eq!(metrics.len(), if cfg!(feature = "tokio") { 5 } else { 4 });

        let cpu = &metrics[Metric::Cpu as usize];
        assert_eq!(cpu["rule"]["abs"], 80, "{cpu:#}");
        assert_eq!(cpu["rule"]["min"], 10);
        assert_eq!(cpu["rule"]["diff"], 25);
        assert_eq!(cpu["rule"]["cooldown"], Value::Null);
        let state = cpu["state"]["state"].as_str().expect("a tagged state");
        assert!(
            ["warming_up", "armed", "cooling_down", "throttled"].contains(&state),
            "{cpu:#}"
        );
        if state == "warming_up" {
            let samples = cpu["state"]["samples"].as_u64().expect("samples");
            assert!((1..10).contains(&samples), "{cpu:#}");
            assert_eq!(cpu["state"]["of"], 10);
        }
        if let Some(until) = cpu["state"]["until"].as_str() {
            let until = humantime::parse_rfc3339(until).expect("RFC 3339");
            assert!(until > before - Duration::from_secs(1), "{cpu:#}");
        }
        assert!(cpu["current"].is_f64(), "{cpu:#}");
        assert!(!cpu["ring"].as_array().expect("ring").is_empty());

        let mem = &metrics[Metric::Mem as usize];
        assert_eq!(mem["rule"], Value::Null, "{mem:#}");
        assert_eq!(mem["state"], json!({"state": "disabled"}));
        assert_eq!(mem["last_dump"], Value::Null);

        assert_eq!(v["interval"], "20ms");
        assert_eq!(
            v["dump_dir"],
            dir.path().to_str().expect("a UTF-8 temp dir")
        );
        assert!(v["ticks"].as_u64().is_some_and(|t| t >= 2), "{v:#}");
        assert_eq!(v["dumps"], 0);
        assert_eq!(
            v["reports"],
            json!({"submitted": 0, "delivered": 0, "failed": 0, "dropped": 0})
        );
        assert!(v["cores"].as_f64().is_some_and(|c| c > 0.0), "{v:#}");
        assert!(v["memory_limit"].as_u64().is_some_and(|m| m > 0), "{v:#}");
        for source in ["cores_source", "memory_source"] {
            let kind = v[source]["kind"].as_str().expect("a tagged source");
            assert!(
                ["override", "cgroup", "affinity", "host"].contains(&kind),
                "{v:#}"
            );
        }
        let walk = v["stack_walk"].as_str().expect("stack_walk");
        assert!(["frame_pointers", "dwarf"].contains(&walk), "{v:#}");
        assert!(v["stacks_truncated"].is_boolean());
    }
}
