//! Building pprof profiles from raw stacks, and rendering any profile as the three
//! artifacts holmes writes: gzipped pprof, a text top-N and a flamegraph SVG.
//!
//! Every dump kind (CPU, heap, threads, tasks) ends as a [`pprof::Profile`], the
//! format `go tool pprof` and Grafana Pyroscope read; the text and SVG renderings are
//! derived from it here, so each dump kind gets all three formats from one code path.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::pprof::{self, Message as _};

pub use crate::event::TopEntry;
use crate::objects::Object;
use crate::symbol::{Frame, Symbolizer};

/// A sample's identity: its location ids and its (key, str, num) labels.
type SampleKey = (Vec<u64>, Vec<(i64, i64, i64)>);

/// Incrementally builds a `Profile` from address stacks, symbolizing through a cached
/// [`Symbolizer`] and deduplicating strings, functions and locations.
///
/// Every location made from an address carries that address and the id of the
/// `Mapping` (executable segment of a loaded object, see [`crate::objects`]) holding
/// it, so that the profile can be symbolized again offline against the unstripped
/// binary with the same build-id. The main executable's mappings come first. A
/// mapping's `has_functions`/`has_filenames`/`has_line_numbers` are set only when
/// every location in it got a name/file/line here, so `go tool pprof` symbolizes the
/// others itself when it finds the binary (`PPROF_BINARY_PATH`). A return address is
/// recorded minus one (inside the call instruction), as pprof expects of non-leaf
/// addresses; an interrupted PC as it is.
pub struct ProfileBuilder<'s> {
    sym: &'s mut Symbolizer,
    profile: pprof::Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    /// (address, is a return address, leading inlined frames left out) -> location id.
    locations: HashMap<(usize, bool, usize), u64>,
    samples: HashMap<SampleKey, usize>,
    objects: Vec<Object>,
    /// For each of `objects`, its mapping id once added (0 before).
    mapping_ids: Vec<u64>,
    /// For each mapping (index `id - 1`): its locations, and those of them fully
    /// named, with files, with lines.
    coverage: Vec<[u64; 4]>,
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
        let objects = crate::objects::loaded();
        let mut b = ProfileBuilder {
            sym,
            profile: pprof::Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            samples: HashMap::new(),
            mapping_ids: vec![0; objects.len()],
            objects,
            coverage: Vec::new(),
        };
        b.string(""); // index 0 must be the empty string
        for (ty, unit) in sample_types {
            let vt = pprof::ValueType {
                ty: b.string(ty),
                unit: b.string(unit),
            };
            b.profile.sample_type.push(vt);
        }
        b.profile.period_type = Some(pprof::ValueType {
            ty: b.string(period_type.0),
            unit: b.string(period_type.1),
        });
        b.profile.period = period;
        b.profile.default_sample_type = b.string(default_sample_type);
        b.profile.time_nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        // pprof takes the first mapping for the main executable.
        for i in 0..b.objects.len() {
            if b.objects[i].is_main {
                b.mapping(i);
            }
        }
        b
    }

    /// The mapping id of `objects[i]`, adding the mapping on first use.
    fn mapping(&mut self, i: usize) -> u64 {
        let Some(&id) = self.mapping_ids.get(i) else {
            return 0;
        };
        if id != 0 {
            return id;
        }
        let Some(o) = self.objects.get(i).cloned() else {
            return 0;
        };
        let id = self.profile.mapping.len() as u64 + 1;
        let filename = self.string(&o.path);
        let build_id = self.string(&o.build_id);
        self.profile.mapping.push(pprof::Mapping {
            id,
            memory_start: o.start as u64,
            memory_limit: o.limit as u64,
            file_offset: o.offset,
            filename,
            build_id,
            has_functions: false,
            has_filenames: false,
            has_line_numbers: false,
            has_inline_frames: false,
        });
        self.coverage.push([0; 4]);
        if let Some(slot) = self.mapping_ids.get_mut(i) {
            *slot = id;
        }
        id
    }

    /// The mapping id of the object holding `addr` (0 when none does).
    fn mapping_of(&mut self, addr: usize) -> u64 {
        match self.objects.iter().position(|o| o.contains(addr)) {
            Some(i) => self.mapping(i),
            None => 0,
        }
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

    /// The location of `addr`, its first `skip` (inlined) frames left out.
    fn location(&mut self, addr: usize, is_return_address: bool, skip: usize) -> u64 {
        if let Some(&id) = self.locations.get(&(addr, is_return_address, skip)) {
            return id;
        }
        let frames = self.sym.resolve(addr, is_return_address);
        // A return address points after the call: the call instruction is at `addr - 1`.
        let address = if is_return_address {
            addr.saturating_sub(1)
        } else {
            addr
        };
        let mapping_id = self.mapping_of(address);
        if let Some(c) = mapping_id
            .checked_sub(1)
            .and_then(|i| self.coverage.get_mut(i as usize))
        {
            c[0] += 1;
            c[1] += frames.iter().all(Frame::is_named) as u64;
            c[2] += frames.iter().all(|f| f.file.is_some()) as u64;
            c[3] += frames.iter().all(|f| f.line.is_some()) as u64;
        }
        let kept = frames
            .get(skip..)
            .filter(|k| !k.is_empty())
            .unwrap_or(&frames);
        let mut lines = Vec::with_capacity(kept.len());
        for f in kept.iter() {
            let file = f.file.clone().unwrap_or_default();
            let key = (f.name.clone(), file.clone());
            let fid = match self.functions.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.profile.function.len() as u64 + 1;
                    let name = self.string(&f.name);
                    let filename = self.string(&file);
                    self.profile.function.push(pprof::Function {
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
            lines.push(pprof::Line {
                function_id: fid,
                line: f.line.unwrap_or(0) as i64,
            });
        }
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(pprof::Location {
            id,
            mapping_id,
            address: address as u64,
            line: lines,
            is_folded: false,
        });
        self.locations.insert((addr, is_return_address, skip), id);
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
        self.add_trimmed(stack, first_is_pc, values, labels, |_| false);
    }

    /// [`add`](Self::add) without the innermost frames for which `trim` is true (the
    /// allocator's own frames in a heap sample): leading addresses whose every
    /// (inlined) frame is trimmed are left out, then the leading trimmed inlined frames
    /// of the first address kept. At least one frame is kept.
    pub fn add_trimmed(
        &mut self,
        stack: &[usize],
        first_is_pc: bool,
        values: &[i64],
        labels: &[(&str, &str)],
        trim: impl Fn(&Frame) -> bool,
    ) {
        let is_ret = |i: usize| !(i == 0 && first_is_pc);
        let mut first = 0;
        let mut skip = 0;
        while let Some(&addr) = stack.get(first) {
            let frames = self.sym.resolve(addr, is_ret(first));
            let n = frames.iter().take_while(|f| trim(f)).count();
            if n == frames.len() && first + 1 < stack.len() {
                first += 1;
                continue;
            }
            skip = n.min(frames.len().saturating_sub(1));
            break;
        }
        let ids: Vec<u64> = stack
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, &a)| self.location(a, is_ret(i), if i == first { skip } else { 0 }))
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
                        self.profile.function.push(pprof::Function {
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
                self.profile.location.push(pprof::Location {
                    id,
                    mapping_id: 0,
                    address: 0,
                    line: vec![pprof::Line {
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
        self.profile.sample.push(pprof::Sample {
            location_id,
            value: values.to_vec(),
            label: labels
                .into_iter()
                .map(|(key, str, num)| pprof::Label {
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
    pub fn build(mut self) -> pprof::Profile {
        for (m, [locs, named, files, lines]) in self.profile.mapping.iter_mut().zip(&self.coverage)
        {
            let all = |n: &u64| *locs > 0 && n == locs;
            m.has_functions = all(named);
            m.has_filenames = all(files);
            m.has_line_numbers = all(lines);
            // Inlined frames come with the debug info that gives files.
            m.has_inline_frames = m.has_functions && m.has_filenames;
        }
        self.profile
    }
}

/// Serializes and gzips a profile (the `.pb.gz` that `go tool pprof` opens).
pub fn to_pprof_gz(p: &pprof::Profile) -> std::io::Result<Vec<u8>> {
    let raw = p.encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    gz.write_all(&raw)?;
    gz.finish()
}

/// Index of the default sample type (the last one when unset, as `go tool pprof`).
fn value_index(p: &pprof::Profile) -> usize {
    let n = p.sample_type.len();
    if n == 0 {
        return 0;
    }
    p.sample_type
        .iter()
        .position(|st| p.default_sample_type != 0 && st.ty == p.default_sample_type)
        .unwrap_or(n - 1)
}

fn str_at(p: &pprof::Profile, i: i64) -> &str {
    p.string_table
        .get(i as usize)
        .map(String::as_str)
        .unwrap_or("")
}

/// Function names of a sample's stack, innermost first (inlined frames expanded).
fn sample_names<'p>(
    p: &'p pprof::Profile,
    locs: &HashMap<u64, &'p pprof::Location>,
    funcs: &HashMap<u64, &'p pprof::Function>,
    s: &pprof::Sample,
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
    p: &pprof::Profile,
) -> (
    HashMap<u64, &pprof::Location>,
    HashMap<u64, &pprof::Function>,
) {
    (
        p.location.iter().map(|l| (l.id, l)).collect(),
        p.function.iter().map(|f| (f.id, f)).collect(),
    )
}

/// Folded stacks (`root;…;leaf value`), the input of flamegraph tools.
pub fn to_folded(p: &pprof::Profile) -> Vec<String> {
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
pub fn to_svg(p: &pprof::Profile, title: &str) -> Result<Vec<u8>, String> {
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

/// True for source files that are not the program's own: the Rust toolchain's
/// (`/rustc/<hash>/library/…`, `/rust/deps/…`, a local `rust-src`), crates from a registry or a git
/// checkout (`~/.cargo/registry/src/…`, `~/.cargo/git/checkouts/…`) and holmes'
/// runtime.
pub fn is_foreign_source(file: &str) -> bool {
    let file = file.replace('\\', "/");
    const TOOLCHAIN_LIBS: &[&str] = &[
        "std",
        "core",
        "alloc",
        "proc_macro",
        "panic_unwind",
        "panic_abort",
        "unwind",
        "backtrace",
        "stdarch",
        "portable-simd",
        "test",
    ];
    // `/rust/deps/` holds the standard library's own dependencies (hashbrown, …) as
    // the toolchain's line tables name them.
    if file.starts_with("/rustc/")
        || file.starts_with("/rust/deps/")
        || file.contains("/lib/rustlib/src/rust/")
        || file.contains("/registry/src/")
        || file.contains("/git/checkouts/")
    {
        return true;
    }
    if let Some(i) = file.find("/library/") {
        let lib = file[i + "/library/".len()..]
            .split('/')
            .next()
            .unwrap_or("");
        if TOOLCHAIN_LIBS.contains(&lib) {
            return true;
        }
    }
    // holmes' runtime: this build's sources, or a copy of them elsewhere (vendored).
    if file.starts_with(concat!(env!("CARGO_MANIFEST_DIR"), "/")) {
        return true;
    }
    file.rfind("/holmes-runtime").is_some_and(|i| {
        let rest = &file[i + "/holmes-runtime".len()..];
        rest.find('/').is_some_and(|j| {
            rest[..j]
                .chars()
                .all(|c| c == '-' || c == '.' || c.is_ascii_digit())
                && rest[j..].starts_with("/src/")
        })
    })
}

/// True for the path of an object of the operating system (the C library, the
/// dynamic loader, the vDSO), as a mapping of a profile names it.
fn is_system_object(path: &str) -> bool {
    Object {
        start: 0,
        limit: 0,
        offset: 0,
        path: path.to_owned(),
        build_id: String::new(),
        is_main: false,
    }
    .is_system()
}

/// One frame of a sample, as the culprit rule sees it.
#[derive(Clone, Copy, Debug)]
struct FrameInfo<'p> {
    name: &'p str,
    file: &'p str,
    line: i64,
    /// In an object of the operating system (not the executable).
    system: bool,
}

impl FrameInfo<'_> {
    /// The program's own code: decided by where the code lives — the mapping (not a
    /// system library) and, when the debug info has it, the source file (not the
    /// toolchain's, a dependency's or holmes') — and by the name only without a file
    /// ([`is_machinery`]), since release builds name functions without their path.
    fn is_users(&self) -> bool {
        if self.system {
            return false;
        }
        if self.file.is_empty() {
            !is_machinery(self.name)
        } else {
            !is_foreign_source(self.file)
        }
    }
}

/// The frames of a sample's stack, innermost first (inlined frames expanded).
fn sample_frames<'p>(
    p: &'p pprof::Profile,
    locs: &HashMap<u64, &'p pprof::Location>,
    funcs: &HashMap<u64, &'p pprof::Function>,
    s: &pprof::Sample,
) -> Vec<FrameInfo<'p>> {
    let main = p.mapping.first().map_or(0, |m| m.id);
    let mut out = Vec::new();
    for id in &s.location_id {
        let Some(loc) = locs.get(id) else { continue };
        let system = loc.mapping_id != 0
            && loc.mapping_id != main
            && p.mapping
                .iter()
                .find(|m| m.id == loc.mapping_id)
                .is_some_and(|m| is_system_object(str_at(p, m.filename)));
        for line in &loc.line {
            let f = funcs.get(&line.function_id);
            out.push(FrameInfo {
                name: f.map_or("?", |f| str_at(p, f.name)),
                file: f.map_or("", |f| str_at(p, f.filename)),
                line: line.line,
                system,
            });
        }
    }
    out
}

/// The culprit of a profile: in the heaviest stack (default sample type; samples with
/// the same frames merged), the innermost frame of the program's own code: not in a
/// system library, and from a source file that is not the toolchain's, a
/// dependency's or holmes' ([`is_foreign_source`]), or, for frames without a file,
/// not named like runtime machinery ([`is_machinery`]).
pub fn culprit(p: &pprof::Profile) -> Option<String> {
    let vi = value_index(p);
    let (locs, funcs) = indexes(p);
    // Samples with the same frames (lines aside) merge; the first one's lines stay.
    type Key<'p> = Vec<(&'p str, &'p str, bool)>;
    let mut by_stack: HashMap<Key, (i64, Vec<FrameInfo>)> = HashMap::new();
    for s in &p.sample {
        let frames = sample_frames(p, &locs, &funcs, s);
        let key = frames.iter().map(|f| (f.name, f.file, f.system)).collect();
        by_stack.entry(key).or_insert_with(|| (0, frames)).0 +=
            s.value.get(vi).copied().unwrap_or(0);
    }
    let (_, (_, frames)) = by_stack
        .into_iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(&a.0)))?;
    let at = frames.iter().position(FrameInfo::is_users)?;
    let f = frames[at];
    // Line tables name a closure or async body `{closure#0}`, `{async_fn#0}`, without
    // its function (and a tail call may have removed that function's frame): say
    // where it is, and in which of the program's functions it ran.
    if f.name.starts_with('{') && !f.file.is_empty() {
        let base = f.file.rsplit(['/', '\\']).next().unwrap_or(f.file);
        let mut out = if f.line > 0 {
            format!("{} at {base}:{}", f.name, f.line)
        } else {
            format!("{} in {base}", f.name)
        };
        if let Some(outer) = frames[at + 1..]
            .iter()
            .find(|o| o.is_users() && !o.name.starts_with('{'))
        {
            out.push_str(&format!(" in {}", outer.name));
        }
        return Some(out);
    }
    Some(f.name.to_owned())
}

/// When some code addresses of the main executable could not be named (a stripped
/// binary): a line saying so and how to read the pprof with the unstripped binary.
pub fn symbols_note(p: &pprof::Profile, pprof_file: &str) -> Option<String> {
    let main = p.mapping.first()?;
    let (_, funcs) = indexes(p);
    let ours: Vec<&pprof::Location> = p
        .location
        .iter()
        .filter(|l| l.mapping_id == main.id)
        .collect();
    let unnamed = ours
        .iter()
        .filter(|l| {
            l.line.iter().all(|line| {
                funcs
                    .get(&line.function_id)
                    .is_none_or(|f| str_at(p, f.name).starts_with("0x"))
            })
        })
        .count();
    if unnamed == 0 {
        return None;
    }
    let exe = str_at(p, main.filename);
    let base = exe.rsplit('/').next().unwrap_or(exe);
    let build_id = str_at(p, main.build_id);
    Some(format!(
        "symbols: {unnamed} of {} addresses in {exe} have no symbol (a stripped binary?); \
         the pprof keeps them with the executable's mapping{}: name them with the unstripped \
         binary: go tool pprof -top <unstripped {base}> {pprof_file} \
         (upstream pprof also finds it by build-id: PPROF_BINARY_PATH=<dir holding {base}> pprof -top {pprof_file})\n",
        ours.len(),
        if build_id.is_empty() {
            String::new()
        } else {
            format!(" and build-id {build_id}")
        }
    ))
}

/// The functions with the largest flat value of the default sample type, like
/// `go tool pprof -top`, and the total.
pub fn top(p: &pprof::Profile, n: usize) -> (Vec<TopEntry>, i64) {
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
pub fn to_text(p: &pprof::Profile, header: &str, n: usize) -> String {
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

    fn sample_profile(sym: &mut Symbolizer) -> pprof::Profile {
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
        let back = pprof::Profile::decode(&raw[..]).unwrap();
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

    // Guards against: locations without mappings (`mapping_id: 0`), which left dumps of
    // stripped binaries unsymbolizable offline.
    #[test]
    fn locations_carry_addresses_and_mappings() {
        let mut sym = Symbolizer::new();
        let p = sample_profile(&mut sym);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let main = &p.mapping[0];
        assert_eq!(main.id, 1);
        assert_eq!(str_at(&p, main.filename), exe.to_string_lossy());
        assert!(main.memory_start < main.memory_limit);
        assert!(
            main.has_functions && main.has_filenames && main.has_line_numbers,
            "{main:?}"
        );
        let leaf = leaf_fn_for_profile();
        for l in &p.location {
            assert_eq!(l.mapping_id, 1, "{l:?}");
            assert!(main.memory_start <= l.address && l.address < main.memory_limit);
        }
        // The leaf was added as an interrupted PC (as is), the root as a return
        // address (minus one, inside the call).
        assert!(p.location.iter().any(|l| l.address == leaf as u64));
        let root = root_fn_for_profile();
        assert!(p.location.iter().any(|l| l.address == root as u64 - 1));
        // An address no object holds: mapping 0, and no mapping claims it symbolized.
        let mut b = ProfileBuilder::new(
            &mut sym,
            &[("samples", "count")],
            ("samples", "count"),
            1,
            "samples",
        );
        b.add(&[16], true, &[1], &[]);
        let p = b.build();
        assert_eq!(p.location[0].mapping_id, 0);
        assert!(!p.mapping[0].has_functions, "no location in the executable");
    }

    // Guards against: heap profiles whose flat column sat on the allocator's frames.
    #[test]
    fn trimmed_frames_leave_the_caller_innermost() {
        let mut sym = Symbolizer::new();
        let leaf = std::hint::black_box(leaf_fn_for_profile());
        let root = std::hint::black_box(root_fn_for_profile());
        let mut b = ProfileBuilder::new(
            &mut sym,
            &[("space", "bytes")],
            ("space", "bytes"),
            1,
            "space",
        );
        b.add_trimmed(&[leaf, root], false, &[10], &[], |f| {
            f.name.contains("leaf_fn_for_profile")
        });
        // Everything trimmed: the outermost frame stays.
        b.add_trimmed(&[leaf], false, &[5], &[], |_| true);
        let p = b.build();
        let (rows, _) = top(&p, 10);
        let root_row = rows
            .iter()
            .find(|r| r.name.contains("root_fn_for_profile"))
            .unwrap();
        assert_eq!(root_row.flat, 10, "{rows:?}");
        let leaf_row = rows
            .iter()
            .find(|r| r.name.contains("leaf_fn_for_profile"))
            .unwrap();
        assert_eq!(leaf_row.flat, 5, "{rows:?}");
    }

    /// `(function name, source file, object path)`.
    type SyntheticFrame<'a> = (&'a str, &'a str, &'a str);

    /// A profile of `stacks` (frames innermost first as `(name, file, mapping path)`
    /// with their values); the first mapping is the executable.
    fn synthetic(stacks: &[(&[SyntheticFrame], i64)]) -> pprof::Profile {
        let mut p = pprof::Profile {
            string_table: vec![String::new()],
            sample_type: vec![pprof::ValueType { ty: 0, unit: 0 }],
            ..Default::default()
        };
        let intern = |p: &mut pprof::Profile, s: &str| {
            if let Some(i) = p.string_table.iter().position(|x| x == s) {
                return i as i64;
            }
            p.string_table.push(s.to_owned());
            p.string_table.len() as i64 - 1
        };
        for path in ["/srv/app/bin/app", "/usr/lib/x86_64-linux-gnu/libc.so.6"] {
            let filename = intern(&mut p, path);
            let id = p.mapping.len() as u64 + 1;
            p.mapping.push(pprof::Mapping {
                id,
                filename,
                ..Default::default()
            });
        }
        for (frames, value) in stacks {
            let mut ids = Vec::new();
            for (name, file, object) in frames.iter() {
                let id = p.function.len() as u64 + 1;
                let (name, filename) = (intern(&mut p, name), intern(&mut p, file));
                p.function.push(pprof::Function {
                    id,
                    name,
                    system_name: name,
                    filename,
                    start_line: 0,
                });
                let object = intern(&mut p, object);
                let mapping_id = p.mapping.iter().find(|m| m.filename == object).unwrap().id;
                p.location.push(pprof::Location {
                    id,
                    mapping_id,
                    address: 0x1000 + id,
                    line: vec![pprof::Line {
                        function_id: id,
                        line: 1,
                    }],
                    is_folded: false,
                });
                ids.push(id);
            }
            p.sample.push(pprof::Sample {
                location_id: ids,
                value: vec![*value],
                label: vec![],
            });
        }
        p
    }

    // Guards against: release builds naming std, the allocator or holmes as the culprit
    // (`black_box<u64>`, `lock`, `charge`, `grow_amortized<…>`): their line tables name
    // functions without a path, so only the file tells whose code it is.
    #[test]
    fn culprit_is_chosen_by_where_the_code_lives() {
        const APP: &str = "/srv/app/bin/app";
        const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        let std_file =
            "/rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library/std/src/sync/poison/mutex.rs";
        let core_file = "/rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library/core/src/hint.rs";
        let raw_vec =
            "/rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library/alloc/src/raw_vec/mod.rs";
        let tokio = "/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.47.1/src/runtime/task/harness.rs";
        let git = "/home/ci/.cargo/git/checkouts/foo-1234/abcd/src/lib.rs";
        let holmes = concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/mod.rs");
        let vendored_holmes = "/build/vendor/holmes-runtime-0.1.0/src/alloc/mod.rs";
        let user = "/srv/app/src/main.rs";
        // The deadlock: futex in libc, std's lock, then the user's function.
        let p = synthetic(&[
            (
                &[
                    ("syscall", "", LIBC),
                    ("lock_contended", std_file, APP),
                    ("lock", std_file, APP),
                    ("takes_a_then_b", user, APP),
                    ("main", user, APP),
                ],
                3,
            ),
            (&[("main", user, APP)], 1),
        ]);
        assert_eq!(culprit(&p).as_deref(), Some("takes_a_then_b"));
        // A spinner whose hot loop inlines `black_box`.
        let p = synthetic(&[(
            &[("black_box<u64>", core_file, APP), ("spin", user, APP)],
            9,
        )]);
        assert_eq!(culprit(&p).as_deref(), Some("spin"));
        // Heap: holmes' allocator (also vendored), `RawVec`, a dependency, a git
        // dependency, then the user's code.
        let p = synthetic(&[(
            &[
                ("charge", holmes, APP),
                ("record", vendored_holmes, APP),
                ("grow_amortized<alloc::alloc::Global>", raw_vec, APP),
                ("poll", tokio, APP),
                ("parse", git, APP),
                ("consumer", user, APP),
            ],
            5,
        )]);
        assert_eq!(culprit(&p).as_deref(), Some("consumer"));
        // Without a file (no debug info), the name decides; a user-looking name in a
        // system library never wins.
        let p = synthetic(&[(
            &[
                ("start_thread_helper", "", LIBC),
                ("std::sync::poison::mutex::Mutex<T>::lock", "", APP),
                ("app::handler", "", APP),
            ],
            5,
        )]);
        assert_eq!(culprit(&p).as_deref(), Some("app::handler"));
        // The heaviest stack wins, even when split across samples.
        let p = synthetic(&[
            (&[("a", user, APP)], 3),
            (&[("b", user, APP)], 4),
            (&[("a", user, APP)], 3),
        ]);
        assert_eq!(culprit(&p).as_deref(), Some("a"));
        // A closure named as line tables name it (no function) gets its place.
        let p = synthetic(&[(
            &[
                ("with_capacity_in<u8, alloc::alloc::Global>", raw_vec, APP),
                ("{closure#0}", user, APP),
                ("fold<…>", core_file, APP),
                ("heap_spike_culprit", user, APP),
                ("main", user, APP),
            ],
            5,
        )]);
        assert_eq!(
            culprit(&p).as_deref(),
            Some("{closure#0} at main.rs:1 in heap_spike_culprit")
        );
    }

    #[test]
    fn foreign_sources() {
        for f in [
            "/rustc/abc/library/std/src/thread/mod.rs",
            "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/ops/function.rs",
            "/opt/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hashbrown-0.15.2/src/map.rs",
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/dump/cpu.rs"),
            "/x/vendor/holmes-runtime/src/symbol.rs",
            "/rust/deps/hashbrown-0.16.1/src/raw/alloc.rs",
        ] {
            assert!(is_foreign_source(f), "{f}");
        }
        for f in [
            "/srv/app/src/main.rs",
            "/work/main/holmes-scenarios/src/bin/cpu_spike.rs",
            "src/lib.rs",
            "/srv/app/holmes-runtime-notes/src/x.rs",
        ] {
            assert!(!is_foreign_source(f), "{f}");
        }
    }

    #[test]
    fn formats_values() {
        assert_eq!(fmt_value(512, "bytes"), "512B");
        assert_eq!(fmt_value(3 << 20, "bytes"), "3.00MiB");
        assert_eq!(fmt_value(2_500_000_000, "nanoseconds"), "2.50s");
        assert_eq!(fmt_value(7, "count"), "7");
    }
}
