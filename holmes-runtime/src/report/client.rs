//! The HTTP client shared by the built-in reporters: one bounded POST with bounded,
//! selective retries.
//!
//! - Timeout: one end-to-end budget per attempt (DNS, connect, TLS, request, response).
//! - Retried: transport failures that may pass (refused, reset, timeout, DNS, a broken
//!   response) and HTTP 5xx, 429 and 408. Not retried: other statuses, TLS and
//!   certificate errors, invalid URLs: another attempt would fail the same way.
//! - Backoff: 250 ms × 2ⁿ with up to 25 % jitter (a fleet that failed together does not
//!   retry together), capped at 8 s; a `Retry-After: <seconds>` answer is honoured up
//!   to 10 s.
//! - Redirects are not followed: they would drop the `Authorization` header or turn the
//!   POST into a GET. A 3xx fails like any other non-success status.
//! - TLS: only with one of the features `tls-ring`, `tls-aws-lc` (rustls with that
//!   crypto provider, Mozilla's root certificates) or `native-tls` (the platform's TLS
//!   and root certificates); none is on by default. rustls uses the process-wide crypto
//!   provider when the service installed one (`CryptoProvider::install_default`), else
//!   the feature's (aws-lc-rs when both rustls features are on); a rustls feature wins
//!   over `native-tls`. Without TLS an `https://` URL is refused at `start()`
//!   ([`check_url`]) and, for a reporter used on its own, on every POST.

use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::time::Duration;

use super::ReportError;

/// Default end-to-end timeout of one attempt.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of retries after the first attempt.
pub(crate) const DEFAULT_RETRIES: u32 = 2;
/// The first backoff; doubled for each further retry.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// The longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(10);
/// How much of an error response body is kept.
const ERROR_BODY_MAX: u64 = 1024;

/// Settings and connection pool of one reporter.
#[derive(Clone)]
pub(crate) struct HttpClient {
    pub timeout: Duration,
    pub retries: u32,
    /// Extra headers, sent with every request.
    pub headers: Vec<(String, String)>,
    /// Built on first use, so the setters can change the timeout first.
    agent: Option<ureq::Agent>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may hold credentials: print only the names.
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("headers", &names)
            .finish()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient {
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            headers: Vec::new(),
            agent: None,
        }
    }
}

impl HttpClient {
    /// Sets `timeout` (clamped to [`crate::bounds::MAX_REPORT_TIMEOUT`]: ureq adds it
    /// to an `Instant`), dropping a pool built with the old one.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout.min(crate::bounds::MAX_REPORT_TIMEOUT);
        self.agent = None;
    }

    /// Sets a header, replacing one of the same name (case-insensitive).
    pub fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value));
    }

    fn agent(&mut self) -> &ureq::Agent {
        let timeout = self.timeout;
        self.agent.get_or_insert_with(|| {
            let config = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .user_agent(concat!("holmes/", env!("CARGO_PKG_VERSION")));
            #[cfg(any(feature = "tls-ring", feature = "tls-aws-lc", feature = "native-tls"))]
            let config = config.tls_config(tls_config());
            config.build().into()
        })
    }

    /// POSTs `body` to `url`, retrying as the module docs say. Returns the last failure.
    pub fn post(&mut self, url: &str, content_type: &str, body: &[u8]) -> Result<(), ReportError> {
        let mut attempt = 0u32;
        loop {
            let (err, retry_after) = match self.post_once(url, content_type, body) {
                Ok(()) => return Ok(()),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retryable(e, after)) => (e, after),
            };
            if attempt >= self.retries {
                return Err(err);
            }
            let wait = retry_after.unwrap_or_else(|| backoff(attempt));
            log::debug!(
                target: "holmes",
                "holmes reporter: POST {} failed ({err}), retry {} of {} in {wait:?}",
                redact(url),
                attempt + 1,
                self.retries
            );
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn post_once(&mut self, url: &str, content_type: &str, body: &[u8]) -> Result<(), Failure> {
        check_url(url).map_err(Failure::Final)?;
        let mut req = self.agent().post(url).header("Content-Type", content_type);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => {
                let retry = is_transient(&e);
                let e = ReportError::Transport(Box::new(e));
                return Err(if retry {
                    Failure::Retryable(e, None)
                } else {
                    Failure::Final(e)
                });
            }
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            // Drain a little of the body so the connection can be reused.
            let mut sink = Vec::new();
            let _ = resp
                .body_mut()
                .as_reader()
                .take(64 * 1024)
                .read_to_end(&mut sink);
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(RETRY_AFTER_MAX));
        let mut buf = Vec::new();
        let _ = resp
            .body_mut()
            .as_reader()
            .take(ERROR_BODY_MAX)
            .read_to_end(&mut buf);
        let e = ReportError::Http {
            status,
            body: String::from_utf8_lossy(&buf).trim().to_owned(),
        };
        if status >= 500 || status == 429 || status == 408 {
            Err(Failure::Retryable(e, retry_after))
        } else {
            Err(Failure::Final(e))
        }
    }
}

/// Whether this build speaks HTTPS: one of the TLS features is on.
pub(crate) const HAS_TLS: bool = cfg!(any(
    feature = "tls-ring",
    feature = "tls-aws-lc",
    feature = "native-tls"
));

