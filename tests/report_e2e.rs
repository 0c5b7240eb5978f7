//! End to end: a rule fires in a running holmes and the dump reaches an HTTP backend on
//! 127.0.0.1 through the reporter queue, while a dead backend is only counted.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// Accepts connections, keeps each request's body, answers 200.
fn server() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head_end, len) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (None, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (Some(i + 4), len);
                }
            };
            let Some(start) = head_end else { continue };
            while buf.len() < start + len {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            b.lock().unwrap().push(buf[start..].to_vec());
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

#[test]
fn a_dump_reaches_the_backend_and_a_dead_backend_is_counted() {
    let (url, bodies) = server();
    // A port nobody listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/upload", l.local_addr().unwrap())
    };
    let dir = std::env::temp_dir().join(format!("holmes-report-e2e-{}", std::process::id()));
    let guard = holmes::Holmes::builder()
        .env_overrides(false)
        .interval(Duration::from_millis(50))
        .dump_dir(&dir)
        .threads(
            holmes::Rule::new(15, 25, 30)
                .sustain(3)
                .cooldown(Duration::from_secs(3600)),
        )
        .reporter(
            holmes::HttpReporter::new(&url)
                .token("s3cret")
                .timeout(Duration::from_secs(5)),
        )
        .reporter(
            holmes::HttpReporter::new(&dead)
                .retries(0)
                .timeout(Duration::from_secs(1)),
        )
        .start()
        .expect("start");
    std::thread::sleep(Duration::from_millis(800));
    let n = 40;
    let (started, release) = (Arc::new(Barrier::new(n + 1)), Arc::new(Barrier::new(n + 1)));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (s, r) = (started.clone(), release.clone());
            std::thread::spawn(move || {
                s.wait();
                r.wait();
            })
        })
        .collect();
    started.wait();
    let t0 = Instant::now();
    while guard.status().reports.submitted == 0 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    release.wait();
    for t in threads {
        t.join().unwrap();
    }
    // The live backend got it; the dead one (connection refused, no retry) failed it.
    let t0 = Instant::now();
    let mut status = guard.status();
    while status.reports.failed + status.reports.delivered < status.reports.submitted
        && t0.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
        status = guard.status();
    }
    drop(guard);
    assert_eq!(status.dumps, 1, "{status:?}");
    assert_eq!(status.reports.submitted, 1, "{:?}", status.reports);
    assert_eq!(
        status.reports.failed, 1,
        "a report with a failed reporter: {:?}",
        status.reports
    );
    assert_eq!(status.reports.dropped, 0);
    let bodies = bodies.lock().unwrap();
    assert!(!bodies.is_empty(), "nothing reached the backend");
    let body = String::from_utf8_lossy(&bodies[0]);
    for field in [
        "name=\"profile\"",
        "name=\"profile_type\"",
        "threads",
        "name=\"token\"",
        "s3cret",
        "name=\"event_id\"",
    ] {
        assert!(body.contains(field), "{field} missing from the upload");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
