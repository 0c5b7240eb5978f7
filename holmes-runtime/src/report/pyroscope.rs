//! [`PyroscopeReporter`]: pushes each dump's pprof files to Grafana Pyroscope's
//! `/ingest` API. The request and the reasons for its form are documented on the type.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::client::{base64, check_url, redact, url_encode, HttpClient};
use super::multipart::Form;
use super::{Report, ReportError, ReportFile, Reporter};
use crate::escape::Escaped;
use crate::event::DumpKind;

/// Pushes the pprof files of each dump to a Grafana Pyroscope server (or Grafana Cloud
/// Profiles), so a fleet of services lands in one profiling backend.
///
/// Dumps without a pprof file are skipped. Timeouts and retries are those of
/// [`super::HttpReporter`]: 10 s per attempt, 2 retries on transport errors, 5xx, 429
/// and 408.
///
/// # What is sent, and why
///
/// `POST {base}/ingest?name=<app>{holmes_dump=<kind>,<labels>}&from=<s>&until=<s>&spyName=holmes`
/// with a `multipart/form-data` body: a `profile` part (the gzipped pprof, as written to
/// disk) and a `sample_type_config` part (JSON). This is the form Pyroscope's own Go
/// client and the Go holmes uploader send, and the server's ingest handler reads it when
/// the request has **no** `format` parameter: with `format=pprof` the server takes the
/// raw body as the pprof and would fail to parse a multipart body, so `format` is not
/// sent.
///
/// - `name` is the application name with labels only, no `.<profile>` suffix: for pprof
///   input the server derives the profile type itself from the profile's sample types
///   (`process_cpu` for CPU, `memory` for heap) and stores `name` as `service_name`; a
///   suffix would split one service into one per profile type.
/// - The label `holmes_dump` (`cpu`, `heap`, `heap_base`, `threads`, `tasks`) keeps the
///   heap baseline apart from the peak (two series to diff instead of one mixed series)
///   and lets a query select holmes's dumps among continuous profiles.
/// - `sample_type_config` names the sample types the server does not know by default
///   (`threads`, `tasks`) and marks the heap's `alloc_*` values as plain values: by default
///   they are cumulative, which older servers drop from a single upload (they wait for a
///   second profile to diff against).
/// - `from`/`until` are the capture window: the event's time to time + capture duration,
///   at least one second apart.
///
/// ```no_run
/// use holmes_runtime::PyroscopeReporter;
/// let reporter = PyroscopeReporter::new("https://profiles-prod-001.grafana.net", "checkout")
///     .basic_auth("123456", "glc_…")
///     .labels([("env", "prod"), ("region", "eu-west-1")]);
/// # let _ = reporter;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PyroscopeReporter {
    base_url: String,
    app_name: String,
    labels: Vec<(String, String)>,
    client: HttpClient,
}

impl PyroscopeReporter {
    /// Pushes to the server at `base_url` (e.g. `http://pyroscope:4040`) as application
    /// `app_name` (the `service_name` in Grafana).
    pub fn new(base_url: impl Into<String>, app_name: impl Into<String>) -> PyroscopeReporter {
        PyroscopeReporter {
            base_url: base_url.into(),
            app_name: app_name.into(),
            labels: Vec::new(),
            client: HttpClient::default(),
        }
    }

    /// HTTP basic authentication (Grafana Cloud: the stack's user id and an access token).
    /// Replaces a bearer token.
    pub fn basic_auth(mut self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        let creds = format!("{}:{}", user.as_ref(), password.as_ref());
        self.client.set_header(
            "Authorization",
            format!("Basic {}", base64(creds.as_bytes())),
        );
        self
    }

    /// `Authorization: Bearer <token>`. Replaces basic authentication.
    pub fn bearer(mut self, token: impl AsRef<str>) -> Self {
        self.client
            .set_header("Authorization", format!("Bearer {}", token.as_ref()));
        self
    }

    /// The tenant of a multi-tenant server (header `X-Scope-OrgID`).
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.client.set_header("X-Scope-OrgID", tenant_id.into());
        self
    }

    /// Adds labels to every profile (`env`, `region`, `instance`, …). Label names are
    /// reduced to `[A-Za-z0-9_]` and values lose `{ } = , "` and whitespace (each becomes
    /// `_`), since the server would reject them in `name`.
    pub fn labels<K, V>(mut self, labels: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in labels {
            let k = label_name(k.as_ref());
            self.labels.retain(|(old, _)| *old != k);
            self.labels.push((k, label_value(v.as_ref())));
        }
        self
    }

    /// The end-to-end timeout of one attempt. Default 10 s; at most
    /// [`crate::bounds::MAX_REPORT_TIMEOUT`] (10 min), longer values are clamped.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client.set_timeout(timeout);
        self
    }

    /// How many times a failed push is retried (transport errors, 5xx, 429, 408 only).
    /// Default 2.
    pub fn retries(mut self, retries: u32) -> Self {
        self.client.retries = retries;
        self
    }

    /// Sends header `name: value` with every request.
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.client.set_header(name.as_ref(), value.into());
        self
    }

    /// The `name` parameter (not yet URL-encoded): `app{holmes_dump=heap,env=prod}`.
    fn series_name(&self, report: &Report, file: &ReportFile) -> String {
        let mut name = label_value(&self.app_name);
        let kind = report.event.kind.name();
        let _ = write!(name, "{{holmes_dump={kind}");
        if file.is_base() {
            name.push_str("_base");
        }
        for (k, v) in &self.labels {
            if k != "holmes_dump" {
                let _ = write!(name, ",{k}={v}");
            }
        }
        name.push('}');
        name
    }

    fn push(&mut self, report: &Report, file: &ReportFile) -> Result<(), ReportError> {
        let (from, until) = window(report);
        let url = format!(
            "{}/ingest?name={}&from={from}&until={until}&spyName=holmes",
            self.base_url.trim_end_matches('/'),
            url_encode(&self.series_name(report, file)),
        );
        let mut form = Form::default();
        form.file(
            "profile",
            file.file_name(),
            "application/octet-stream",
            &file.bytes,
        )
        .file(
            "sample_type_config",
            "sample_type_config.json",
            "application/json",
            sample_type_config(report.event.kind).as_bytes(),
        );
        let (content_type, body) = form.finish();
        self.client.post(&url, &content_type, &body)
    }
}

