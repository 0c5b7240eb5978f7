//! The demo service (`examples/http_service.rs`) in a child process, for the tests that
//! drive it over HTTP: `acceptance.rs` (the Go scenarios) and `debug_endpoint.rs`
//! (holmes' debug endpoint, on the service's admin listener). Not every test uses all of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for the service to listen, and for a dump.
pub const STARTUP: Duration = Duration::from_secs(15);
pub const DUMP_WAIT: Duration = Duration::from_secs(20);

/// The rule variables: every test switches off the rules it does not exercise, so no
/// other dump (a CPU profile takes the dumper for a while) gets in the way.
const RULES: [&str; 5] = [
    "HOLMES_CPU",
    "HOLMES_MEM",
    "HOLMES_HEAP",
    "HOLMES_THREADS",
    "HOLMES_TASKS",
];

/// The demo service in a child process, killed when dropped (on every path, panics
/// included).
pub struct Service {
    child: Child,
    pub port: u16,
    /// The port of holmes' debug endpoint (the admin listener).
    pub admin_port: u16,
    pub dir: PathBuf,
    stderr: Arc<Mutex<String>>,
    /// Connections of requests that never answer, kept open until the end.
    open: Vec<TcpStream>,
}

impl Service {
    /// Starts `http_service` on a free port with a 100 ms interval, dumps in a fresh
    /// directory, every rule off but those `env` sets, and waits for `listening on`.
    pub fn start(test: &str, env: &[(&str, &str)]) -> Service {
        let dir = crate::common::fresh_dir(&format!("accept-{test}"));
        let mut cmd = Command::new(crate::common::scenario_bin("http_service"));
        cmd.env("PORT", "0")
            .env("ADMIN_PORT", "0")
            .env("RUST_LOG", "holmes=info")
            .env("HOLMES_INTERVAL", "100ms")
            .env("HOLMES_DUMP_DIR", &dir);
        for rule in RULES {
            cmd.env(rule, "off");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn http_service");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let pipe = child.stderr.take().expect("stderr");
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stdout.take().expect("stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let port = |prefix: &str, suffix: &str| {
                        line.strip_prefix(prefix)
                            .and_then(|p| p.trim().strip_suffix(suffix))
                            .and_then(|p| p.parse::<u16>().ok())
                    };
                    if let Some(p) = port("listening on http://127.0.0.1:", "") {
                        let _ = tx.send((false, p));
                    }
                    if let Some(p) = port("debug endpoint on http://127.0.0.1:", "/debug/holmes/") {
                        let _ = tx.send((true, p));
                    }
                }
            });
        }
        let mut service = Service {
            child,
            port: 0,
            admin_port: 0,
            dir,
            stderr,
            open: Vec::new(),
        };
        while service.port == 0 || service.admin_port == 0 {
            match rx.recv_timeout(STARTUP) {
                Ok((false, p)) => service.port = p,
                Ok((true, p)) => service.admin_port = p,
                Err(_) => panic!(
                    "no `listening on` and `debug endpoint on` lines; stderr:\n{}",
                    service.log()
                ),
            }
        }
        service
    }

    /// `GET path`, reading the whole answer (the server closes the connection).
    pub fn get(&self, path: &str) -> String {
        let mut s = self.send(path);
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .unwrap_or_else(|e| panic!("GET {path}: {e}; stderr:\n{}", self.log()));
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "GET {path}: {answer}\nstderr:\n{}",
            self.log()
        );
        answer
    }

    /// `GET path` without waiting for the answer; the connection stays open until the
    /// service is dropped (the route may never answer).
    pub fn fire(&mut self, path: &str) {
        let s = self.send(path);
        self.open.push(s);
    }

    pub fn send(&self, path: &str) -> TcpStream {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect: {e}; stderr:\n{}", self.log()));
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("write the request");
        s
    }

    /// The first `<kind>.*<suffix>` dump (not a `.base.pb.gz` baseline), within the bound.
    pub fn wait_dump(&self, kind: &str, suffix: &str) -> PathBuf {
        let start = Instant::now();
        while start.elapsed() < DUMP_WAIT {
            if let Some(p) = self.dumps(kind, suffix).into_iter().next() {
                return p;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no {kind}.*{suffix} in {} after {DUMP_WAIT:?}: {:?}\nstderr:\n{}",
            self.dir.display(),
            crate::common::files(&self.dir, "", ""),
            self.log()
        )
    }

    /// The `<kind>.*<suffix>` dumps, oldest first (the names carry the time).
    pub fn dumps(&self, kind: &str, suffix: &str) -> Vec<PathBuf> {
        crate::common::files(&self.dir, &format!("{kind}."), suffix)
            .into_iter()
            .filter(|p| {
                suffix.ends_with(".base.pb.gz") || !p.to_string_lossy().ends_with(".base.pb.gz")
            })
            .collect()
    }

    pub fn log(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Kills the service and removes its dumps (after a passing test).
    pub fn finish(mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP answer: status code, header lines, body.
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// `GET target` on `127.0.0.1:port` with extra header lines, over HTTP/1.1 with
/// `Connection: close`; the body as sent (`Content-Length`) or de-chunked.
pub fn http_get(port: u16, target: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write the request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut body = raw[end + 4..].to_vec();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = headers.replace("\r\n", "\n");
    let chunked = headers
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..i]).trim(), 16)
                .expect("chunk size");
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[i + 2..i + 2 + size]);
            rest = &rest[i + 2 + size + 2..];
        }
        body = out;
    }
    Answer {
        status,
        headers,
        body,
    }
}