/// Refuses an `https://` URL in a build without TLS ([`ReportError::TlsUnavailable`]).
pub(crate) fn check_url(url: &str) -> Result<(), ReportError> {
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if https && !HAS_TLS {
        return Err(ReportError::TlsUnavailable { url: redact(url) });
    }
    Ok(())
}

/// rustls, with the process-wide crypto provider if the service installed one, else
/// the provider of holmes' feature (aws-lc-rs when both are on): explicit, so that
/// rustls never has to pick one from its crate features (which fails when a build has
/// both).
#[cfg(any(feature = "tls-ring", feature = "tls-aws-lc"))]
fn tls_config() -> ureq::tls::TlsConfig {
    use rustls::crypto::CryptoProvider;
    let provider = CryptoProvider::get_default().cloned().unwrap_or_else(|| {
        #[cfg(feature = "tls-aws-lc")]
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "tls-aws-lc"))]
        let provider = rustls::crypto::ring::default_provider();
        std::sync::Arc::new(provider)
    });
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .build()
}

/// The platform's TLS with the platform's root certificates.
#[cfg(all(
    feature = "native-tls",
    not(any(feature = "tls-ring", feature = "tls-aws-lc"))
))]
fn tls_config() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build()
}

enum Failure {
    /// Another attempt may succeed (after the server's `Retry-After`, if it sent one).
    Retryable(ReportError, Option<Duration>),
    /// Another attempt would fail the same way.
    Final(ReportError),
}

/// Failures that may pass: network trouble and broken responses. Configuration, URL and
/// TLS (certificate) errors do not.
fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::ConnectProxyFailed(_)
            | ureq::Error::BodyStalled
    )
}

/// The wait before retry `attempt` (0-based): 250 ms × 2ⁿ plus up to 25 % jitter, at most 8 s.
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX);
    // Randomly keyed per process and per call: enough to spread a fleet's retries.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let jitter = base.mul_f64((r % 1000) as f64 / 4000.0);
    (base + jitter).min(BACKOFF_MAX)
}

/// A random token of 32 hex digits (multipart boundaries).
pub(crate) fn random_token() -> String {
    let s = std::collections::hash_map::RandomState::new();
    let a = s.build_hasher().finish();
    let mut h = s.build_hasher();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// `url` without its query string and user info, for logs (the query may hold labels,
/// user info may hold a password).
pub(crate) fn redact(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let Some((scheme, rest)) = no_query.split_once("://") else {
        return no_query.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://…@{host}{path}"),
        None => no_query.to_owned(),
    }
}

/// Standard base64 with padding (HTTP basic auth).
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Percent-encodes `s` for a query parameter value (RFC 3986 unreserved bytes stay).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards against: `.timeout(Duration::MAX)` on a reporter panicking (deadline
    // overflow) in the reporter thread on its first upload.
    #[test]
    fn a_huge_timeout_does_not_panic() {
        let mut c = HttpClient::default();
        c.set_timeout(Duration::MAX);
        c.retries = 0;
        // Port 9 (discard) is closed here: the connection is refused at once.
        assert!(c
            .post("http://127.0.0.1:9/ingest", "text/plain", b"x")
            .is_err());
    }

    #[test]
    fn https_without_a_tls_feature_fails_saying_so_without_retrying() {
        let mut c = HttpClient::default();
        let t = std::time::Instant::now();
        let r = c.post("HTTPS://u:p@127.0.0.1:9/ingest?k=v", "text/plain", b"x");
        if HAS_TLS {
            return;
        }
        let e = r.unwrap_err();
        assert!(
            matches!(&e, ReportError::TlsUnavailable { url } if url == "HTTPS://…@127.0.0.1:9/ingest"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("`tls-ring`, `tls-aws-lc` or `native-tls`"),
            "{e}"
        );
        assert!(t.elapsed() < BACKOFF_BASE, "retried: {:?}", t.elapsed());
        assert!(check_url("http://127.0.0.1:9/").is_ok());
    }

    // Guards against: rustls without a crypto provider it may pick (none installed, or
    // both rustls features on) panicking in the reporter thread on the first https://
    // upload. The server closes the connection: the handshake starts, then fails.
    #[test]
    #[cfg(any(feature = "tls-ring", feature = "tls-aws-lc", feature = "native-tls"))]
    fn https_starts_a_handshake_with_the_features_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || drop(listener.accept()));
        let mut c = HttpClient {
            retries: 0,
            ..HttpClient::default()
        };
        let r = c.post(&format!("https://127.0.0.1:{port}/"), "text/plain", b"x");
        assert!(matches!(r, Err(ReportError::Transport(_))), "{r:?}");
        server.join().unwrap();
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn url_encoding_keeps_unreserved_only() {
        assert_eq!(url_encode("app.cpu{a=b,c=d}"), "app.cpu%7Ba%3Db%2Cc%3Dd%7D");
        assert_eq!(url_encode("é "), "%C3%A9%20");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) >= BACKOFF_BASE && backoff(0) <= BACKOFF_BASE.mul_f64(1.25));
        assert!(backoff(1) >= BACKOFF_BASE * 2);
        assert_eq!(backoff(30), BACKOFF_MAX);
    }

    #[test]
    fn redact_drops_query_and_credentials() {
        assert_eq!(
            redact("https://u:p@h:1/ingest?name=x"),
            "https://…@h:1/ingest"
        );
        assert_eq!(redact("http://h/a?b"), "http://h/a");
        assert_eq!(redact("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn random_tokens_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
