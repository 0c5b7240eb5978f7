//! holmes' debug endpoint (feature `http`): Go's `net/http/pprof` for a Rust service,
//! plus holmes' own status, metrics, dumps and a page for people.
//!
//! [`router`] (or [`DebugRouter`] for options) returns an [`axum::Router`] to mount on
//! the service's admin listener. holmes never starts a server itself. Routes:
//!
//! | route | answer |
//! |---|---|
//! | `/debug/pprof/profile?seconds=N` | CPU profile, gzipped pprof (`go tool pprof http://…` works); `N` 1 to [`DebugRouter::max_profile_duration`], default 30 |
//! | `/debug/pprof/heap` | heap profile (needs [`crate::Allocator`]) |
//! | `/debug/pprof/threads` | every thread's stack; `?debug=1`: text, like Go's `goroutine?debug=2` |
//! | `/debug/pprof/tasks` | the serving tokio runtime's tasks; `?debug=1`: text |
//! | `/debug/holmes/` | the page: rules, recent samples, dumps with culprits and flamegraphs |
//! | `/debug/holmes/status` | [`crate::Status`] as JSON |
//! | `/debug/holmes/metrics` | Prometheus text exposition of the status |
//! | `/debug/holmes/dumps` | the dumps holmes wrote, JSON, newest first |
//! | `/debug/holmes/dumps/<name>` | one file holmes wrote in its dump directory |
//!
//! Contracts:
//! - **Nothing on the sampler's path.** The router reads [`Handle::current`] when a
//!   request comes; holmes' threads know nothing of it.
//! - **Bounded.** One CPU profile at a time in the process (holmes' own captures
//!   included): a second request gets `429 Too Many Requests` with `Retry-After`, and
//!   the running one is not disturbed. The other captures (heap, threads, tasks) run one
//!   at a time too (`429` else): each loads symbol tables. Every capture runs on a
//!   blocking thread under a deadline (`503` past it). A download is at most
//!   [`MAX_DOWNLOAD`] bytes; the page and the list show at most [`MAX_LISTED`] dumps.
//! - **Only holmes' files.** `/debug/holmes/dumps/<name>` serves a regular file named as
//!   holmes names dumps, in the dump directory, owned by this user, opened without
//!   following symlinks; anything else is `404`.
//! - **Bad input is `400`** with a message saying what is accepted.
//! - **Optional auth.** With [`DebugRouter::bearer_token`], every route needs
//!   `Authorization: Bearer <token>`, or HTTP Basic auth with the token as password (any
//!   user name) so that a browser and `go tool pprof http://holmes:<token>@host/…` work;
//!   else `401`. Compared in constant time.

mod dumps;
mod metrics;
mod page;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::guard::Handle;
use crate::on_demand::{Profile, ProfileError};

/// The largest dump file `/debug/holmes/dumps/<name>` sends.
pub const MAX_DOWNLOAD: u64 = 256 << 20;
/// The most dumps the page and `/debug/holmes/dumps` list (the newest).
pub const MAX_LISTED: usize = 100;
/// How long a heap, thread or task capture may take before the request gets `503`.
const CAPTURE_DEADLINE: Duration = Duration::from_secs(30);
/// Go's default CPU profile length.
const DEFAULT_PROFILE: Duration = Duration::from_secs(30);
/// The shortest `max_profile_duration`.
const PROFILE_FLOOR: Duration = Duration::from_secs(1);

/// Options of the debug router; [`router`] is `DebugRouter::new().into_router()`.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let admin = holmes_runtime::http::DebugRouter::new()
///     .bearer_token(std::env::var("ADMIN_TOKEN").unwrap_or_default())
///     .into_router();
/// // A separate listener on the loopback interface: not the service's public port.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
/// # let _ = (admin, listener);
/// // axum::serve(listener, admin).await
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DebugRouter {
    token: Option<String>,
    max_profile: Duration,
    dump_dir: Option<PathBuf>,
    env_overrides: bool,
}

impl std::fmt::Debug for DebugRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugRouter")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("max_profile", &self.max_profile)
            .field("dump_dir", &self.dump_dir)
            .field("env_overrides", &self.env_overrides)
            .finish()
    }
}

impl Default for DebugRouter {
    fn default() -> Self {
        DebugRouter {
            token: None,
            max_profile: Duration::from_secs(60),
            dump_dir: None,
            env_overrides: true,
        }
    }
}

