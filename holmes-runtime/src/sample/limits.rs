//! The limits percentages refer to: available cores and the memory limit.
//!
//! Order of precedence, cores: the user's override > the cgroup CPU quota (v2
//! `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`; fractional; the tightest level
//! of the hierarchy) > the number of CPUs in the affinity mask. Memory: the override >
//! the cgroup limit (v2 `memory.max`, v1 `memory.limit_in_bytes`; tightest ancestor;
//! "max" / huge values mean unlimited), capped by the host total > the host total.
//!
//! The process's cgroup is found through `/proc/self/cgroup` and the mount table
//! (`/proc/self/mountinfo`), never a fixed path: the Go library reads the root's files
//! and misses a container's or a systemd slice's limit. A limit that cannot be read falls
//! back to the next source and says so once in the log; nothing here stops holmes.

use std::path::{Path, PathBuf};

/// Where a limit came from.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LimitSource {
    /// Set in the configuration.
    Override,
    /// A cgroup v1 or v2 file.
    Cgroup(PathBuf),
    /// The CPUs this process may run on.
    Affinity,
    /// The host's total memory (or CPU count where affinity is unknown).
    Host,
}

impl std::fmt::Display for LimitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitSource::Override => f.write_str("configuration"),
            LimitSource::Cgroup(p) => write!(f, "cgroup {}", p.display()),
            LimitSource::Affinity => f.write_str("CPU affinity"),
            LimitSource::Host => f.write_str("host"),
        }
    }
}

/// `{"kind": "cgroup", "path": "/sys/fs/cgroup/memory.max"}`; the other kinds
/// (`override`, `affinity`, `host`) have no `path`.
#[cfg(feature = "serde")]
impl serde::Serialize for LimitSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (kind, path) = match self {
            LimitSource::Override => ("override", None),
            LimitSource::Cgroup(p) => ("cgroup", Some(p)),
            LimitSource::Affinity => ("affinity", None),
            LimitSource::Host => ("host", None),
        };
        let mut st = s.serialize_struct("LimitSource", 1 + usize::from(path.is_some()))?;
        st.serialize_field("kind", kind)?;
        if let Some(p) = path {
            st.serialize_field("path", &p.to_string_lossy())?;
        }
        st.end()
    }
}

/// Detected limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Cores available to the process (fractional under a CPU quota).
    pub cores: f64,
    /// Where `cores` came from.
    pub cores_source: LimitSource,
    /// Memory limit in bytes.
    pub memory_limit: u64,
    /// Where `memory_limit` came from.
    pub memory_source: LimitSource,
}

/// Values at or above this are "no limit" (cgroup v1 writes `PAGE_COUNTER_MAX` pages,
/// 9223372036854771712 on x86_64).
const UNLIMITED: u64 = 1 << 62;

/// Detects the limits of this process. Problems are returned as notes for the caller to
/// log (once).
pub fn detect(cores_override: Option<f64>, memory_override: Option<u64>) -> (Limits, Vec<String>) {
    let mut notes = Vec::new();
    let cg = CgroupFiles::read_self();
    let (cores, cores_source) = match cores_override {
        Some(c) => (c, LimitSource::Override),
        None => match cg.as_ref().map(|c| c.cpu_quota()) {
            Some(Ok(Some((q, path)))) => (q, LimitSource::Cgroup(path)),
            Some(Ok(None)) => affinity_cores(),
            Some(Err(e)) => {
                notes.push(format!(
                    "cannot read the cgroup CPU quota ({e}); using the CPU count"
                ));
                affinity_cores()
            }
            None => affinity_cores(),
        },
    };
    let host = host_memory();
    let (memory_limit, memory_source) = match memory_override {
        Some(m) => (m, LimitSource::Override),
        None => match cg.as_ref().map(|c| c.memory_limit()) {
            Some(Ok(Some((m, path)))) if host.is_none_or(|h| m < h) => {
                (m, LimitSource::Cgroup(path))
            }
            Some(Err(e)) => {
                notes.push(format!(
                    "cannot read the cgroup memory limit ({e}); using the host's memory"
                ));
                host_or_note(host, &mut notes)
            }
            _ => host_or_note(host, &mut notes),
        },
    };
    (
        Limits {
            cores,
            cores_source,
            memory_limit,
            memory_source,
        },
        notes,
    )
}

