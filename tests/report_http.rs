//! The HTTP reporters against a real HTTP/1.1 server on 127.0.0.1, started by each test,
//! that parses what it receives (request line, headers, Content-Length or chunked body,
//! multipart parts) and answers with a programmable status or delay.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use holmes::{HttpReporter, PyroscopeReporter, Report, ReportError, Reporter};
use holmes_runtime::DumpKind;

// ---------------------------------------------------------------------------------------
// The test server.

/// A request as the server decoded it.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded query parameters.
    fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The parts of a `multipart/form-data` body.
    fn parts(&self) -> Vec<Part> {
        let ct = self.header("content-type").expect("content-type");
        let boundary = ct
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("boundary="))
            .expect("boundary")
            .trim_matches('"');
        parse_multipart(&self.body, boundary)
    }
}

#[derive(Clone, Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn part<'a>(parts: &'a [Part], name: &str) -> &'a Part {
    parts
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no part {name:?} in {parts:?}"))
}

fn text(parts: &[Part], name: &str) -> String {
    String::from_utf8(part(parts, name).data.clone()).expect("utf-8 field")
}

/// What the server answers to one request.
#[derive(Clone, Debug)]
enum Answer {
    Status(u16, &'static str),
    /// Read the request, then say nothing for this long.
    Hang(Duration),
}

struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serves on 127.0.0.1; `answer(n, request)` decides the answer to the n-th request
    /// (0-based).
    fn start(answer: impl Fn(usize, &Request) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local_addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = Arc::clone(&requests);
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let reqs = Arc::clone(&reqs);
                let answer = Arc::clone(&answer);
                std::thread::spawn(move || serve(stream, &reqs, &*answer));
            }
        });
        Server { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves requests on one connection until the client closes it.
fn serve(
    stream: TcpStream,
    reqs: &Mutex<Vec<Request>>,
    answer: &(dyn Fn(usize, &Request) -> Answer + Send + Sync),
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        let n = {
            let mut r = reqs.lock().unwrap();
            r.push(req.clone());
            r.len() - 1
        };
        match answer(n, &req) {
            Answer::Status(status, body) => {
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if writer.write_all(resp.as_bytes()).is_err() {
                    return;
                }
            }
            Answer::Hang(d) => {
                std::thread::sleep(d);
                return;
            }
        }
    }
}

/// Reads one request; `None` at a clean end of the connection.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut it = line.trim_end().splitn(3, ' ');
    let method = it.next()?.to_owned();
    let target = it.next()?.to_owned();
    assert_eq!(it.next(), Some("HTTP/1.1"), "request line {line:?}");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').expect("header line");
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let size =
                usize::from_str_radix(size.trim().split(';').next()?, 16).expect("chunk size");
            let mut chunk = vec![0; size + 2]; // data + CRLF
            r.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break; // (no trailers from these clients)
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().expect("content-length");
        body.resize(len, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, delim.as_bytes()).expect("first boundary");
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break; // closing delimiter
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after boundary");
        let end = find(rest, format!("\r\n{delim}").as_bytes()).expect("next boundary");
        let raw = &rest[..end];
        rest = &rest[end + 2 + delim.len()..];
        let head_end = find(raw, b"\r\n\r\n").expect("part headers");
        let head = std::str::from_utf8(&raw[..head_end]).expect("utf-8 part headers");
        let mut p = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: raw[head_end + 4..].to_vec(),
        };
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':').expect("part header");
            if k.eq_ignore_ascii_case("content-disposition") {
                for param in v.split(';').map(str::trim) {
                    if let Some(n) = param.strip_prefix("name=") {
                        p.name = n.trim_matches('"').to_owned();
                    } else if let Some(f) = param.strip_prefix("filename=") {
                        p.filename = Some(f.trim_matches('"').to_owned());
                    }
                }
            } else if k.eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(p);
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("utf-8 escape");
                out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 query")
}

// ---------------------------------------------------------------------------------------
// Reports.

/// The pprof payloads: gzip of distinct, recognisable bytes.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("the profile part is gzip");
    out
}

const T0: u64 = 1_780_000_000;

