//! holmes' debug endpoint (`holmes::http`, feature `http`) on the demo service's admin
//! listener (`examples/http_service.rs`, `ADMIN_PORT=0`): each test starts the service as
//! a child process and talks to it over real sockets on 127.0.0.1, with the tools an
//! operator uses: `go tool pprof http://…`, a Prometheus parser, a headless browser.
//!
//! `cargo test -p holmes-scenarios --features http --test debug_endpoint`; the page test
//! needs `chromium` (Debian's package; `.ci/run` installs it).
#![cfg(feature = "http")]

mod common;
#[path = "common/service.rs"]
mod service;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use service::{http_get, Answer, Service};

fn handler(name: &str) -> common::SourceFn {
    common::SourceFn::new(
        "../examples/http_service.rs",
        &format!("http_service::{name}"),
    )
}

/// The answer to `GET target` on the debug endpoint, with its status checked.
fn admin(svc: &Service, target: &str, status: u16) -> Answer {
    let a = http_get(svc.admin_port, target, &[]);
    assert_eq!(
        a.status,
        status,
        "GET {target}: {}\n{}\nstderr:\n{}",
        a.headers,
        a.text(),
        svc.log()
    );
    a
}

fn url(svc: &Service, target: &str) -> String {
    format!("http://127.0.0.1:{}{target}", svc.admin_port)
}