fn host_or_note(host: Option<u64>, notes: &mut Vec<String>) -> (u64, LimitSource) {
    match host {
        Some(h) => (h, LimitSource::Host),
        None => {
            notes.push("cannot read the host's total memory; memory % will be 0".into());
            (u64::MAX, LimitSource::Host)
        }
    }
}

/// CPUs in this process's affinity mask (falls back to the host's CPU count).
fn affinity_cores() -> (f64, LimitSource) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
                let n = libc::CPU_COUNT(&set);
                if n > 0 {
                    return (n as f64, LimitSource::Affinity);
                }
            }
        }
    }
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (n as f64, LimitSource::Host)
}

/// The host's total memory in bytes.
fn host_memory() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysinfo fills the struct.
        unsafe {
            let mut info: libc::sysinfo = std::mem::zeroed();
            if libc::sysinfo(&mut info) == 0 {
                return Some(info.totalram as u64 * info.mem_unit as u64);
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        Some(sys.total_memory()).filter(|&m| m > 0)
    }
}

/// The cgroup directories of this process, per hierarchy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupFiles {
    /// (directory of the process's cgroup, mount point) of the v1 `cpu` controller.
    pub v1_cpu: Option<(PathBuf, PathBuf)>,
    /// Same for the v1 `memory` controller.
    pub v1_memory: Option<(PathBuf, PathBuf)>,
    /// Same for the unified (v2) hierarchy.
    pub v2: Option<(PathBuf, PathBuf)>,
}

impl CgroupFiles {
    /// Reads `/proc/self/cgroup` and `/proc/self/mountinfo`.
    pub fn read_self() -> Option<CgroupFiles> {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Some(CgroupFiles::parse(&cgroup, &mountinfo, Path::new("/")))
    }