/// The environment variables [`DebugRouter::into_router`] reads (unless
/// [`DebugRouter::env_overrides`]`(false)`), applied over the code's options like holmes'
/// own [`ENV_VARS`](crate::ENV_VARS); a malformed value is logged at warn level and
/// ignored.
///
/// | variable | value |
/// |---|---|
/// | `HOLMES_DEBUG_TOKEN` | the token ([`DebugRouter::bearer_token`]) |
/// | `HOLMES_DEBUG_MAX_PROFILE` | a duration, `1s` to [`bounds::MAX_CPU_PROFILE`](crate::bounds::MAX_CPU_PROFILE) ([`DebugRouter::max_profile_duration`]) |
pub const ENV_VARS: &[&str] = &["HOLMES_DEBUG_TOKEN", "HOLMES_DEBUG_MAX_PROFILE"];

impl DebugRouter {
    /// No token, CPU profiles of at most 60 s, the running holmes' dump directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `Authorization: Bearer <token>` (or Basic auth with `token` as the
    /// password) on every route. An empty token is no token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        let t = token.into();
        self.token = (!t.is_empty()).then_some(t);
        self
    }

    /// The longest CPU profile `?seconds=` may ask for: default 60 s; from 1 s to
    /// [`bounds::MAX_CPU_PROFILE`](crate::bounds::MAX_CPU_PROFILE), a value outside is
    /// brought to the nearest bound (and logged).
    pub fn max_profile_duration(mut self, max: Duration) -> Self {
        self.max_profile = max;
        self
    }

    /// Whether [`into_router`](Self::into_router) applies the [`ENV_VARS`] (default
    /// on).
    pub fn env_overrides(mut self, on: bool) -> Self {
        self.env_overrides = on;
        self
    }

    /// The options with the [`ENV_VARS`] `var` gives applied, and a warning for each
    /// malformed one.
    fn apply_env(mut self, var: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        if let Some(t) = var("HOLMES_DEBUG_TOKEN") {
            if t.trim().is_empty() {
                warnings.push("HOLMES_DEBUG_TOKEN is empty; ignored".to_owned());
            } else {
                self.token = Some(t);
            }
        }
        if let Some(v) = var("HOLMES_DEBUG_MAX_PROFILE") {
            match holmes_settings::parse_duration(&v) {
                Ok(d) if (PROFILE_FLOOR..=crate::bounds::MAX_CPU_PROFILE).contains(&d) => {
                    self.max_profile = d
                }
                Ok(d) => warnings.push(format!(
                    "HOLMES_DEBUG_MAX_PROFILE={} ignored: {d:?} is outside 1s..={:?}",
                    crate::escape::Escaped(&v),
                    crate::bounds::MAX_CPU_PROFILE
                )),
                Err(e) => warnings.push(format!(
                    "HOLMES_DEBUG_MAX_PROFILE ignored: {}",
                    crate::escape::Escaped(&e)
                )),
            }
        }
        (self, warnings)
    }

    /// The dump directory to list and serve when no holmes runs in the process (by
    /// default the running holmes' own; none without one).
    pub fn dump_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dump_dir = Some(dir.into());
        self
    }

    /// The router, its routes under `/debug/pprof/` and `/debug/holmes/`.
    pub fn into_router(self) -> axum::Router {
        let mut this = self;
        if this.env_overrides {
            let (applied, warnings) = this.apply_env(|k| std::env::var(k).ok());
            for w in warnings {
                log::warn!(target: "holmes", "{w}");
            }
            this = applied;
        }
        let max = this
            .max_profile
            .clamp(PROFILE_FLOOR, crate::bounds::MAX_CPU_PROFILE);
        if max != this.max_profile {
            log::warn!(
                target: "holmes",
                "debug router: max_profile_duration {:?} is outside 1s..={:?}; using {max:?}",
                this.max_profile,
                crate::bounds::MAX_CPU_PROFILE
            );
        }
        let state = Arc::new(Inner {
            token: this.token,
            max_profile: max,
            dump_dir: this.dump_dir,
            capturing: AtomicBool::new(false),
        });
        axum::Router::new()
            .route("/debug/pprof/", get(pprof_index))
            .route("/debug/pprof/profile", get(cpu))
            .route("/debug/pprof/heap", get(heap))
            .route("/debug/pprof/threads", get(threads))
            .route("/debug/pprof/tasks", get(tasks))
            .route(
                "/debug/holmes",
                get(|| async { Redirect::permanent("/debug/holmes/") }),
            )
            .route("/debug/holmes/", get(page))
            .route("/debug/holmes/status", get(status))
            .route("/debug/holmes/metrics", get(prometheus))
            .route("/debug/holmes/dumps", get(list_dumps))
            .route("/debug/holmes/dumps/{name}", get(download))
            .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
            .with_state(state)
    }
}

