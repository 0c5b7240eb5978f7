//! [`HttpReporter`]: the Go library's multipart upload, with timeouts and bounded retries.

use std::time::Duration;

use super::client::{check_url, redact, HttpClient};
use super::multipart::Form;
use super::{Report, ReportError, ReportFile, Reporter};
use crate::escape::Escaped;

/// Uploads each dump to an HTTP endpoint the way the Go library's HTTP reporter does.
///
/// One `POST <url>` of `multipart/form-data` per pprof file of the dump (the heap
/// baseline `.base.pb.gz` too), with the Go library's field names:
///
/// | field | value |
/// |---|---|
/// | `profile` | the file (its file name, `application/octet-stream`) |
/// | `profile_type` | `cpu`, `heap`, `threads`, `tasks`; `heap_base` for the baseline |
/// | `event_id` | the dump's id ([`crate::DumpEvent::id`]) |
/// | `comment` | the dump's one-line description (its `Display`) |
/// | `token` | the token set with [`HttpReporter::token`] (omitted when unset) |
///
/// A dump without a pprof file (pprof output disabled) posts its text report instead,
/// or, without one, every file it has. Each POST has a timeout (default 10 s) and is
/// retried on transport errors, 5xx, 429 and 408 (default 2 retries, with backoff); see
/// [`Reporter`](crate::Reporter). If one file fails, the others are still sent and the first
/// error is returned.
///
/// ```no_run
/// use std::time::Duration;
/// use holmes_runtime::HttpReporter;
/// let reporter = HttpReporter::new("https://profiles.example.com/upload")
///     .token("s3cr3t")
///     .timeout(Duration::from_secs(5))
///     .retries(3);
/// # let _ = reporter;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct HttpReporter {
    url: String,
    token: Option<String>,
    client: HttpClient,
}

impl HttpReporter {
    /// Posts to `url` (`http://` or `https://`).
    pub fn new(url: impl Into<String>) -> HttpReporter {
        HttpReporter {
            url: url.into(),
            token: None,
            client: HttpClient::default(),
        }
    }

    /// Sends `token` in the `token` form field (the Go library's authentication).
    pub fn token(mut self, token: impl Into<String>) -> HttpReporter {
        self.token = Some(token.into());
        self
    }

    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: impl AsRef<str>) -> HttpReporter {
        self.client
            .set_header("Authorization", format!("Bearer {}", token.as_ref()));
        self
    }

    /// The end-to-end timeout of one attempt (DNS, connect, TLS, request, response).
    /// Default 10 s; at most [`crate::bounds::MAX_REPORT_TIMEOUT`] (10 min), longer
    /// values are clamped.
    pub fn timeout(mut self, timeout: Duration) -> HttpReporter {
        self.client.set_timeout(timeout);
        self
    }

    /// How many times a failed POST is retried (transport errors, 5xx, 429, 408 only).
    /// Default 2; 0 disables retries.
    pub fn retries(mut self, retries: u32) -> HttpReporter {
        self.client.retries = retries;
        self
    }

    /// Sends header `name: value` with every request (replacing one of the same name).
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> HttpReporter {
        self.client.set_header(name.as_ref(), value.into());
        self
    }

    fn post_file(&mut self, report: &Report, file: &ReportFile) -> Result<(), ReportError> {
        let kind = report.event.kind.name();
        let profile_type = if file.is_base() {
            format!("{kind}_base")
        } else {
            kind.to_owned()
        };
        let event_id = report.event.id.to_string();
        let comment = report.event.to_string();
        let mut form = Form::default();
        form.file(
            "profile",
            file.file_name(),
            file.content_type(),
            &file.bytes,
        );
        if let Some(token) = &self.token {
            form.text("token", token);
        }
        form.text("profile_type", &profile_type)
            .text("event_id", &event_id)
            .text("comment", &comment);
        let (content_type, body) = form.finish();
        self.client.post(&self.url, &content_type, &body)
    }
}

/// The files an upload sends: the pprof files, else the text reports, else everything.
pub(crate) fn files_to_send(report: &Report) -> Vec<&ReportFile> {
    let pprof: Vec<&ReportFile> = report.pprof_files().collect();
    if !pprof.is_empty() {
        return pprof;
    }
    let text: Vec<&ReportFile> = report.files.iter().filter(|f| f.is_text()).collect();
    if !text.is_empty() {
        return text;
    }
    report.files.iter().collect()
}

impl Reporter for HttpReporter {
    fn name(&self) -> &str {
        "http"
    }

    fn check(&self) -> Result<(), ReportError> {
        check_url(&self.url)
    }

    fn report(&mut self, report: &Report) -> Result<(), ReportError> {
        let mut first_err = None;
        for file in files_to_send(report) {
            match (self.post_file(report, file), &first_err) {
                (Ok(()), _) => {}
                // The first error is returned (and logged by the reporter thread).
                (Err(e), None) => first_err = Some(e),
                (Err(e), Some(_)) => log::warn!(
                    target: "holmes",
                    "holmes http reporter: uploading {} of dump #{} to {} failed: {}",
                    Escaped(file.file_name()),
                    report.event.id,
                    Escaped(&redact(&self.url)),
                    Escaped(&e.to_string())
                ),
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
