//! Building pprof profiles from raw stacks, and rendering any profile as the three
//! artifacts holmes writes: gzipped pprof, a text top-N and a flamegraph SVG.
//!
//! Every dump kind (CPU, heap, threads, tasks) ends as a `pprof::protos::Profile`, the
//! format `go tool pprof` and Grafana Pyroscope read; the text and SVG renderings are
//! derived from it here, so each dump kind gets all three formats from one code path.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use pprof::protos::{self, Message as _};

use crate::symbol::Symbolizer;

/// A sample's identity: its location ids and its (key, str, num) labels.
type SampleKey = (Vec<u64>, Vec<(i64, i64, i64)>);

/// Incrementally builds a `Profile` from address stacks, symbolizing through a cached
/// [`Symbolizer`] and deduplicating strings, functions and locations.
pub struct ProfileBuilder<'s> {
    sym: &'s mut Symbolizer,
    profile: protos::Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    locations: HashMap<(usize, bool), u64>,
    samples: HashMap<SampleKey, usize>,
}

impl<'s> ProfileBuilder<'s> {
    /// A profile with the given `(type, unit)` sample types, e.g.
    /// `[("alloc_objects", "count"), ("alloc_space", "bytes")]`, the period type and
    /// period, and the sample type `go tool pprof` shows by default.
    pub fn new(
        sym: &'s mut Symbolizer,
        sample_types: &[(&str, &str)],
        period_type: (&str, &str),
        period: i64,
        default_sample_type: &str,
    ) -> Self {
        let mut b = ProfileBuilder {
            sym,
            profile: protos::Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            samples: HashMap::new(),
        };
        b.string(""); // index 0 must be the empty string
        for (ty, unit) in sample_types {
            let vt = protos::ValueType {
                ty: b.string(ty),
                unit: b.string(unit),
            };
            b.profile.sample_type.push(vt);
        }
        b.profile.period_type = Some(protos::ValueType {
            ty: b.string(period_type.0),
            unit: b.string(period_type.1),
        });
        b.profile.period = period;
        b.profile.default_sample_type = b.string(default_sample_type);
        b.profile.time_nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        b
    }