    /// Resolves the process's cgroup directories from the two files' contents; `root`
    /// prefixes every mount point (a fixture tree in tests, `/` for real).
    pub fn parse(proc_cgroup: &str, mountinfo: &str, root: &Path) -> CgroupFiles {
        let mut out = CgroupFiles::default();
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                out.v2 = find_mount(mountinfo, |fstype, _| fstype == "cgroup2")
                    .map(|m| m.resolve(path, root));
                continue;
            }
            let names: Vec<&str> = controllers.split(',').collect();
            for (want, slot) in [("cpu", &mut out.v1_cpu), ("memory", &mut out.v1_memory)] {
                if names.contains(&want) {
                    *slot = find_mount(mountinfo, |fstype, opts| {
                        fstype == "cgroup" && opts.split(',').any(|o| o == want)
                    })
                    .map(|m| m.resolve(path, root));
                }
            }
        }
        out
    }

    /// The tightest CPU quota in cores along the hierarchy, if any level sets one.
    pub fn cpu_quota(&self) -> Result<Option<(f64, PathBuf)>, String> {
        let mut best: Option<(f64, PathBuf)> = None;
        let mut keep = |cores: f64, file: PathBuf| {
            if best.as_ref().is_none_or(|(b, _)| cores < *b) {
                best = Some((cores, file));
            }
        };
        if let Some((dir, mount)) = &self.v1_cpu {
            for level in levels(dir, mount) {
                let (Some(q), Some(p)) = (
                    read_opt(&level.join("cpu.cfs_quota_us"))?,
                    read_opt(&level.join("cpu.cfs_period_us"))?,
                ) else {
                    continue;
                };
                let quota: i64 = q
                    .trim()
                    .parse()
                    .map_err(|e| format!("{}: {e}", level.display()))?;
                let period: i64 = p
                    .trim()
                    .parse()
                    .map_err(|e| format!("{}: {e}", level.display()))?;
                if quota > 0 && period > 0 {
                    keep(quota as f64 / period as f64, level.join("cpu.cfs_quota_us"));
                }
            }
        }
        if let Some((dir, mount)) = &self.v2 {
            for level in levels(dir, mount) {
                let file = level.join("cpu.max");
                let Some(text) = read_opt(&file)? else {
                    continue;
                };
                let mut it = text.split_whitespace();
                let quota = it.next().unwrap_or("max");
                let period: f64 = it
                    .next()
                    .unwrap_or("100000")
                    .parse()
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                if quota != "max" {
                    let q: f64 = quota
                        .parse()
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    if q > 0.0 && period > 0.0 {
                        keep(q / period, file);
                    }
                }
            }
        }
        Ok(best)
    }

    /// The tightest memory limit in bytes along the hierarchy, if any level sets one.
    pub fn memory_limit(&self) -> Result<Option<(u64, PathBuf)>, String> {
        let mut best: Option<(u64, PathBuf)> = None;
        let mut check = |file: PathBuf| -> Result<(), String> {
            let Some(text) = read_opt(&file)? else {
                return Ok(());
            };
            let t = text.trim();
            if t == "max" {
                return Ok(());
            }
            let v: u64 = t.parse().map_err(|e| format!("{}: {e}", file.display()))?;
            if v < UNLIMITED && best.as_ref().is_none_or(|(b, _)| v < *b) {
                best = Some((v, file));
            }
            Ok(())
        };
        if let Some((dir, mount)) = &self.v1_memory {
            for level in levels(dir, mount) {
                check(level.join("memory.limit_in_bytes"))?;
            }
        }
        if let Some((dir, mount)) = &self.v2 {
            for level in levels(dir, mount) {
                check(level.join("memory.max"))?;
            }
        }
        Ok(best)
    }
}

/// A mount of a cgroup hierarchy.
struct Mount<'a> {
    root: &'a str,
    point: &'a str,
}

impl Mount<'_> {
    /// (the process's cgroup directory, the mount point), both under `prefix`.
    fn resolve(&self, cgroup_path: &str, prefix: &Path) -> (PathBuf, PathBuf) {
        let rel = if self.root == "/" {
            cgroup_path
        } else {
            cgroup_path.strip_prefix(self.root).unwrap_or("/")
        };
        let point = prefix.join(self.point.trim_start_matches('/'));
        let dir = point.join(rel.trim_start_matches('/'));
        (dir, point)
    }
}

/// The first mount whose filesystem type and super options satisfy `pred`.
fn find_mount<'a>(mountinfo: &'a str, pred: impl Fn(&str, &str) -> bool) -> Option<Mount<'a>> {
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        if pred(r[0], r[2]) {
            return Some(Mount {
                root: l[3],
                point: l[4],
            });
        }
    }
    None
}

/// `dir` and each parent up to and including `mount`.
fn levels(dir: &Path, mount: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        out.push(d.to_path_buf());
        if d == mount || !d.starts_with(mount) {
            break;
        }
        cur = d.parent();
    }
    out
}