fn heap_report() -> Report {
    Report::for_test(
        42,
        DumpKind::Heap,
        UNIX_EPOCH + Duration::from_millis(T0 * 1000 + 250),
        Duration::from_millis(2),
        vec![
            (
                PathBuf::from("/tmp/holmes/heap.20260528-000000.250.7.pb.gz"),
                gzip(b"peak heap profile"),
            ),
            (
                PathBuf::from("/tmp/holmes/heap.20260528-000000.250.7.base.pb.gz"),
                gzip(b"baseline heap profile"),
            ),
            (
                PathBuf::from("/tmp/holmes/heap.20260528-000000.250.7.txt"),
                b"text report".to_vec(),
            ),
        ],
    )
}

fn cpu_report() -> Report {
    Report::for_test(
        9,
        DumpKind::Cpu,
        UNIX_EPOCH + Duration::from_secs(T0),
        Duration::from_secs(5),
        vec![(
            PathBuf::from("/tmp/holmes/cpu.20260528-000000.000.7.pb.gz"),
            gzip(b"cpu profile"),
        )],
    )
}

fn ok_server() -> Server {
    Server::start(|_, _| Answer::Status(200, "ok"))
}

// ---------------------------------------------------------------------------------------
// HttpReporter.

#[test]
fn http_reporter_posts_the_go_fields_one_request_per_pprof_file() {
    let server = ok_server();
    let mut r = HttpReporter::new(server.url("/upload"))
        .token("tok-1")
        .header("X-Fleet", "blue");
    r.report(&heap_report()).expect("upload");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one POST per pprof file, not the text file");
    for (req, (kind, payload, suffix)) in reqs.iter().zip([
        ("heap", &b"peak heap profile"[..], ".7.pb.gz"),
        ("heap_base", &b"baseline heap profile"[..], ".7.base.pb.gz"),
    ]) {
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/upload");
        assert_eq!(req.header("x-fleet"), Some("blue"));
        assert!(req
            .header("user-agent")
            .is_some_and(|u| u.starts_with("holmes/")));
        let parts = req.parts();
        let profile = part(&parts, "profile");
        assert!(
            profile
                .filename
                .as_deref()
                .is_some_and(|f| f.ends_with(suffix)),
            "{profile:?}"
        );
        assert_eq!(
            profile.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(gunzip(&profile.data), payload);
        assert_eq!(text(&parts, "profile_type"), kind);
        assert_eq!(text(&parts, "event_id"), "42");
        assert_eq!(text(&parts, "token"), "tok-1");
        let comment = text(&parts, "comment");
        assert!(
            comment.starts_with("[holmes] dump heap #42: heap rule"),
            "{comment}"
        );
        assert!(!comment.contains('\n'));
    }
}

#[test]
fn http_reporter_sends_the_text_file_when_there_is_no_pprof() {
    let server = ok_server();
    let report = Report::for_test(
        5,
        DumpKind::Threads,
        SystemTime::now(),
        Duration::from_millis(30),
        vec![
            (
                PathBuf::from("/d/threads.x.txt"),
                b"thread 1: main".to_vec(),
            ),
            (PathBuf::from("/d/threads.x.svg"), b"<svg/>".to_vec()),
        ],
    );
    HttpReporter::new(server.url("/u"))
        .bearer("abc")
        .report(&report)
        .expect("upload");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer abc"));
    let parts = reqs[0].parts();
    let profile = part(&parts, "profile");
    assert_eq!(profile.filename.as_deref(), Some("threads.x.txt"));
    assert_eq!(profile.data, b"thread 1: main");
    assert_eq!(text(&parts, "profile_type"), "threads");
    assert!(
        parts.iter().all(|p| p.name != "token"),
        "no token set, none sent"
    );
}

#[test]
fn retries_on_500_then_succeeds() {
    let server = Server::start(|n, _| {
        if n < 2 {
            Answer::Status(500, "busy")
        } else {
            Answer::Status(200, "ok")
        }
    });
    let mut r = HttpReporter::new(server.url("/u")).retries(2);
    r.report(&cpu_report()).expect("third attempt succeeds");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn gives_up_after_the_retries_with_the_last_status() {
    let server = Server::start(|_, _| Answer::Status(503, "down for maintenance"));
    let err = HttpReporter::new(server.url("/u"))
        .retries(1)
        .report(&cpu_report())
        .unwrap_err();
    assert_eq!(server.requests().len(), 2);
    match err {
        ReportError::Http { status, body } => {
            assert_eq!(status, 503);
            assert_eq!(body, "down for maintenance");
        }
        e => panic!("expected an HTTP error, got {e:?}"),
    }
}

#[test]
fn no_retry_on_400() {
    let server = Server::start(|_, _| Answer::Status(400, "bad token"));
    let err = HttpReporter::new(server.url("/u"))
        .retries(3)
        .report(&cpu_report())
        .unwrap_err();
    assert!(
        matches!(err, ReportError::Http { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_server_that_never_answers_fails_within_the_timeout() {
    let server = Server::start(|_, _| Answer::Hang(Duration::from_secs(20)));
    let t = Instant::now();
    let err = HttpReporter::new(server.url("/u"))
        .timeout(Duration::from_millis(500))
        .retries(1)
        .report(&cpu_report())
        .unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, ReportError::Transport(_)), "{err:?}");
    // Two attempts of 0.5 s and one backoff of at most ~0.3 s; loose bounds.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(server.requests().len(), 2, "a timeout is retried");
}

#[test]
fn a_closed_port_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again here
    let t = Instant::now();
    let err = HttpReporter::new(format!("http://127.0.0.1:{port}/u"))
        .retries(1)
        .report(&cpu_report())
        .unwrap_err();
    assert!(matches!(err, ReportError::Transport(_)), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------
// PyroscopeReporter.

#[test]
fn pyroscope_ingest_url_labels_window_and_profile() {
    let server = ok_server();
    let mut r = PyroscopeReporter::new(server.url("/base/"), "checkout")
        .labels([("env", "prod"), ("region", "eu-west-1")])
        .tenant("team-a")
        .basic_auth("user", "pass");
    r.report(&cpu_report()).expect("push");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert!(req.target.starts_with("/base/ingest?"), "{}", req.target);
    assert_eq!(
        req.param("name").as_deref(),
        Some("checkout{holmes_dump=cpu,env=prod,region=eu-west-1}")
    );
    assert_eq!(req.param("from"), Some(T0.to_string()));
    assert_eq!(req.param("until"), Some((T0 + 5).to_string()));
    assert_eq!(req.param("spyName").as_deref(), Some("holmes"));
    // Pyroscope reads a multipart body only without `format` (format=pprof = raw body).
    assert_eq!(req.param("format"), None);
    assert_eq!(req.header("x-scope-orgid"), Some("team-a"));
    // base64("user:pass")
    assert_eq!(req.header("authorization"), Some("Basic dXNlcjpwYXNz"));
    assert!(req
        .header("content-type")
        .is_some_and(|c| c.starts_with("multipart/form-data; boundary=")));
    let parts = req.parts();
    assert_eq!(gunzip(&part(&parts, "profile").data), b"cpu profile");
    let stc = text(&parts, "sample_type_config");
    assert!(
        stc.contains(r#""samples":{"units":"samples","display-name":"cpu""#),
        "{stc}"
    );
}

#[test]
fn pyroscope_pushes_peak_and_baseline_as_two_series_and_skips_text() {
    let server = ok_server();
    PyroscopeReporter::new(server.url(""), "svc")
        .bearer("t0k")
        .report(&heap_report())
        .expect("push");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer t0k"));
    assert_eq!(
        reqs[0].param("name").as_deref(),
        Some("svc{holmes_dump=heap}")
    );
    assert_eq!(
        reqs[1].param("name").as_deref(),
        Some("svc{holmes_dump=heap_base}")
    );
    // A 2 ms capture still spans one second.
    assert_eq!(reqs[0].param("from"), Some(T0.to_string()));
    assert_eq!(reqs[0].param("until"), Some((T0 + 1).to_string()));
    assert_eq!(
        gunzip(&part(&reqs[0].parts(), "profile").data),
        b"peak heap profile"
    );
    assert_eq!(
        gunzip(&part(&reqs[1].parts(), "profile").data),
        b"baseline heap profile"
    );
    let stc = text(&reqs[0].parts(), "sample_type_config");
    assert!(
        stc.contains(r#""alloc_space":{"units":"bytes"}"#),
        "not cumulative: {stc}"
    );
}

#[test]
fn pyroscope_retries_429_and_stops_on_401() {
    let server = Server::start(|n, _| match n {
        0 => Answer::Status(429, "slow down"),
        1 => Answer::Status(200, "ok"),
        _ => Answer::Status(401, "no"),
    });
    let mut r = PyroscopeReporter::new(server.url(""), "svc").retries(2);
    r.report(&cpu_report()).expect("second attempt succeeds");
    assert_eq!(server.requests().len(), 2);
    let err = r.report(&cpu_report()).unwrap_err();
    assert!(
        matches!(err, ReportError::Http { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 3);
}
