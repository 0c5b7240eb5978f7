//! The debug endpoint's HTML page, served at `/debug/holmes/`: what holmes watches and
//! the dumps it wrote, for a person with a browser (a phone's included).
//!
//! - One complete HTML5 document rendered on the server: inline CSS, no script, no
//!   external resource; system fonts; wide tables scroll inside their own box.
//! - Links are relative to `/debug/holmes/`: a dump file is `dumps/<name>`, the JSON
//!   status `status`, the Prometheus metrics `metrics`, the on-demand profiles
//!   `../pprof/profile?seconds=30`, `../pprof/heap`, `../pprof/threads?debug=1` and
//!   `../pprof/tasks?debug=1` (with the `tokio` feature).
//! - Every text taken from the status or from the dump files (paths, names, header
//!   values) goes through [`escape`], in element text and attribute values alike.
//! - Bounded by its input: it names the dumps it is given and never inlines a file's
//!   content (a flamegraph is an `<img>` of the dump's `.svg`, loaded lazily).

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dumps::{DumpEntry, DumpFile};
use crate::dump::writer::split_ext;
use crate::event::DumpEvent;
use crate::rule::Metric;
use crate::state::{MetricStatus, RuleState, Status};

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const STYLE: &str = "\
:root{color-scheme:light dark;--muted:#57606a;--line:#d0d7de;--accent:#0969da;--warn:#9a4a00;--abs:#cf222e}
@media (prefers-color-scheme:dark){:root{--muted:#9198a1;--line:#3d444d;--accent:#4493f8;--warn:#d29922;--abs:#f85149}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:72rem;padding:.75rem;font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}
code{font:13px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:1.4rem 0 .5rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:0 0 .3rem;font-weight:600}
a{color:var(--accent)}
p{margin:.3rem 0}
.sub{color:var(--muted);font-weight:normal}
.warn{color:var(--warn);font-weight:600}
nav a{margin-right:.9rem;white-space:nowrap}
.facts{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;margin:.6rem 0}
.facts div{display:flex;gap:.35rem}
.facts dt{color:var(--muted)}
.facts dd{margin:0;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;min-width:100%}
th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle;white-space:nowrap}
th{font-weight:600;color:var(--muted)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.spark{display:block;color:var(--accent)}
svg.spark .abs{stroke:var(--abs)}
.dump{border:1px solid var(--line);border-radius:6px;padding:.6rem .75rem;margin:.6rem 0}
.dump .file{white-space:nowrap}
code.culprit{font-weight:600}
summary{cursor:pointer;color:var(--accent)}
details img{display:block;max-width:100%;height:auto;margin-top:.4rem;background:#fff}
";

/// The page: holmes' state in `status` (`None`: holmes is not running in this
/// process), and `dumps`, the dumps of `dir` newest first, as [`super::dumps::list`]
/// returns them. Times are shown relative to `now`.
pub(crate) fn render(
    dir: &Path,
    status: Option<&Status>,
    dumps: &[DumpEntry],
    now: SystemTime,
) -> String {
    let dir_text = escape(&dir.to_string_lossy());
    let mut out = String::with_capacity(8 * 1024 + dumps.len() * 1024);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>holmes — {dir_text}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
    );
    header(&mut out, &dir_text, status);
    out.push_str("<main>\n");
    rules(&mut out, status, dumps, now);
    dump_list(&mut out, &dir_text, dumps, now);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, dir_text: &str, status: Option<&Status>) {
    w!(
        out,
        "<header>\n<h1>holmes</h1>\n<p class=\"sub\">process {} · dumps in <code>{dir_text}</code></p>\n",
        std::process::id()
    );
    out.push_str(
        "<nav><a href=\"status\">status (JSON)</a><a href=\"metrics\">metrics (Prometheus)</a></nav>\n\
         <p>profile now: <a href=\"../pprof/profile?seconds=30\">cpu (30 s)</a> · \
         <a href=\"../pprof/heap\">heap</a> · <a href=\"../pprof/threads?debug=1\">threads</a>",
    );
    if cfg!(feature = "tokio") {
        out.push_str(" · <a href=\"../pprof/tasks?debug=1\">tasks</a>");
    }
    out.push_str("</p>\n");
    let Some(s) = status else {
        out.push_str("<p class=\"warn\">holmes is not running in this process.</p>\n</header>\n");
        return;
    };
    out.push_str("<dl class=\"facts\">\n");
    let mut fact = |name: &str, value: &str| {
        w!(
            out,
            "<div><dt>{}</dt><dd>{}</dd></div>\n",
            escape(name),
            escape(value)
        );
    };
    fact("sampling every", &fmt_duration(s.interval));
    fact("ticks", &s.ticks.to_string());
    fact("dumps", &s.dumps.to_string());
    fact("dump failures", &s.dump_failures.to_string());
    fact("write failures", &s.write_failures.to_string());
    fact("dropped requests", &s.dump_requests_dropped.to_string());
    fact("throttled", &s.throttled.to_string());
    fact("skipped (low disk)", &s.skipped_low_disk.to_string());
    fact("files deleted", &s.files_deleted.to_string());
    fact("sample errors", &s.sample_errors.to_string());
    fact(
        "cores",
        &format!("{} ({})", trim_float(s.cores), s.cores_source),
    );
    fact(
        "memory limit",
        &format!("{} ({})", fmt_bytes(s.memory_limit), s.memory_source),
    );
    let walker = crate::stack::walker_name(s.stack_walk);
    if s.stacks_truncated {
        fact("stacks", &format!("{walker} (they look truncated)"));
    } else {
        fact("stacks", walker);
    }
    out.push_str("</dl>\n</header>\n");
}

fn rules(out: &mut String, status: Option<&Status>, dumps: &[DumpEntry], now: SystemTime) {
    out.push_str("<section id=\"rules\">\n<h2>Rules</h2>\n");
    let Some(s) = status else {
        out.push_str(
            "<p>holmes is not running in this process: no rule is watched.</p>\n</section>\n",
        );
        return;
    };
    let (watched, off): (Vec<&MetricStatus>, Vec<&MetricStatus>) = s
        .metrics
        .iter()
        .partition(|m| m.state != RuleState::Disabled && m.rule.is_some());
    if watched.is_empty() {
        out.push_str("<p>No rule is configured.</p>\n");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table>\n<thead><tr><th>metric</th>\
             <th>rule <span class=\"sub\">(min, diff, abs)</span></th><th>current</th>\
             <th>average</th><th>state</th><th>recent</th><th>last dump</th></tr></thead>\n<tbody>\n",
        );
        for m in watched {
            rule_row(out, s, m, dumps, now);
        }
        out.push_str("</tbody>\n</table></div>\n");
    }
    if !off.is_empty() {
        let names: Vec<&str> = off.iter().map(|m| m.metric.name()).collect();
        w!(
            out,
            "<p class=\"sub\">not watched: {}</p>\n",
            escape(&names.join(", "))
        );
    }
    out.push_str("</section>\n");
}

fn rule_row(out: &mut String, s: &Status, m: &MetricStatus, dumps: &[DumpEntry], now: SystemTime) {
    let name = m.metric.name();
    w!(out, "<tr><td>{}</td><td>", escape(name));
    if let Some(r) = &m.rule {
        w!(out, "<code>({}, {}, {})</code>", r.min(), r.diff(), r.abs());
        if r.max_value() != 0 {
            w!(out, " max {}", r.max_value());
        }
    }
    out.push_str("</td><td class=\"num\">");
    match m.current {
        Some(v) => out.push_str(&fmt_metric(m.metric, v, s)),
        None => out.push('–'),
    }
    w!(
        out,
        "</td><td class=\"num\">{}</td><td>{}</td><td>",
        fmt_metric(m.metric, m.average, s),
        fmt_state(&m.state, now)
    );
    let abs = m.rule.map(|r| r.abs() as f64);
    out.push_str(&sparkline(m.metric, &m.ring, abs));
    out.push_str("</td><td>");
    match &m.last_dump {
        Some(e) => out.push_str(&last_dump(e, dumps, now)),
        None => out.push('–'),
    }
    out.push_str("</td></tr>\n");
}

/// `#id · 5 min ago`, linked to the dump on this page when it is listed.
fn last_dump(e: &DumpEvent, dumps: &[DumpEntry], now: SystemTime) -> String {
    let stem = e
        .files
        .first()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .map(|n| {
            let stem = split_ext(n).0;
            stem.strip_suffix(".base").unwrap_or(stem)
        });
    let text = format!("#{} · {}", e.id, ago(e.time, now));
    let mut html = match stem.filter(|s| dumps.iter().any(|d| d.stem == *s)) {
        Some(stem) => format!("<a href=\"#{}\">{text}</a>", escape(stem)),
        None => escape(&text),
    };
    if let Some(err) = &e.error {
        w!(
            html,
            " <span class=\"warn\" title=\"{}\">failed</span>",
            escape(err)
        );
    }
    html
}

fn dump_list(out: &mut String, dir_text: &str, dumps: &[DumpEntry], now: SystemTime) {
    out.push_str(
        "<section id=\"dumps\">\n<h2>Dumps <span class=\"sub\">newest first</span></h2>\n",
    );
    if dumps.is_empty() {
        w!(out, "<p>No dumps yet in <code>{dir_text}</code>.</p>\n");
    }
    for (i, d) in dumps.iter().enumerate() {
        dump(out, d, i == 0, now);
    }
    out.push_str("</section>\n");
}

fn dump(out: &mut String, d: &DumpEntry, newest: bool, now: SystemTime) {
    let kind = escape(&d.kind);
    w!(
        out,
        "<article class=\"dump\" id=\"{}\">\n<h3>{kind}",
        escape(&d.stem)
    );
    if let Some(id) = d.header.id {
        w!(out, " #{id}");
    }
    match utc(d.time) {
        Some(t) => w!(
            out,
            " <time datetime=\"{}\">{}</time>",
            escape(&t),
            escape(&t.replace('T', " ").replace('Z', " UTC"))
        ),
        None => out.push_str(" (time unknown)"),
    }
    w!(out, " <span class=\"sub\">{}", escape(&ago(d.time, now)));
    if d.pid != std::process::id() {
        w!(out, " · process {}", d.pid);
    }
    out.push_str("</span></h3>\n");
    let h = &d.header;
    let mut facts = Vec::new();
    if let Some(rule) = &h.rule {
        facts.push(format!("rule <code>{}</code>", escape(rule)));
    }
    if let Some(reason) = &h.reason {
        facts.push(format!("reason: {}", escape(reason)));
    }
    if let Some(current) = &h.current {
        // The ring's samples are in the .txt file.
        let current = current.split(", previous:").next().unwrap_or(current);
        facts.push(format!("current: {}", escape(current)));
    }
    if !facts.is_empty() {
        w!(out, "<p>{}</p>\n", facts.join(" · "));
    }
    if let Some(c) = &h.culprit {
        w!(
            out,
            "<p>culprit: <code class=\"culprit\">{}</code></p>\n",
            escape(c)
        );
    }
    out.push_str("<p class=\"files\">");
    for (i, f) in d.files.iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        file_link(out, d, f);
    }
    out.push_str("</p>\n");
    let svg = d
        .files
        .iter()
        .find(|f| f.name.ends_with(".svg") && !f.name.ends_with(".base.svg"));
    if let Some(svg) = svg {
        let what = match h.id {
            Some(id) => format!("{} dump #{id}", d.kind),
            None => format!("{} dump {}", d.kind, d.stem),
        };
        w!(
            out,
            "<details{}><summary>flamegraph</summary><img src=\"dumps/{}\" loading=\"lazy\" alt=\"flamegraph of {}\"></details>\n",
            if newest { " open" } else { "" },
            escape(&url_segment(&svg.name)),
            escape(&what)
        );
    }
    out.push_str("</article>\n");
}