    /// Index of `s` in the string table.
    pub fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_owned());
        self.strings.insert(s.to_owned(), i);
        i
    }

    fn location(&mut self, addr: usize, is_return_address: bool) -> u64 {
        if let Some(&id) = self.locations.get(&(addr, is_return_address)) {
            return id;
        }
        let frames = self.sym.resolve(addr, is_return_address);
        let mut lines = Vec::with_capacity(frames.len());
        for f in frames.iter() {
            let file = f.file.clone().unwrap_or_default();
            let key = (f.name.clone(), file.clone());
            let fid = match self.functions.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.profile.function.len() as u64 + 1;
                    let name = self.string(&f.name);
                    let filename = self.string(&file);
                    self.profile.function.push(protos::Function {
                        id,
                        name,
                        system_name: name,
                        filename,
                        start_line: 0,
                    });
                    self.functions.insert(key, id);
                    id
                }
            };
            lines.push(protos::Line {
                function_id: fid,
                line: f.line.unwrap_or(0) as i64,
            });
        }
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(protos::Location {
            id,
            mapping_id: 0,
            address: addr as u64,
            line: lines,
            is_folded: false,
        });
        self.locations.insert((addr, is_return_address), id);
        id
    }

    /// Adds a sample: `stack` innermost first; `first_is_pc` when `stack[0]` is an
    /// interrupted PC rather than a return address; `values` one per sample type;
    /// string labels. Samples with the same stack and labels are merged (values add).
    pub fn add(
        &mut self,
        stack: &[usize],
        first_is_pc: bool,
        values: &[i64],
        labels: &[(&str, &str)],
    ) {
        let ids: Vec<u64> = stack
            .iter()
            .enumerate()
            .map(|(i, &a)| self.location(a, !(i == 0 && first_is_pc)))
            .collect();
        self.add_locations(ids, values, labels);
    }

    /// Adds a sample whose frames are already names (outermost last, innermost first),
    /// for stacks that do not come from addresses (tokio task dumps).
    pub fn add_named(&mut self, frames: &[&str], values: &[i64], labels: &[(&str, &str)]) {
        let ids: Vec<u64> = frames
            .iter()
            .map(|name| {
                let key = (name.to_string(), String::new());
                let fid = match self.functions.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = self.profile.function.len() as u64 + 1;
                        let n = self.string(name);
                        let empty = self.string("");
                        self.profile.function.push(protos::Function {
                            id,
                            name: n,
                            system_name: n,
                            filename: empty,
                            start_line: 0,
                        });
                        self.functions.insert(key, id);
                        id
                    }
                };
                let id = self.profile.location.len() as u64 + 1;
                self.profile.location.push(protos::Location {
                    id,
                    mapping_id: 0,
                    address: 0,
                    line: vec![protos::Line {
                        function_id: fid,
                        line: 0,
                    }],
                    is_folded: false,
                });
                id
            })
            .collect();
        self.add_locations(ids, values, labels);
    }

    fn add_locations(&mut self, ids: Vec<u64>, values: &[i64], labels: &[(&str, &str)]) {
        let labels: Vec<(i64, i64, i64)> = labels
            .iter()
            .map(|(k, v)| (self.string(k), self.string(v), 0))
            .collect();
        let key = (ids, labels);
        if let Some(&i) = self.samples.get(&key) {
            for (acc, v) in self.profile.sample[i].value.iter_mut().zip(values) {
                *acc += v;
            }
            return;
        }
        let (location_id, labels) = key.clone();
        self.samples.insert(key, self.profile.sample.len());
        self.profile.sample.push(protos::Sample {
            location_id,
            value: values.to_vec(),
            label: labels
                .into_iter()
                .map(|(key, str, num)| protos::Label {
                    key,
                    str,
                    num,
                    num_unit: 0,
                })
                .collect(),
        });
    }

    /// Sets the profile's duration.
    pub fn duration(&mut self, d: std::time::Duration) {
        self.profile.duration_nanos = d.as_nanos() as i64;
    }

    /// Adds a free-text comment (shown by `go tool pprof -comments`).
    pub fn comment(&mut self, c: &str) {
        let i = self.string(c);
        self.profile.comment.push(i);
    }

    /// The finished profile.
    pub fn build(self) -> protos::Profile {
        self.profile
    }
}

/// Serializes and gzips a profile (the `.pb.gz` that `go tool pprof` opens).
pub fn to_pprof_gz(p: &protos::Profile) -> std::io::Result<Vec<u8>> {
    let raw = p.encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    gz.write_all(&raw)?;
    gz.finish()
}

/// Index of the default sample type (the last one when unset, as `go tool pprof`).
fn value_index(p: &protos::Profile) -> usize {
    let n = p.sample_type.len();
    if n == 0 {
        return 0;
    }
    p.sample_type
        .iter()
        .position(|st| p.default_sample_type != 0 && st.ty == p.default_sample_type)
        .unwrap_or(n - 1)
}

fn str_at(p: &protos::Profile, i: i64) -> &str {
    p.string_table
        .get(i as usize)
        .map(String::as_str)
        .unwrap_or("")
}

/// Function names of a sample's stack, innermost first (inlined frames expanded).
fn sample_names<'p>(
    p: &'p protos::Profile,
    locs: &HashMap<u64, &'p protos::Location>,
    funcs: &HashMap<u64, &'p protos::Function>,
    s: &protos::Sample,
) -> Vec<&'p str> {
    let mut out = Vec::new();
    for id in &s.location_id {
        if let Some(loc) = locs.get(id) {
            for line in &loc.line {
                let name = funcs
                    .get(&line.function_id)
                    .map(|f| str_at(p, f.name))
                    .unwrap_or("?");
                out.push(name);
            }
        }
    }
    out
}

fn indexes(
    p: &protos::Profile,
) -> (
    HashMap<u64, &protos::Location>,
    HashMap<u64, &protos::Function>,
) {
    (
        p.location.iter().map(|l| (l.id, l)).collect(),
        p.function.iter().map(|f| (f.id, f)).collect(),
    )
}