/// Writes `bytes` to a file of the service's dump directory's sibling, for pprof.
fn saved(svc: &Service, name: &str, bytes: &[u8]) -> PathBuf {
    let p = svc.dir.with_extension(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

// `go tool pprof http://…/debug/pprof/profile?seconds=N` works as with a Go service and
// names the spinning function; a second CPU profile meanwhile gets 429, and the first is
// unharmed.
#[test]
fn cpu_profile_over_http_names_the_spinner_and_a_second_one_gets_429() {
    let svc = Service::start("debug-cpu", &[]);
    assert!(svc.get("/cpuex").contains("spins forever"));
    let first_url = url(&svc, "/debug/pprof/profile?seconds=3");
    let first =
        std::thread::spawn(move || common::pprof_top_functions(Path::new(&first_url), &[], 3));
    // go tool pprof starts, connects, and the capture holds the process's CPU profiler
    // for 3 s: a request in the middle of it is refused at once.
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let second = admin(&svc, "/debug/pprof/profile?seconds=1", 429);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "429 must not wait"
    );
    assert!(second.header("retry-after").is_some(), "{}", second.headers);
    assert!(
        second.text().contains("another CPU profile"),
        "{}",
        second.text()
    );
    let top = first.join().expect("go tool pprof");
    assert!(
        top.iter().any(|f| f.contains("cpu_explode_spin")),
        "the first profile must name the spinner: {top:#?}"
    );
    // And once it is over, the next one is served.
    let third = admin(&svc, "/debug/pprof/profile?seconds=1", 200);
    assert_eq!(&third.body[..2], &[0x1f, 0x8b], "gzipped pprof");
    svc.finish();
}

// `/debug/pprof/heap` is a heap profile from holmes' sampling allocator; the map
// builder's allocations lead its `alloc_space`.
#[test]
fn heap_profile_over_http_names_the_allocating_handler() {
    // A heap rule that never fires keeps the allocator sampling.
    let svc = Service::start("debug-heap", &[("HOLMES_HEAP", "99,1000,99")]);
    assert!(svc.get("/alloc").contains("built a map"));
    let heap = admin(&svc, "/debug/pprof/heap", 200);
    let file = saved(&svc, "heap.pb.gz", &heap.body);
    let (bytes, pct, text) = common::cum_of(
        &file,
        &["-sample_index=alloc_space", "-unit=MB"],
        &handler("build_huge_map_handler"),
    );
    assert!(
        bytes > 50.0 && pct > 50.0,
        "the map builder must lead alloc_space ({bytes} MB, {pct:.0} %):\n{text}"
    );
    // go tool pprof reads it from the URL too.
    let top = common::pprof(
        &["-top", "-sample_index=alloc_space"],
        Path::new(&url(&svc, "/debug/pprof/heap")),
    );
    assert!(top.contains("alloc_space"), "{top}");
    let text = admin(&svc, "/debug/pprof/heap?debug=1", 200).text();
    assert!(text.starts_with("holmes heap profile at"), "{text}");
    let _ = std::fs::remove_file(file);
    svc.finish();
}

// `/debug/pprof/threads?debug=1` lists every thread by name, like Go's
// `goroutine?debug=2`; without `debug` it is a pprof profile of thread counts.
#[test]
fn thread_dump_over_http_lists_a_parked_thread_by_name() {
    let svc = Service::start("debug-threads", &[]);
    assert!(svc.get("/threads").contains("parked 500"));
    let text = admin(&svc, "/debug/pprof/threads?debug=1", 200).text();
    assert!(
        text.contains("\"parked-1\""),
        "no thread parked-1 in:\n{text}"
    );
    let park = handler("park_os_thread");
    assert!(
        text.lines().any(|l| park.is(l.trim())),
        "no park_os_thread frame in:\n{text}"
    );
    let pprof = admin(&svc, "/debug/pprof/threads", 200);
    let file = saved(&svc, "threads.pb.gz", &pprof.body);
    let (threads, _, traces) = common::cum_of(&file, &[], &park);
    assert!(threads >= 500.0, "500 parked threads expected:\n{traces}");
    let _ = std::fs::remove_file(file);
    // The tokio tasks, as text (without task dumps in this build: the threads).
    let tasks = admin(&svc, "/debug/pprof/tasks?debug=1", 200).text();
    assert!(tasks.contains("alive tasks:"), "{tasks}");
    svc.finish();
}

// Bad query values get 400 with a message saying what is accepted.
#[test]
fn bad_query_values_get_400_with_a_message() {
    let svc = Service::start("debug-400", &[]);
    for (target, says) in [
        (
            "/debug/pprof/profile?seconds=abc",
            "whole number from 1 to 60",
        ),
        (
            "/debug/pprof/profile?seconds=0",
            "whole number from 1 to 60",
        ),
        (
            "/debug/pprof/profile?seconds=100000",
            "whole number from 1 to 60",
        ),
        ("/debug/pprof/profile?seconds=-1", "whole number"),
        ("/debug/pprof/threads?debug=7", "debug must be 0"),
        ("/debug/pprof/heap?debug=x", "debug must be 0"),
    ] {
        let a = admin(&svc, target, 400);
        assert!(a.text().contains(says), "{target}: {}", a.text());
    }
    svc.finish();
}

// `/debug/holmes/status` is the Status as JSON; `/debug/holmes/metrics` parses as
// Prometheus text and carries the same values.
#[test]
fn status_is_json_and_metrics_parse_as_prometheus_text() {
    let svc = Service::start("debug-status", &[("HOLMES_CPU", "50,25,90")]);
    // A few ticks (100 ms each).
    std::thread::sleep(Duration::from_millis(600));
    let a = admin(&svc, "/debug/holmes/status", 200);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/json")
    );
    let status: serde_json::Value = serde_json::from_slice(&a.body).expect("JSON");
    assert_eq!(status["interval"], "100ms", "{status:#}");
    let metrics = status["metrics"].as_array().expect("metrics");
    let cpu = metrics
        .iter()
        .find(|m| m["metric"] == "cpu")
        .unwrap_or_else(|| panic!("{status:#}"));
    assert_eq!(cpu["rule"]["abs"], 90, "{cpu:#}");
    assert!(status["ticks"].as_u64().unwrap_or(0) >= 2, "{status:#}");

    let a = admin(&svc, "/debug/holmes/metrics", 200);
    assert!(
        a.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{}",
        a.headers
    );
    let text = a.text();
    strict_exposition_format(&text);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no {name} {label:?} in:\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name}: not a number"),
        }
    };
    assert_eq!(value("holmes_up", None), 1.0);
    assert!(value("holmes_sampler_ticks_total", None) >= 2.0, "{text}");
    assert_eq!(
        value("holmes_rule_threshold", Some(("threshold", "abs"))),
        90.0
    );
    assert!(value("holmes_metric_value", Some(("metric", "cpu"))) >= 0.0);
    assert_eq!(value("holmes_interval_seconds", None), 0.1);
    let armed_or_warming = value("holmes_rule_state", Some(("state", "armed")))
        + value("holmes_rule_state", Some(("state", "warming_up")));
    assert_eq!(armed_or_warming, 1.0, "{text}");
    svc.finish();
}