/// `pb.gz 12.3 KiB`, linked to `dumps/<name>`.
fn file_link(out: &mut String, d: &DumpEntry, f: &DumpFile) {
    let label = f
        .name
        .strip_prefix(d.stem.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&f.name);
    w!(
        out,
        "<span class=\"file\"><a href=\"dumps/{}\" title=\"{}\">{}</a> <span class=\"sub\">{}</span></span>",
        escape(&url_segment(&f.name)),
        escape(&f.name),
        escape(label),
        fmt_bytes(f.len)
    );
}

/// A small line chart of `ring` (oldest first), scaled to its largest value, with a
/// dashed line at `abs` when `abs` is within that range.
fn sparkline(metric: Metric, ring: &[f64], abs: Option<f64>) -> String {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    const PAD: f64 = 2.0;
    let values: Vec<f64> = ring
        .iter()
        .map(|&v| if v.is_finite() { v.max(0.0) } else { 0.0 })
        .collect();
    let Some(&last) = values.last() else {
        return "<span class=\"sub\">no samples yet</span>".into();
    };
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let scale = if max > 0.0 { max } else { 1.0 };
    let y = |v: f64| PAD + (H - 2.0 * PAD) * (1.0 - v / scale);
    let points: String = if values.len() == 1 {
        format!("0,{y:.1} {W},{y:.1}", y = y(last))
    } else {
        let step = W / (values.len() - 1) as f64;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", i as f64 * step, y(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let unit = if metric.is_percent() { " %" } else { "" };
    let mut label = format!(
        "{}: {} recent samples from {}{unit} to {}{unit}, newest {}{unit}",
        metric.name(),
        values.len(),
        trim_float(min),
        trim_float(max),
        trim_float(last)
    );
    let abs_line = match abs {
        Some(a) if a.is_finite() && a >= 0.0 && a <= max => {
            w!(label, "; abs {}{unit} dashed", trim_float(a));
            format!(
                "<line class=\"abs\" x1=\"0\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>",
                y = y(a)
            )
        }
        _ => String::new(),
    };
    let label = escape(&label);
    format!(
        "<svg class=\"spark\" role=\"img\" aria-label=\"{label}\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" preserveAspectRatio=\"none\"><title>{label}</title>{abs_line}\
         <polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{points}\"/></svg>"
    )
}

/// A metric's value in its unit: percent (memory and heap also as bytes of the memory
/// limit, CPU as cores), or a count. HTML.
fn fmt_metric(metric: Metric, v: f64, s: &Status) -> String {
    if !metric.is_percent() {
        return format!("{v:.0}");
    }
    let mut text = format!("{v:.1} %");
    match metric {
        Metric::Cpu if s.cores > 0.0 => {
            w!(
                text,
                " <span class=\"sub\">{:.2} cores</span>",
                v / 100.0 * s.cores
            );
        }
        Metric::Mem | Metric::Heap if s.memory_limit > 0 && v.is_finite() && v >= 0.0 => {
            let bytes = v / 100.0 * s.memory_limit as f64;
            w!(
                text,
                " <span class=\"sub\">{}</span>",
                fmt_bytes(bytes as u64)
            );
        }
        _ => {}
    }
    text
}

/// The rule's state, with times relative to `now` (the absolute time as a tooltip).
fn fmt_state(state: &RuleState, now: SystemTime) -> String {
    let until = |what: &str, until: SystemTime| {
        let left = until.duration_since(now).unwrap_or_default();
        let title = utc(until).map_or(String::new(), |t| {
            format!(" title=\"until {}\"", escape(&t))
        });
        format!("<span{title}>{what} for {}</span>", fmt_duration(left))
    };
    match state {
        RuleState::Disabled => "off".into(),
        RuleState::WarmingUp { samples, of } => format!("warming up, {samples} of {of} samples"),
        RuleState::Armed => "armed".into(),
        RuleState::CoolingDown { until: u } => until("cooling down", *u),
        RuleState::Throttled { until: u } => {
            format!("<span class=\"warn\">{}</span>", until("throttled", *u))
        }
    }
}

/// Escapes `s` for HTML element text and quoted attribute values: `& < > " '` become
/// entities; control characters and the Unicode bidirectional controls and line
/// separators are shown as escapes (`\n`, `\x1b`, `\u{202e}`), so a value can neither
/// break the markup nor reorder the text around it.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => w!(out, "\\x{:02x}", u32::from(c)),
            '\u{2028}'
            | '\u{2029}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => w!(out, "\\u{{{:x}}}", u32::from(c)),
            c => out.push(c),
        }
    }
    out
}