/// Folded stacks (`root;…;leaf value`), the input of flamegraph tools.
pub fn to_folded(p: &protos::Profile) -> Vec<String> {
    let vi = value_index(p);
    let (locs, funcs) = indexes(p);
    let mut acc: HashMap<String, i64> = HashMap::new();
    for s in &p.sample {
        let v = s.value.get(vi).copied().unwrap_or(0);
        if v <= 0 {
            continue;
        }
        let names = sample_names(p, &locs, &funcs, s);
        let line: Vec<String> = names.iter().rev().map(|n| n.replace(';', ":")).collect();
        let key = if line.is_empty() {
            "[unknown]".to_owned()
        } else {
            line.join(";")
        };
        *acc.entry(key).or_default() += v;
    }
    let mut out: Vec<String> = acc.into_iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.sort();
    out
}

/// A flamegraph SVG of the default sample type, titled `title`.
pub fn to_svg(p: &protos::Profile, title: &str) -> Result<Vec<u8>, String> {
    let folded = to_folded(p);
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_owned();
    let vi = value_index(p);
    if let Some(st) = p.sample_type.get(vi) {
        opts.count_name = str_at(p, st.unit).to_owned();
    }
    let mut svg = Vec::new();
    if folded.is_empty() {
        // inferno refuses empty input; say so in a valid SVG instead.
        write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="60"><text x="10" y="30">{}: no samples</text></svg>"#,
            xml_escape(title)
        )
        .map_err(|e| e.to_string())?;
        return Ok(svg);
    }
    inferno::flamegraph::from_lines(&mut opts, folded.iter().map(String::as_str), &mut svg)
        .map_err(|e| e.to_string())?;
    Ok(svg)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// True for frames of the language runtime, the allocator or holmes itself, which are
/// never the culprit a person looks for.
pub fn is_machinery(name: &str) -> bool {
    const CRATES: &[&str] = &[
        "std",
        "core",
        "alloc",
        "holmes_runtime",
        "tokio",
        "hashbrown",
        "backtrace",
    ];
    const PRIMITIVES: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "str", "dyn",
    ];
    const SYMBOLS: &[&str] = &[
        "__",
        "_start",
        "start_thread",
        "clone",
        "syscall",
        "0x",
        "[unknown]",
        "futex",
        "pthread_",
        "epoll_",
        "nanosleep",
        "clock_nanosleep",
        "read",
        "write",
        "poll",
        "sched_yield",
        "malloc",
        "free",
        "realloc",
        "calloc",
        "mmap",
        "munmap",
        "memcpy",
        "memmove",
        "memset",
    ];
    // `<Type as Trait>::method` and `<Type>::method` belong to Type's crate.
    let subject = name.trim_start_matches('<');
    let first = subject
        .split([':', ' ', '>', '<'])
        .next()
        .unwrap_or(subject);
    if CRATES.contains(&first)
        || PRIMITIVES.contains(&first)
        || subject.starts_with(['&', '*', '[', '('])
    {
        return true;
    }
    !name.contains("::") && SYMBOLS.iter().any(|p| name.starts_with(p))
}

/// The culprit of a profile: in the heaviest stack (default sample type), the innermost
/// frame that is not runtime machinery ([`is_machinery`]).
pub fn culprit(p: &protos::Profile) -> Option<String> {
    let vi = value_index(p);
    let (locs, funcs) = indexes(p);
    let heaviest = p
        .sample
        .iter()
        .max_by_key(|s| s.value.get(vi).copied().unwrap_or(0))?;
    // Merge samples with the same stack names (thread labels split them).
    let mut by_stack: HashMap<Vec<&str>, i64> = HashMap::new();
    for s in &p.sample {
        *by_stack
            .entry(sample_names(p, &locs, &funcs, s))
            .or_default() += s.value.get(vi).copied().unwrap_or(0);
    }
    let names = by_stack
        .into_iter()
        .max_by_key(|(_, v)| *v)
        .map(|(k, _)| k)
        .unwrap_or_else(|| sample_names(p, &locs, &funcs, heaviest));
    names
        .into_iter()
        .find(|n| !is_machinery(n))
        .map(str::to_owned)
}

/// One row of a text top-N.
#[derive(Clone, Debug, PartialEq)]
pub struct TopEntry {
    /// Function name.
    pub name: String,
    /// Value where the function is the innermost frame.
    pub flat: i64,
    /// Value where the function is anywhere on the stack.
    pub cum: i64,
}