/// The debug router with the defaults ([`DebugRouter::new`]).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
/// # let _ = listener;
/// // axum::serve(listener, holmes_runtime::http::router()).await
/// # Ok(()) }
/// ```
pub fn router() -> axum::Router {
    DebugRouter::new().into_router()
}

struct Inner {
    token: Option<String>,
    max_profile: Duration,
    dump_dir: Option<PathBuf>,
    /// Held by the one heap, thread or task capture in progress.
    capturing: AtomicBool,
}

type Shared = State<Arc<Inner>>;

impl Inner {
    fn dump_dir(&self) -> Option<PathBuf> {
        Handle::current()
            .map(|h| h.dump_dir().to_path_buf())
            .or_else(|| self.dump_dir.clone())
    }
}

/// Frees [`Inner::capturing`] when the capture ends, even when the request was dropped.
struct CaptureSlot(Arc<Inner>);

impl CaptureSlot {
    fn take(inner: &Arc<Inner>) -> Option<CaptureSlot> {
        inner
            .capturing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| CaptureSlot(inner.clone()))
    }
}

impl Drop for CaptureSlot {
    fn drop(&mut self) {
        self.0.capturing.store(false, Ordering::Release);
    }
}

async fn authorize(State(inner): Shared, req: Request, next: Next) -> Response {
    match &inner.token {
        Some(token) if !authorized(req.headers(), token) => {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "holmes: this endpoint needs `Authorization: Bearer <token>` (or Basic auth with the token as password)\n",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"holmes\", charset=\"UTF-8\""),
            );
            r
        }
        _ => next.run(req).await,
    }
}

/// True when the request carries `token` as a bearer token or a Basic password.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return constant_time_eq(rest.as_bytes(), token.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => return false,
        };
        return constant_time_eq(password, token.as_bytes());
    }
    false
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn bad_request(msg: impl std::fmt::Display) -> Response {
    text(StatusCode::BAD_REQUEST, format!("holmes: {msg}\n"))
}

/// The value of `key` in a query string (`a=1&b=2`), without percent-decoding: every
/// value holmes reads is a number.
fn param<'q>(query: Option<&'q str>, key: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `?debug=`: 0 (pprof, the default) or 1 and 2 (text). `Err`: what is accepted.
fn debug_text(query: Option<&str>) -> Result<bool, String> {
    match param(query, "debug") {
        None | Some("0") => Ok(false),
        Some("1") | Some("2") => Ok(true),
        Some(v) => Err(format!("debug must be 0 (pprof), 1 or 2 (text), not {v:?}")),
    }
}

/// `?seconds=`: a whole number of seconds from 1 to `max` (Go's parameter). `Err`: what
/// is accepted.
fn seconds(query: Option<&str>, max: Duration) -> Result<Duration, String> {
    let Some(v) = param(query, "seconds") else {
        return Ok(DEFAULT_PROFILE.min(max));
    };
    match v.parse::<u64>() {
        Ok(s) if s >= 1 && Duration::from_secs(s) <= max => Ok(Duration::from_secs(s)),
        _ => Err(format!(
            "seconds must be a whole number from 1 to {}, not {v:?}",
            max.as_secs()
        )),
    }
}

/// The profile as gzipped pprof, or as text with `as_text`.
fn profile_response(p: Profile, as_text: bool, name: &str) -> Response {
    if as_text {
        return text(StatusCode::OK, p.to_text());
    }
    match p.to_pprof_gz() {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.pb.gz\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("holmes: cannot encode the profile: {e}\n"),
        ),
    }
}

fn profile_error(e: ProfileError, retry: Duration) -> Response {
    let status = match e {
        ProfileError::Busy => {
            let mut r = text(StatusCode::TOO_MANY_REQUESTS, format!("holmes: {e}\n"));
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry.as_secs().max(1)),
            );
            return r;
        }
        ProfileError::Unsupported { .. } | ProfileError::NoAllocator => StatusCode::NOT_IMPLEMENTED,
        ProfileError::InvalidDuration { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, format!("holmes: {e}\n"))
}

/// Runs `f` on a blocking thread with a deadline.
async fn blocking<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("holmes: the capture failed: {e}\n"),
        )),
        Err(_) => Err(text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("holmes: no answer within {deadline:?}\n"),
        )),
    }
}