/// `name` as one URL path segment: everything but `A-Z a-z 0-9 - . _ ~` percent-encoded.
fn url_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            w!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-12-05T10:00:00.123Z`; `None` outside the years 1970–9999.
fn utc(t: SystemTime) -> Option<String> {
    t.duration_since(UNIX_EPOCH).ok()?;
    let mut s = String::new();
    // Fails (without panicking) after the year 9999.
    write!(s, "{}", humantime::format_rfc3339_millis(t)).ok()?;
    Some(s)
}

/// `5 min ago`, `in 3 s` (a time ahead of `now`), `just now`.
fn ago(t: SystemTime, now: SystemTime) -> String {
    match now.duration_since(t) {
        Ok(d) if d < Duration::from_secs(1) => "just now".into(),
        Ok(d) => format!("{} ago", fmt_duration(d)),
        Err(e) => format!("in {}", fmt_duration(e.duration())),
    }
}

/// `42 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`; below a second `250 ms`.
fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (big, unit, small, small_unit) = match s {
        0 if d.subsec_millis() > 0 => return format!("{} ms", d.subsec_millis()),
        0..=59 => return format!("{s} s"),
        60..=3599 => (s / 60, "min", s % 60, "s"),
        3600..=86_399 => (s / 3600, "h", s % 3600 / 60, "min"),
        _ => (s / 86_400, "d", s % 86_400 / 3600, "h"),
    };
    if small == 0 {
        format!("{big} {unit}")
    } else {
        format!("{big} {unit} {small} {small_unit}")
    }
}

/// `812 B`, `12.3 KiB`, `4.0 MiB`, `7.6 GiB`.
fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `2`, `1.5`, `93.25`: at most two decimals, no trailing zeros.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.2}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::dumps::DumpHeader;
    use super::*;
    use crate::event::DumpKind;
    use crate::rule::{FireReason, Rule};
    use std::time::Instant;

    /// The status of a holmes started here, once its CPU ring has a few samples.
    fn running_status(dir: &Path) -> Status {
        let _one = crate::guard::test_lock();
        let guard = crate::Holmes::builder()
            .env_overrides(false)
            .interval(Duration::from_millis(20))
            .dump_dir(dir)
            .cpu(Rule::new(10, 25, 80))
            .start()
            .expect("start");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = guard.status();
            if s.metric(Metric::Cpu).ring.len() >= 3 || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn at(secs: u64) -> SystemTime {
        humantime::parse_rfc3339("2026-12-05T10:00:00.123Z").unwrap() + Duration::from_secs(secs)
    }

    fn entry(kind: &str, secs: u64, id: u64, culprit: &str) -> DumpEntry {
        let stem = format!(
            "{kind}.{}.{}",
            crate::dump::writer::timestamp(at(secs)),
            std::process::id()
        );
        let files = ["pb.gz", "txt", "svg"]
            .iter()
            .zip([2048u64, 300, 70_000])
            .map(|(ext, len)| DumpFile {
                name: format!("{stem}.{ext}"),
                len,
            })
            .collect();
        DumpEntry {
            stem,
            kind: kind.into(),
            time: at(secs),
            pid: std::process::id(),
            files,
            header: DumpHeader {
                id: Some(id),
                rule: Some(format!("{kind} (min 10, diff 25, abs 80)")),
                reason: Some("curVal > ruleAbs".into()),
                current: Some("93.20, average: 40.10, previous: [1.0, 93.2]".into()),
                culprit: Some(culprit.into()),
            },
        }
    }

    fn count(html: &str, pat: &str) -> usize {
        html.matches(pat).count()
    }

    /// Open tags (`<tag>` or `<tag …>`) and close tags of `tag` pair up.
    fn assert_balanced(html: &str, tags: &[&str]) {
        for tag in tags {
            let open = count(html, &format!("<{tag}>")) + count(html, &format!("<{tag} "));
            let close = count(html, &format!("</{tag}>"));
            assert_eq!(open, close, "<{tag}>: {open} opened, {close} closed");
        }
    }

    const TAGS: &[&str] = &[
        "html", "head", "body", "header", "main", "section", "table", "thead", "tbody", "tr", "td",
        "th", "details", "summary", "article", "svg", "code", "p", "dl", "dt", "dd", "a", "span",
        "h1", "h2", "h3", "nav", "title", "style",
    ];

    // Guards against: a dump's culprit or any text from the files injecting markup, the
    // newest dump not first, every flamegraph open at once, links not under `dumps/`.
    #[test]
    fn renders_the_status_and_the_dumps_newest_first_escaped() {
        let t = tempfile::tempdir().unwrap();
        let status = running_status(t.path());
        let dumps = vec![
            entry("cpu", 60, 2, "my_service::burn<'a>"),
            entry("heap", 0, 1, "<script>alert(1)</script> & \"more\""),
        ];
        let now = at(60 + 42);
        let html = render(t.path(), Some(&status), &dumps, now);

        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
            "{html}"
        );
        assert!(html
            .contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        assert!(html.contains(&format!("<title>holmes — {}</title>", t.path().display())));
        assert_balanced(&html, TAGS);
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("://"), "an external resource: {html}");
        assert!(html.contains(
            "<code class=\"culprit\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;</code>"
        ));
        assert!(html.contains("<code class=\"culprit\">my_service::burn&lt;&#39;a&gt;</code>"));

        // Newest first; only its flamegraph open.
        let (first, second) = (&dumps[0].stem, &dumps[1].stem);
        let p1 = html.find(&format!("id=\"{first}\"")).expect("first dump");
        let p2 = html.find(&format!("id=\"{second}\"")).expect("second dump");
        assert!(p1 < p2);
        assert_eq!(count(&html, "<details"), 2);
        assert_eq!(count(&html, "<details open>"), 1);
        assert!(html
            .find("<details open>")
            .is_some_and(|p| p1 < p && p < p2));
        for d in &dumps {
            for f in &d.files {
                assert!(
                    html.contains(&format!("href=\"dumps/{}\"", f.name)),
                    "{}",
                    f.name
                );
            }
            assert!(html.contains(&format!(
                "<img src=\"dumps/{}.svg\" loading=\"lazy\" alt=\"flamegraph of {} dump #{}\">",
                d.stem,
                d.kind,
                d.header.id.unwrap()
            )));
        }
        assert!(html.contains(">pb.gz</a> <span class=\"sub\">2.0 KiB</span>"));
        assert!(html.contains("cpu #2 <time datetime=\"2026-12-05T10:01:00.123Z\">2026-12-05 10:01:00.123 UTC</time> <span class=\"sub\">42 s ago</span>"));
        assert!(html.contains("rule <code>cpu (min 10, diff 25, abs 80)</code> · reason: curVal &gt; ruleAbs · current: 93.20, average: 40.10</p>"));

        // Header: links and counters.
        for href in [
            "status",
            "metrics",
            "../pprof/profile?seconds=30",
            "../pprof/heap",
            "../pprof/threads?debug=1",
        ] {
            assert!(html.contains(&format!("<a href=\"{href}\">")), "{href}");
        }
        assert_eq!(
            html.contains("<a href=\"../pprof/tasks?debug=1\">"),
            cfg!(feature = "tokio")
        );
        assert!(html.contains(&format!("<dt>ticks</dt><dd>{}</dd>", status.ticks)));
        assert!(html.contains("<dt>files deleted</dt>"));
        assert!(html.contains(&format!("process {}", std::process::id())));

        // Rules: cpu watched, with its sparkline; the others listed as not watched.
        assert!(
            html.contains("<tr><td>cpu</td><td><code>(10, 25, 80)</code></td>"),
            "{html}"
        );
        assert!(
            html.contains("<p class=\"sub\">not watched: mem, threads, heap"),
            "{html}"
        );
        assert!(
            html.contains("<svg class=\"spark\" role=\"img\" aria-label=\"cpu: "),
            "{html}"
        );
        assert!(html.contains("<polyline "));
        assert!(!html.contains("holmes is not running"));
    }

    #[test]
    fn without_holmes_it_says_so_and_still_lists_the_dumps() {
        let dir = Path::new("/var/tmp/holmes");
        let dumps = vec![entry("threads", 5, 7, "f")];
        let html = render(dir, None, &dumps, at(10));
        assert!(html.contains("<p class=\"warn\">holmes is not running in this process.</p>"));
        assert!(html.contains(&format!("id=\"{}\"", dumps[0].stem)));
        assert!(html.contains("<details open>"));
        assert!(!html.contains("<table"));
        assert_balanced(&html, TAGS);

        // A path with markup in it, escaped in the title and the text.
        let dir = Path::new("/tmp/a<b>&\"c'");
        let html = render(dir, None, &[], at(10));
        let escaped = "/tmp/a&lt;b&gt;&amp;&quot;c&#39;";
        assert!(html.contains(&format!("<title>holmes — {escaped}</title>")));
        assert!(html.contains(&format!("<p>No dumps yet in <code>{escaped}</code>.</p>")));
        assert!(!html.contains("<details"));
        assert_balanced(&html, TAGS);
    }

    // Guards against: a hostile entry (names are checked by `dumps::list`, but the page
    // does not rely on it) breaking out of an attribute or a link.
    #[test]
    fn attribute_values_are_escaped_and_links_encoded() {
        let mut d = entry("cpu", 0, 1, "f");
        d.stem = "x\" onmouseover=\"alert(1)".into();
        d.kind = "<b>".into();
        d.pid = 1;
        d.files = vec![DumpFile {
            name: "a b/../\"x'.svg".into(),
            len: 5,
        }];
        d.header = DumpHeader::default();
        let html = render(Path::new("/d"), None, &[d], at(10));
        assert!(!html.contains("\" onmouseover"), "{html}");
        assert!(html.contains("id=\"x&quot; onmouseover=&quot;alert(1)\""));
        assert!(
            html.contains("href=\"dumps/a%20b%2F..%2F%22x%27.svg\""),
            "{html}"
        );
        assert!(html.contains("title=\"a b/../&quot;x&#39;.svg\""));
        assert!(html.contains("<h3>&lt;b&gt; <time"));
        assert!(html.contains("process 1</span>"));
        assert_balanced(&html, TAGS);
    }

    #[test]
    fn escape_handles_markup_quotes_and_invisible_characters() {
        assert_eq!(escape("<script>"), "&lt;script&gt;");
        assert_eq!(escape("a & b"), "a &amp; b");
        assert_eq!(escape("\"'"), "&quot;&#39;");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("a\nb\u{1b}[2J"), "a\\nb\\x1b[2J");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("my_service::é→"), "my_service::é→");
    }

    #[test]
    fn states_and_units() {
        let t = tempfile::tempdir().unwrap();
        let mut status = running_status(t.path());
        let now = SystemTime::now();
        let state = |s: RuleState| fmt_state(&s, now);
        assert_eq!(state(RuleState::Armed), "armed");
        assert_eq!(
            state(RuleState::WarmingUp { samples: 3, of: 10 }),
            "warming up, 3 of 10 samples"
        );
        let cooling = state(RuleState::CoolingDown {
            until: now + Duration::from_secs(42),
        });
        assert!(
            cooling.ends_with(">cooling down for 42 s</span>"),
            "{cooling}"
        );
        assert!(cooling.starts_with("<span title=\"until 20"), "{cooling}");
        let throttled = state(RuleState::Throttled {
            until: now + Duration::from_secs(192),
        });
        assert!(
            throttled.contains(">throttled for 3 min 12 s</span>"),
            "{throttled}"
        );
        assert!(throttled.starts_with("<span class=\"warn\">"));
        // A state from a status older than `now`: nothing left, no panic.
        assert!(state(RuleState::CoolingDown { until: at(0) }).contains("for 0 s"));

        status.memory_limit = 1 << 30;
        status.cores = 2.0;
        assert_eq!(
            fmt_metric(Metric::Heap, 50.0, &status),
            "50.0 % <span class=\"sub\">512.0 MiB</span>"
        );
        assert_eq!(
            fmt_metric(Metric::Cpu, 93.25, &status),
            "93.2 % <span class=\"sub\">1.86 cores</span>"
        );
        assert_eq!(fmt_metric(Metric::Threads, 120.0, &status), "120");

        // The state as rendered, and the rule's last dump linked to it on the page.
        let dumps = vec![entry("cpu", 0, 5, "f")];
        let cpu = &mut status.metrics[Metric::Cpu as usize];
        cpu.state = RuleState::CoolingDown {
            until: at(100) + Duration::from_secs(42),
        };
        cpu.last_dump = Some(DumpEvent {
            id: 5,
            kind: DumpKind::Cpu,
            metric: Metric::Cpu,
            reason: FireReason::AboveAbs,
            value: 93.0,
            average: 40.0,
            ring: vec![1.0, 93.0],
            rule: Rule::new(10, 25, 80),
            time: at(0),
            capture_duration: Duration::ZERO,
            capture_cpu_percent: None,
            top: Vec::new(),
            top_total: 0,
            culprit: None,
            files: vec![t.path().join(&dumps[0].files[0].name)],
            error: Some("disk <full>".into()),
            cascade_of: None,
        });
        let html = render(t.path(), Some(&status), &dumps, at(100));
        assert!(html.contains(">cooling down for 42 s</span>"), "{html}");
        assert!(html.contains(&format!(
            "<a href=\"#{}\">#5 · 1 min 40 s ago</a> <span class=\"warn\" title=\"disk &lt;full&gt;\">failed</span>",
            dumps[0].stem
        )), "{html}");
        assert_balanced(&html, TAGS);
    }

    #[test]
    fn sparkline_scales_to_the_ring_and_marks_abs_in_range() {
        let s = sparkline(Metric::Cpu, &[0.0, 50.0, 100.0], Some(80.0));
        assert!(s.starts_with("<svg class=\"spark\" role=\"img\" aria-label=\"cpu: 3 recent samples from 0 % to 100 %, newest 100 %; abs 80 % dashed\""), "{s}");
        assert!(s.contains("points=\"0.0,26.0 60.0,14.0 120.0,2.0\""), "{s}");
        assert!(s.contains("stroke-dasharray"));
        assert!(s.contains("y1=\"6.8\""), "{s}");
        let s = sparkline(Metric::Threads, &[10.0, 20.0], Some(200.0));
        assert!(!s.contains("stroke-dasharray"), "{s}");
        assert!(s.contains("from 10 to 20, newest 20\""), "{s}");
        // One sample: a flat line; odd values do not break the drawing.
        assert!(sparkline(Metric::Mem, &[5.0], None).contains("points=\"0,2.0 120,2.0\""));
        let odd = sparkline(Metric::Mem, &[f64::NAN, f64::INFINITY, -1.0], Some(0.0));
        assert!(
            odd.contains("points=\"0.0,26.0 60.0,26.0 120.0,26.0\""),
            "{odd}"
        );
        assert_eq!(
            sparkline(Metric::Cpu, &[], Some(80.0)),
            "<span class=\"sub\">no samples yet</span>"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(fmt_duration(Duration::ZERO), "0 s");
        assert_eq!(fmt_duration(Duration::from_secs(42)), "42 s");
        assert_eq!(fmt_duration(Duration::from_secs(120)), "2 min");
        assert_eq!(fmt_duration(Duration::from_secs(7500)), "2 h 5 min");
        assert_eq!(
            fmt_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3 d 4 h"
        );
        assert_eq!(fmt_bytes(812), "812 B");
        assert_eq!(fmt_bytes(12_595), "12.3 KiB");
        assert_eq!(fmt_bytes(8 << 30), "8.0 GiB");
        assert_eq!(fmt_bytes(u64::MAX), "16777216.0 TiB");
        assert_eq!(ago(at(0), at(0)), "just now");
        assert_eq!(ago(at(0), at(90)), "1 min 30 s ago");
        assert_eq!(ago(at(5), at(0)), "in 5 s");
        assert_eq!(utc(at(0)).as_deref(), Some("2026-12-05T10:00:00.123Z"));
        assert_eq!(utc(UNIX_EPOCH + Duration::from_secs(300_000_000_000)), None);
        assert_eq!(url_segment("cpu.2026-x_~.pb.gz"), "cpu.2026-x_~.pb.gz");
        assert_eq!(url_segment("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(trim_float(2.0), "2");
        assert_eq!(trim_float(1.50), "1.5");
    }
}