/// The functions with the largest flat value of the default sample type, like
/// `go tool pprof -top`, and the total.
pub fn top(p: &protos::Profile, n: usize) -> (Vec<TopEntry>, i64) {
    let vi = value_index(p);
    let (locs, funcs) = indexes(p);
    let mut flat: HashMap<&str, i64> = HashMap::new();
    let mut cum: HashMap<&str, i64> = HashMap::new();
    let mut total = 0;
    for s in &p.sample {
        let v = s.value.get(vi).copied().unwrap_or(0);
        total += v;
        let names = sample_names(p, &locs, &funcs, s);
        if let Some(first) = names.first() {
            *flat.entry(first).or_default() += v;
        }
        let mut seen: Vec<&str> = Vec::with_capacity(names.len());
        for n in names {
            if !seen.contains(&n) {
                seen.push(n);
                *cum.entry(n).or_default() += v;
            }
        }
    }
    let mut rows: Vec<TopEntry> = cum
        .iter()
        .map(|(name, &c)| TopEntry {
            name: (*name).to_owned(),
            flat: flat.get(name).copied().unwrap_or(0),
            cum: c,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.flat
            .cmp(&a.flat)
            .then(b.cum.cmp(&a.cum))
            .then(a.name.cmp(&b.name))
    });
    rows.truncate(n);
    (rows, total)
}

/// A text top-N report: a header (`header` lines, verbatim) then the table.
pub fn to_text(p: &protos::Profile, header: &str, n: usize) -> String {
    let (rows, total) = top(p, n);
    let vi = value_index(p);
    let (ty, unit) = p
        .sample_type
        .get(vi)
        .map(|st| (str_at(p, st.ty), str_at(p, st.unit)))
        .unwrap_or(("samples", "count"));
    let mut out = String::new();
    out.push_str(header);
    if !header.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "Type: {ty} ({unit}), total {}", fmt_value(total, unit));
    let _ = writeln!(
        out,
        "{:>12} {:>7} {:>12} {:>7}  function",
        "flat", "flat%", "cum", "cum%"
    );
    let pct = |v: i64| {
        if total > 0 {
            v as f64 * 100.0 / total as f64
        } else {
            0.0
        }
    };
    for r in rows {
        let _ = writeln!(
            out,
            "{:>12} {:>6.2}% {:>12} {:>6.2}%  {}",
            fmt_value(r.flat, unit),
            pct(r.flat),
            fmt_value(r.cum, unit),
            pct(r.cum),
            r.name
        );
    }
    out
}