/// The exposition format's grammar, line by line: `# HELP`/`# TYPE` before a family's
/// samples, metric and label names, quoted label values, a float value.
fn strict_exposition_format(text: &str) {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE name type");
            assert!(name_ok(name), "{line}");
            assert!(["counter", "gauge"].contains(&ty), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let name = series.split('{').next().unwrap_or(series);
        assert!(name_ok(name), "bad name in {line}");
        assert!(typed.contains(name), "{name} has no # TYPE before it");
        if let Some(labels) = series.strip_prefix(name).and_then(|l| l.strip_prefix('{')) {
            let labels = labels.strip_suffix('}').expect("closing brace");
            for pair in labels.split(',') {
                let (k, v) = pair.split_once('=').expect("label=value");
                assert!(name_ok(k), "{line}");
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "{line}"
                );
            }
        }
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "bad value in {line}"
        );
    }
}

// `/debug/holmes/dumps` lists what holmes wrote; `/debug/holmes/dumps/<name>` sends one
// of those files and nothing else: no path traversal, no absolute path, no symlink.
#[test]
fn dumps_are_listed_and_served_and_nothing_else_is() {
    let svc = Service::start(
        "debug-dumps",
        &[("HOLMES_THREADS", "1,1,2"), ("HOLMES_COOLDOWN", "1h")],
    );
    let txt = svc.wait_dump("threads", ".txt");
    let name = txt.file_name().unwrap().to_string_lossy().into_owned();
    // Wait until the rest of the dump's files are written too.
    let svg = svc.wait_dump("threads", ".svg");

    let list = admin(&svc, "/debug/holmes/dumps", 200);
    let list: serde_json::Value = serde_json::from_slice(&list.body).expect("JSON");
    let first = &list[0];
    assert_eq!(first["kind"], "threads", "{list:#}");
    let files: Vec<&str> = first["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(files.contains(&name.as_str()), "{list:#}");

    let served = admin(&svc, &format!("/debug/holmes/dumps/{name}"), 200);
    assert_eq!(
        served.body,
        std::fs::read(&txt).expect("read"),
        "the file as written"
    );
    assert!(served
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let svg_name = svg.file_name().unwrap().to_string_lossy().into_owned();
    let served = admin(&svc, &format!("/debug/holmes/dumps/{svg_name}"), 200);
    assert_eq!(
        served.header("content-type").as_deref(),
        Some("image/svg+xml")
    );

    // A secret outside the dump directory, and a symlink to it inside, named like a dump.
    let secret = svc.dir.with_extension("secret.txt");
    std::fs::write(&secret, "secret").expect("write");
    let planted = "threads.20261205-000000.000.1.txt";
    std::os::unix::fs::symlink(&secret, svc.dir.join(planted)).expect("symlink");
    let secret_path = secret.to_string_lossy().into_owned();
    let encoded_secret = secret_path.replace('/', "%2F");
    for target in [
        format!("/debug/holmes/dumps/{planted}"),
        "/debug/holmes/dumps/..%2f..%2f..%2fetc%2fpasswd".into(),
        "/debug/holmes/dumps/..%2F..%2F..%2Fetc%2Fpasswd".into(),
        "/debug/holmes/dumps/%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(),
        format!("/debug/holmes/dumps/{encoded_secret}"),
        "/debug/holmes/dumps/%2Fetc%2Fpasswd".into(),
        "/debug/holmes/dumps/../../../etc/passwd".into(),
        format!("/debug/holmes/dumps/..%2f{}", name),
        "/debug/holmes/dumps/.holmes-1-1.tmp".into(),
        "/debug/holmes/dumps/".into(),
    ] {
        let a = http_get(svc.admin_port, &target, &[]);
        assert_eq!(a.status, 404, "GET {target}: {}", a.text());
        assert!(
            !a.text().contains("secret") && !a.text().contains("root:"),
            "{target}"
        );
    }
    // The planted symlink is not listed either.
    let list = admin(&svc, "/debug/holmes/dumps", 200).text();
    assert!(!list.contains(planted), "{list}");
    let _ = std::fs::remove_file(secret);
    svc.finish();
}

// With a token, every route needs it: as a bearer token, or as the Basic password, which
// is how a browser and `go tool pprof http://user:token@host/…` send it.
#[test]
fn a_token_guards_every_route() {
    let svc = Service::start("debug-auth", &[("ADMIN_TOKEN", "s3cret-token")]);
    for target in [
        "/debug/holmes/",
        "/debug/holmes/status",
        "/debug/holmes/metrics",
        "/debug/holmes/dumps",
        "/debug/pprof/threads?debug=1",
        "/debug/pprof/profile?seconds=1",
    ] {
        let a = http_get(svc.admin_port, target, &[]);
        assert_eq!(a.status, 401, "{target}");
        assert!(
            a.header("www-authenticate").is_some(),
            "{target}: {}",
            a.headers
        );
        let wrong = http_get(
            svc.admin_port,
            target,
            &[("Authorization", "Bearer s3cret-tokeN")],
        );
        assert_eq!(wrong.status, 401, "{target}");
    }
    let a = http_get(
        svc.admin_port,
        "/debug/holmes/status",
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert_eq!(a.status, 200);
    // Basic, user "holmes": base64("holmes:s3cret-token").
    let a = http_get(
        svc.admin_port,
        "/debug/pprof/threads?debug=1",
        &[("Authorization", "Basic aG9sbWVzOnMzY3JldC10b2tlbg==")],
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let top = common::pprof(
        &["-top"],
        Path::new(&format!(
            "http://holmes:s3cret-token@127.0.0.1:{}/debug/pprof/threads",
            svc.admin_port
        )),
    );
    assert!(top.contains("threads"), "{top}");
    svc.finish();
}

// The page, in a real headless browser: it renders a dump a rule took in this test, with
// its culprit, and the rules. The screenshot (a phone's width) is kept as an artifact:
// `target/tmp/holmes-page.png`.
#[test]
fn the_page_shows_the_culprit_of_a_dump_in_a_headless_browser() {
    let svc = Service::start(
        "debug-page",
        &[
            ("HOLMES_CPU", "10,25,30"),
            ("HOLMES_CPU_CORES", "1"),
            ("HOLMES_CPU_PROFILE", "1s"),
        ],
    );
    svc.get("/cpuex");
    let txt = svc.wait_dump("cpu", ".txt");
    let spinner = handler("cpu_explode_spin");
    let header = std::fs::read_to_string(&txt).expect("read");
    let culprit = header
        .lines()
        .find_map(|l| l.strip_prefix("culprit: "))
        .and_then(|l| l.split(" (innermost").next())
        .unwrap_or_else(|| panic!("no culprit in:\n{header}"))
        .to_owned();
    assert!(
        spinner.is(&culprit),
        "the dump names the spinner: {culprit}"
    );

    let page = url(&svc, "/debug/holmes/");
    let dom = chromium(&["--dump-dom", &page]);
    let text = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        text.contains("<html"),
        "no DOM:\n{text}\n{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        text.contains(&html_escape(&culprit)),
        "the page must show the culprit {culprit:?}:\n{text}"
    );
    assert!(text.contains("cpu"), "{text}");
    let stem = txt
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".txt", "");
    assert!(
        text.contains(&format!("dumps/{stem}.pb.gz")),
        "a link to the pprof file:\n{text}"
    );
    assert!(
        text.contains(&format!("dumps/{stem}.svg")),
        "the flamegraph:\n{text}"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("holmes-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=412,1600",
        &page,
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot {}: {e}\n{}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(png.len() > 10_000, "an empty page? {} bytes", png.len());
    println!("screenshot of the page: {}", shot.display());
    svc.finish();
}

/// Runs headless chromium with `args`, with a deadline.
fn chromium(args: &[&str]) -> std::process::Output {
    let profile = common::fresh_dir("chromium-profile");
    let mut cmd = std::process::Command::new(
        ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|b| {
                std::process::Command::new(b)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("no chromium: install Debian's `chromium` package (see .ci/run)"),
    );
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .env("HOME", &profile);
    let out = common::run_with_deadline(cmd, Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&profile);
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