/// Reads a file; `None` when it does not exist.
fn read_opt(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
25 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const CGROUP_V1: &str = "4:memory:/app/web\n2:cpuacct:/\n1:cpu:/app/web\n0::/\n";

    fn tree() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn v1_nested_takes_tightest_level() {
        let t = tree();
        let r = t.path();
        write(r, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
        write(r, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
        write(r, "sys/fs/cgroup/cpu/app/cpu.cfs_quota_us", "150000\n");
        write(r, "sys/fs/cgroup/cpu/app/cpu.cfs_period_us", "100000\n");
        write(r, "sys/fs/cgroup/cpu/app/web/cpu.cfs_quota_us", "-1\n");
        write(r, "sys/fs/cgroup/cpu/app/web/cpu.cfs_period_us", "100000\n");
        write(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/app/memory.limit_in_bytes",
            "2147483648\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/app/web/memory.limit_in_bytes",
            "1073741824\n",
        );
        let cg = CgroupFiles::parse(CGROUP_V1, MOUNTINFO_V1, r);
        let (cores, file) = cg.cpu_quota().unwrap().unwrap();
        assert_eq!(cores, 1.5);
        assert!(file.ends_with("cpu/app/cpu.cfs_quota_us"), "{file:?}");
        let (mem, file) = cg.memory_limit().unwrap().unwrap();
        assert_eq!(mem, 1 << 30);
        assert!(file.ends_with("memory/app/web/memory.limit_in_bytes"));
    }

    #[test]
    fn v1_unlimited_is_none() {
        let t = tree();
        let r = t.path();
        write(r, "sys/fs/cgroup/cpu/app/web/cpu.cfs_quota_us", "-1\n");
        write(r, "sys/fs/cgroup/cpu/app/web/cpu.cfs_period_us", "100000\n");
        write(
            r,
            "sys/fs/cgroup/memory/app/web/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        let cg = CgroupFiles::parse(CGROUP_V1, MOUNTINFO_V1, r);
        assert_eq!(cg.cpu_quota().unwrap(), None);
        assert_eq!(cg.memory_limit().unwrap(), None);
    }

    #[test]
    fn missing_files_are_no_limit_and_garbage_is_an_error() {
        let t = tree();
        let r = t.path();
        let cg = CgroupFiles::parse(CGROUP_V1, MOUNTINFO_V1, r);
        assert_eq!(cg.cpu_quota().unwrap(), None);
        assert_eq!(cg.memory_limit().unwrap(), None);
        write(
            r,
            "sys/fs/cgroup/memory/app/web/memory.limit_in_bytes",
            "lots\n",
        );
        assert!(cg.memory_limit().is_err());
    }

    #[test]
    fn v2_cpu_max_and_memory_max() {
        let t = tree();
        let r = t.path();
        let mountinfo = "30 25 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
        let cgroup = "0::/kubepods/pod1/ctr\n";
        write(r, "sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
        write(r, "sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n");
        write(r, "sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n");
        write(r, "sys/fs/cgroup/kubepods/pod1/memory.max", "536870912\n");
        write(r, "sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "max\n");
        let cg = CgroupFiles::parse(cgroup, mountinfo, r);
        assert_eq!(cg.cpu_quota().unwrap().unwrap().0, 0.5);
        assert_eq!(cg.memory_limit().unwrap().unwrap().0, 512 << 20);
    }

    #[test]
    fn container_mount_root_is_stripped() {
        // Inside a container the hierarchy is mounted from the container's own cgroup.
        let t = tree();
        let r = t.path();
        let mountinfo =
            "26 25 0:23 /docker/abc /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu,cpuacct\n";
        let cgroup = "3:cpu,cpuacct:/docker/abc\n";
        write(r, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "200000\n");
        write(r, "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
        let cg = CgroupFiles::parse(cgroup, mountinfo, r);
        assert_eq!(cg.cpu_quota().unwrap().unwrap().0, 2.0);
    }

    #[test]
    fn overrides_win() {
        let (l, _) = detect(Some(1.5), Some(2 << 30));
        assert_eq!(l.cores, 1.5);
        assert_eq!(l.cores_source, LimitSource::Override);
        assert_eq!(l.memory_limit, 2 << 30);
    }

    #[test]
    fn detects_something_sane_here() {
        let (l, _) = detect(None, None);
        assert!(l.cores > 0.0);
        assert!(l.memory_limit > 1 << 20);
    }
}