/// Formats a value in its unit: bytes as KiB/MiB/GiB, nanoseconds as ms/s.
pub fn fmt_value(v: i64, unit: &str) -> String {
    match unit {
        "bytes" => {
            let a = v.unsigned_abs() as f64;
            let (d, s) = if a >= (1u64 << 30) as f64 {
                ((1u64 << 30) as f64, "GiB")
            } else if a >= (1u64 << 20) as f64 {
                ((1u64 << 20) as f64, "MiB")
            } else if a >= 1024.0 {
                (1024.0, "KiB")
            } else {
                return format!("{v}B");
            };
            format!("{:.2}{s}", v as f64 / d)
        }
        "nanoseconds" => {
            if v.unsigned_abs() >= 1_000_000_000 {
                format!("{:.2}s", v as f64 / 1e9)
            } else {
                format!("{:.2}ms", v as f64 / 1e6)
            }
        }
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn leaf_fn_for_profile() -> usize {
        leaf_fn_for_profile as *const () as usize + 2
    }
    #[inline(never)]
    fn root_fn_for_profile() -> usize {
        root_fn_for_profile as *const () as usize + 2
    }

    fn sample_profile(sym: &mut Symbolizer) -> protos::Profile {
        let leaf = std::hint::black_box(leaf_fn_for_profile());
        let root = std::hint::black_box(root_fn_for_profile());
        let mut b = ProfileBuilder::new(
            sym,
            &[("objects", "count"), ("space", "bytes")],
            ("space", "bytes"),
            1,
            "space",
        );
        b.add(&[leaf, root], true, &[1, 4096], &[("thread", "a")]);
        b.add(&[leaf, root], true, &[1, 4096], &[("thread", "a")]);
        b.add(&[root], true, &[1, 1024], &[]);
        b.build()
    }

    #[test]
    fn builds_merges_and_ranks() {
        let mut sym = Symbolizer::new();
        let p = sample_profile(&mut sym);
        assert_eq!(p.string_table[0], "");
        assert_eq!(p.sample.len(), 2, "identical samples merge");
        let (rows, total) = top(&p, 10);
        assert_eq!(total, 9216);
        assert!(rows[0].name.contains("leaf_fn_for_profile"), "{rows:?}");
        assert_eq!(rows[0].flat, 8192);
        let root = rows
            .iter()
            .find(|r| r.name.contains("root_fn_for_profile"))
            .unwrap();
        assert_eq!(root.cum, 9216);
        let text = to_text(&p, "header line", 5);
        assert!(
            text.starts_with("header line\nType: space (bytes), total 9.00KiB"),
            "{text}"
        );
        let folded = to_folded(&p);
        assert!(
            folded
                .iter()
                .any(|l| l.contains("root_fn_for_profile;") && l.ends_with(" 8192")),
            "{folded:?}"
        );
    }

    #[test]
    fn encodes_gzip_and_svg() {
        let mut sym = Symbolizer::new();
        let p = sample_profile(&mut sym);
        let gz = to_pprof_gz(&p).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).unwrap();
        let back = protos::Profile::decode(&raw[..]).unwrap();
        assert_eq!(back, p);
        let svg = String::from_utf8(to_svg(&p, "test").unwrap()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("leaf_fn_for_profile"));
        let empty = ProfileBuilder::new(
            &mut sym,
            &[("samples", "count")],
            ("samples", "count"),
            1,
            "samples",
        )
        .build();
        assert!(String::from_utf8(to_svg(&empty, "none").unwrap())
            .unwrap()
            .contains("no samples"));
    }

    #[test]
    fn culprit_skips_machinery() {
        assert!(is_machinery(
            "std::sys::backtrace::__rust_begin_short_backtrace"
        ));
        assert!(is_machinery("<std::sync::barrier::Barrier>::wait"));
        assert!(is_machinery("<u64>::unchecked_add"));
        assert!(is_machinery(
            "<holmes_runtime::alloc::Allocator<A> as core::alloc::global::GlobalAlloc>::alloc"
        ));
        assert!(is_machinery(
            "<u64 as core::iter::range::Step>::forward_unchecked"
        ));
        assert!(is_machinery("core::iter::range::<impl core::iter::traits::iterator::Iterator for core::ops::range::Range<A>>::next"));
        assert!(is_machinery("__memcpy_avx512_unaligned_erms"));
        assert!(is_machinery("syscall"));
        assert!(!is_machinery("rule_threads::park_in_pileup_culprit"));
        assert!(!is_machinery("<myapp::Foo as core::fmt::Display>::fmt"));
        assert!(!is_machinery("user_fn_without_path"));
        assert!(!is_machinery("<myapp::Server as myapp::Handler>::handle"));
        let mut sym = Symbolizer::new();
        let mut b = ProfileBuilder::new(
            &mut sym,
            &[("threads", "count")],
            ("threads", "count"),
            1,
            "threads",
        );
        let heavy = [
            "syscall",
            "<std::sync::barrier::Barrier>::wait",
            "myapp::stuck_here",
            "myapp::main",
        ];
        b.add_named(&heavy, &[3], &[("thread_name", "a")]);
        b.add_named(&heavy, &[3], &[("thread_name", "b")]);
        b.add_named(&["myapp::busy", "myapp::main"], &[5], &[]);
        assert_eq!(culprit(&b.build()).as_deref(), Some("myapp::stuck_here"));
    }

    #[test]
    fn formats_values() {
        assert_eq!(fmt_value(512, "bytes"), "512B");
        assert_eq!(fmt_value(3 << 20, "bytes"), "3.00MiB");
        assert_eq!(fmt_value(2_500_000_000, "nanoseconds"), "2.50s");
        assert_eq!(fmt_value(7, "count"), "7");
    }
}