async fn pprof_index() -> Response {
    text(
        StatusCode::OK,
        "holmes profiles on demand:\n\
         profile?seconds=30   CPU profile (pprof)\n\
         heap                 heap profile (pprof; ?debug=1: text)\n\
         threads?debug=1      every thread's stack (text; without debug: pprof)\n\
         tasks?debug=1        the tokio tasks (text; without debug: pprof)\n\
         ../holmes/           holmes' page: rules, dumps, flamegraphs\n",
    )
}

async fn cpu(State(inner): Shared, RawQuery(q): RawQuery) -> Response {
    let q = q.as_deref();
    let (d, as_text) = match (seconds(q, inner.max_profile), debug_text(q)) {
        (Ok(d), Ok(t)) => (d, t),
        (Err(msg), _) | (_, Err(msg)) => return bad_request(msg),
    };
    match blocking(d + CAPTURE_DEADLINE, move || {
        crate::on_demand::profile_cpu(d)
    })
    .await
    {
        Ok(Ok(p)) => profile_response(p, as_text, "cpu"),
        Ok(Err(e)) => profile_error(e, d),
        Err(r) => r,
    }
}

/// One heap, thread or task capture at a time (`429` else).
async fn capture(
    inner: Arc<Inner>,
    as_text: bool,
    name: &'static str,
    f: impl FnOnce() -> Result<Profile, ProfileError> + Send + 'static,
) -> Response {
    let Some(slot) = CaptureSlot::take(&inner) else {
        return profile_error(ProfileError::Busy, Duration::from_secs(1));
    };
    let result = blocking(CAPTURE_DEADLINE, move || {
        let _slot = slot;
        f()
    })
    .await;
    match result {
        Ok(Ok(p)) => profile_response(p, as_text, name),
        Ok(Err(e)) => profile_error(e, Duration::from_secs(1)),
        Err(r) => r,
    }
}

async fn heap(State(inner): Shared, RawQuery(q): RawQuery) -> Response {
    match debug_text(q.as_deref()) {
        Ok(t) => capture(inner, t, "heap", crate::on_demand::profile_heap).await,
        Err(msg) => bad_request(msg),
    }
}

async fn threads(State(inner): Shared, RawQuery(q): RawQuery) -> Response {
    match debug_text(q.as_deref()) {
        Ok(t) => capture(inner, t, "threads", crate::on_demand::profile_threads).await,
        Err(msg) => bad_request(msg),
    }
}

async fn tasks(State(inner): Shared, RawQuery(q): RawQuery) -> Response {
    let as_text = match debug_text(q.as_deref()) {
        Ok(t) => t,
        Err(msg) => return bad_request(msg),
    };
    let handle = tokio::runtime::Handle::current();
    capture(inner, as_text, "tasks", move || {
        crate::on_demand::profile_tasks(&handle)
    })
    .await
}

fn not_running() -> Response {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "holmes is not running in this process\n",
    )
}

async fn status() -> Response {
    let Some(h) = Handle::current() else {
        return not_running();
    };
    json(&h.status())
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("holmes: cannot encode the answer: {e}\n"),
        ),
    }
}

async fn prometheus() -> Response {
    let status = Handle::current().map(|h| h.status());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(status.as_ref()),
    )
        .into_response()
}

/// Lists the dump directory on a blocking thread (none: nothing to list).
async fn listed(dir: Option<PathBuf>) -> Result<Vec<dumps::DumpEntry>, Response> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    match blocking(CAPTURE_DEADLINE, move || dumps::list(&dir, MAX_LISTED)).await? {
        Ok(list) => Ok(list),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("holmes: cannot list the dump directory: {e}\n"),
        )),
    }
}

async fn page(State(inner): Shared) -> Response {
    let dir = inner.dump_dir();
    let list = match listed(dir.clone()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let status = Handle::current().map(|h| h.status());
    let html = page::render(
        &dir.unwrap_or_default(),
        status.as_ref(),
        &list,
        SystemTime::now(),
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // The page needs its inline style and the flamegraphs of the dump
            // directory, nothing else: no script, no other origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
            ),
        ],
        html,
    )
        .into_response()
}

