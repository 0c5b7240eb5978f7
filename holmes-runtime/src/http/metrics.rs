//! `/debug/holmes/metrics`: the [`Status`] in Prometheus' text exposition format
//! (version 0.0.4): every family has `# HELP` and `# TYPE`, counters end in `_total`,
//! a metric without a sample yet has no line. Without a running holmes only
//! `holmes_up 0`.

use std::fmt::Write as _;

use crate::state::{RuleState, Status};

/// The exposition text of `status` (`None`: holmes does not run).
pub(crate) fn render(status: Option<&Status>) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "holmes_up",
        "gauge",
        "1 when holmes runs in this process.",
    );
    let _ = writeln!(out, "holmes_up {}", u8::from(status.is_some()));
    let Some(s) = status else {
        return out;
    };
    family(
        &mut out,
        "holmes_metric_value",
        "gauge",
        "The newest sample of each metric: cpu, mem and heap in percent (of the cores, of the memory limit), threads and tasks as counts.",
    );
    for m in &s.metrics {
        if let Some(v) = m.current {
            let _ = writeln!(
                out,
                "holmes_metric_value{{metric=\"{}\"}} {}",
                m.metric,
                num(v)
            );
        }
    }
    family(
        &mut out,
        "holmes_metric_average",
        "gauge",
        "The mean of each metric's recent samples (the ring a rule compares with).",
    );
    for m in s.metrics.iter().filter(|m| !m.ring.is_empty()) {
        let _ = writeln!(
            out,
            "holmes_metric_average{{metric=\"{}\"}} {}",
            m.metric,
            num(m.average)
        );
    }
    family(
        &mut out,
        "holmes_rule_threshold",
        "gauge",
        "Each rule's thresholds: min, diff (percent above the average), abs, max (0: none).",
    );
    for m in &s.metrics {
        if let Some(r) = m.rule {
            for (name, v) in [
                ("min", r.min()),
                ("diff", r.diff()),
                ("abs", r.abs()),
                ("max", r.max_value()),
            ] {
                let _ = writeln!(
                    out,
                    "holmes_rule_threshold{{metric=\"{}\",threshold=\"{name}\"}} {v}",
                    m.metric
                );
            }
        }
    }
    family(
        &mut out,
        "holmes_rule_state",
        "gauge",
        "1 for each rule's current state: warming_up, armed, cooling_down, throttled.",
    );
    for m in &s.metrics {
        let state = match m.state {
            RuleState::Disabled => continue,
            RuleState::WarmingUp { .. } => "warming_up",
            RuleState::Armed => "armed",
            RuleState::CoolingDown { .. } => "cooling_down",
            RuleState::Throttled { .. } => "throttled",
        };
        for st in ["warming_up", "armed", "cooling_down", "throttled"] {
            let _ = writeln!(
                out,
                "holmes_rule_state{{metric=\"{}\",state=\"{st}\"}} {}",
                m.metric,
                u8::from(st == state)
            );
        }
    }
    let counters: [(&str, &str, u64); 13] = [
        ("holmes_sampler_ticks_total", "Sampler ticks.", s.ticks),
        ("holmes_dumps_total", "Dumps written.", s.dumps),
        (
            "holmes_dump_failures_total",
            "Dumps whose capture or files failed.",
            s.dump_failures,
        ),
        (
            "holmes_write_failures_total",
            "Dumps with a file that could not be written.",
            s.write_failures,
        ),
        (
            "holmes_dump_requests_dropped_total",
            "Triggers dropped because the dumper's queue was full.",
            s.dump_requests_dropped,
        ),
        (
            "holmes_sample_errors_total",
            "Ticks whose reading failed.",
            s.sample_errors,
        ),
        (
            "holmes_throttled_total",
            "Fires suppressed by the dump limits.",
            s.throttled,
        ),
        (
            "holmes_skipped_low_disk_total",
            "Dumps skipped: the dump directory's disk was below the free-space floor.",
            s.skipped_low_disk,
        ),
        (
            "holmes_files_deleted_total",
            "Old dump files deleted by retention.",
            s.files_deleted,
        ),
        (
            "holmes_signal_takeovers_total",
            "Captures during which the host took over holmes' signal or timer.",
            s.signal_takeovers,
        ),
        (
            "holmes_reports_delivered_total",
            "Reports every reporter accepted.",
            s.reports.delivered,
        ),
        (
            "holmes_reports_failed_total",
            "Reports at least one reporter failed on.",
            s.reports.failed,
        ),
        (
            "holmes_reports_dropped_total",
            "Reports dropped: the queue was full, or shutdown gave up on them.",
            s.reports.dropped,
        ),
    ];
    for (name, help, v) in counters {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let gauges = [
        ("holmes_cores", "Cores that cpu percent refers to.", s.cores),
        (
            "holmes_memory_limit_bytes",
            "The memory limit that mem and heap percent refer to.",
            s.memory_limit as f64,
        ),
        (
            "holmes_interval_seconds",
            "The sampling interval.",
            s.interval.as_secs_f64(),
        ),
    ];
    for (name, help, v) in gauges {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", num(v));
    }
    out
}

fn family(out: &mut String, name: &str, ty: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {ty}");
}

/// A sample value as Prometheus reads it (`NaN`, `+Inf` spelled its way).
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_holmes_only_up_is_zero() {
        let t = render(None);
        assert!(t.contains("\nholmes_up 0\n"), "{t}");
        assert_eq!(t.lines().filter(|l| !l.starts_with('#')).count(), 1);
    }

    #[test]
    fn values_are_spelled_as_prometheus_reads_them() {
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(3.0), "3");
    }
}