impl Reporter for PyroscopeReporter {
    fn name(&self) -> &str {
        "pyroscope"
    }

    fn check(&self) -> Result<(), ReportError> {
        check_url(&self.base_url)
    }

    fn report(&mut self, report: &Report) -> Result<(), ReportError> {
        let files: Vec<&ReportFile> = report.pprof_files().collect();
        if files.is_empty() {
            log::debug!(
                target: "holmes",
                "holmes pyroscope reporter: dump #{} has no pprof file, nothing to push",
                report.event.id
            );
        }
        let mut first_err = None;
        for file in files {
            match (self.push(report, file), &first_err) {
                (Ok(()), _) => {}
                // The first error is returned (and logged by the reporter thread).
                (Err(e), None) => first_err = Some(e),
                (Err(e), Some(_)) => log::warn!(
                    target: "holmes",
                    "holmes pyroscope reporter: pushing {} of dump #{} to {} failed: {}",
                    Escaped(file.file_name()),
                    report.event.id,
                    Escaped(&redact(&self.base_url)),
                    Escaped(&e.to_string())
                ),
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// `from` and `until` in Unix seconds: the capture window, at least 1 s long.
fn window(report: &Report) -> (u64, u64) {
    let start = report
        .event
        .time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let end = start + report.event.capture_duration;
    let from = start.as_secs();
    let until = end.as_secs() + u64::from(end.subsec_nanos() > 0);
    (from, until.max(from + 1))
}

/// Pyroscope's description of the sample types of each kind's profile (see the module
/// docs). Units are from the server's fixed list (`samples`, `objects`, `bytes`,
/// `goroutines`, …): `goroutines` is its unit for a count of stacks.
fn sample_type_config(kind: DumpKind) -> &'static str {
    match kind {
        DumpKind::Cpu => r#"{"samples":{"units":"samples","display-name":"cpu","sampled":true}}"#,
        DumpKind::Heap => concat!(
            r#"{"inuse_space":{"units":"bytes","aggregation":"average"},"#,
            r#""inuse_objects":{"units":"objects","aggregation":"average"},"#,
            r#""alloc_space":{"units":"bytes"},"alloc_objects":{"units":"objects"}}"#
        ),
        DumpKind::Threads => r#"{"threads":{"units":"goroutines","aggregation":"average"}}"#,
        #[cfg(feature = "tokio")]
        DumpKind::Tasks => r#"{"tasks":{"units":"goroutines","aggregation":"average"}}"#,
    }
}

/// A Prometheus-style label name: `[A-Za-z_][A-Za-z0-9_]*`.
fn label_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value (or app name) without the characters that structure `name`.
fn label_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '{' | '}' | '=' | ',' | '"' | '\\')
                || c.is_whitespace()
                || c.is_control()
            {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(kind: DumpKind, at: Duration, capture: Duration) -> Report {
        Report::for_test(
            3,
            kind,
            UNIX_EPOCH + at,
            capture,
            vec![
                ("/d/heap.x.pb.gz".into(), vec![1]),
                ("/d/heap.x.base.pb.gz".into(), vec![2]),
            ],
        )
    }

    #[test]
    fn window_is_the_capture_and_at_least_a_second() {
        let r = report(
            DumpKind::Cpu,
            Duration::from_millis(100_500),
            Duration::from_secs(5),
        );
        assert_eq!(window(&r), (100, 106));
        let r = report(
            DumpKind::Heap,
            Duration::from_secs(100),
            Duration::from_millis(3),
        );
        assert_eq!(window(&r), (100, 101));
        let r = report(DumpKind::Heap, Duration::from_secs(100), Duration::ZERO);
        assert_eq!(window(&r), (100, 101));
    }

    #[test]
    fn series_name_has_kind_and_sanitized_labels() {
        let p = PyroscopeReporter::new("http://x", "my app")
            .labels([("env", "prod"), ("9bad-name", "a,b{c}")])
            .labels([("env", "staging")]);
        let r = report(DumpKind::Heap, Duration::from_secs(1), Duration::ZERO);
        assert_eq!(
            p.series_name(&r, &r.files[0]),
            "my_app{holmes_dump=heap,_9bad_name=a_b_c_,env=staging}"
        );
        assert_eq!(
            p.series_name(&r, &r.files[1]),
            "my_app{holmes_dump=heap_base,_9bad_name=a_b_c_,env=staging}"
        );
    }

    #[test]
    fn sample_type_configs_are_json_objects() {
        for k in [DumpKind::Cpu, DumpKind::Heap, DumpKind::Threads] {
            let s = sample_type_config(k);
            assert!(s.starts_with('{') && s.ends_with('}'));
            assert_eq!(s.matches('{').count(), s.matches('}').count());
        }
    }
}