async fn list_dumps(State(inner): Shared) -> Response {
    let list = match listed(inner.dump_dir()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let entries: Vec<serde_json::Value> = list
        .iter()
        .map(|d| {
            serde_json::json!({
                "stem": d.stem,
                "kind": d.kind,
                "time": humantime::format_rfc3339_millis(d.time).to_string(),
                "pid": d.pid,
                "id": d.header.id,
                "rule": d.header.rule,
                "reason": d.header.reason,
                "current": d.header.current,
                "culprit": d.header.culprit,
                "files": d.files.iter().map(|f| serde_json::json!({
                    "name": f.name,
                    "bytes": f.len,
                    "url": format!("/debug/holmes/dumps/{}", f.name),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json(&entries)
}

async fn download(State(inner): Shared, Path(name): Path<String>) -> Response {
    let not_found = || text(StatusCode::NOT_FOUND, "holmes: no such dump file\n");
    let Some(dir) = inner.dump_dir() else {
        return not_found();
    };
    let content_type = dumps::content_type(&name);
    let read = blocking(CAPTURE_DEADLINE, move || -> Option<Result<Vec<u8>, u64>> {
        use std::io::Read as _;
        let (file, len) = dumps::open(&dir, &name)?;
        if len > MAX_DOWNLOAD {
            return Some(Err(len));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(MAX_DOWNLOAD).read_to_end(&mut bytes).ok()?;
        Some(Ok(bytes))
    });
    match read.await {
        Ok(Some(Ok(bytes))) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // A flamegraph opened on its own runs its search script in a sandbox:
                // an origin of its own, not the endpoint's.
                (header::CONTENT_SECURITY_POLICY, "sandbox allow-scripts"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Some(Err(len))) => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "holmes: the file has {len} bytes, more than the {MAX_DOWNLOAD} this endpoint sends\n"
            ),
        ),
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_environment_overrides_the_code_and_bad_values_are_ignored() {
        let (r, w) = DebugRouter::new().bearer_token("code").apply_env(env(&[
            ("HOLMES_DEBUG_TOKEN", "ops"),
            ("HOLMES_DEBUG_MAX_PROFILE", "2m"),
        ]));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(r.token.as_deref(), Some("ops"));
        assert_eq!(r.max_profile, Duration::from_secs(120));
        let (r, w) = DebugRouter::new().bearer_token("code").apply_env(env(&[
            ("HOLMES_DEBUG_TOKEN", " "),
            ("HOLMES_DEBUG_MAX_PROFILE", "forever"),
        ]));
        assert_eq!(r.token.as_deref(), Some("code"));
        assert_eq!(r.max_profile, Duration::from_secs(60));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("HOLMES_DEBUG_MAX_PROFILE"), "{w:?}");
        let (r, w) = DebugRouter::new().apply_env(env(&[("HOLMES_DEBUG_MAX_PROFILE", "500ms")]));
        assert_eq!(r.max_profile, Duration::from_secs(60));
        assert!(w[0].contains("outside"), "{w:?}");
    }

    #[test]
    fn tokens_are_checked_as_bearer_or_basic_password() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(authorized(&h("Bearer t0ken"), "t0ken"));
        assert!(authorized(&h("bearer  t0ken "), "t0ken"));
        assert!(!authorized(&h("Bearer t0ke"), "t0ken"));
        assert!(!authorized(&h("Bearer t0kenn"), "t0ken"));
        assert!(!authorized(&HeaderMap::new(), "t0ken"));
        // base64("any:t0ken"), base64("t0ken") (no colon), base64(":t0ken").
        assert!(authorized(&h("Basic YW55OnQwa2Vu"), "t0ken"));
        assert!(!authorized(&h("Basic dDBrZW4="), "t0ken"));
        assert!(authorized(&h("Basic OnQwa2Vu"), "t0ken"));
        assert!(!authorized(&h("Basic !!!"), "t0ken"));
        assert!(!authorized(&h("Digest t0ken"), "t0ken"));
    }

    #[test]
    fn query_values_are_checked() {
        let max = Duration::from_secs(60);
        assert_eq!(seconds(None, max), Ok(DEFAULT_PROFILE));
        assert_eq!(
            seconds(Some("seconds=5&gc=1"), max),
            Ok(Duration::from_secs(5))
        );
        assert!(seconds(Some("seconds=61"), max).is_err());
        assert!(seconds(Some("seconds=0"), max).is_err());
        assert!(seconds(Some("seconds=1.5"), max).is_err());
        assert_eq!(debug_text(Some("debug=2")), Ok(true));
        assert_eq!(debug_text(Some("gc=1")), Ok(false));
        assert!(debug_text(Some("debug")).is_err());
    }
}
