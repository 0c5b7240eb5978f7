//! DWARF line tables and inline trees, read one compile unit at a time.
//!
//! Contract: opening parses nothing but the address-to-unit table (`.debug_aranges`,
//! or each unit's root entry when it is missing);
//! [`Dwarf::frames`] parses the unit that holds an address (its functions' ranges and
//! its line rows) and keeps at most [`UNITS_KEPT`] units parsed.
//! So a lookup costs what its unit costs, not what the whole file does.
//!
//! Written on `gimli` rather than through `addr2line`'s `Context`, which parses every
//! unit of the file up front (their abbreviations and line program headers: +33 MiB
//! of heap and +27 MiB of touched file pages for the 38 MB demo service with line
//! tables, at the moment a dump fires) and keeps them until dropped.

use std::sync::Arc;

use gimli::{AttributeValue, DebugInfoOffset, UnitOffset};

use super::Frame;

pub(super) type Slice = gimli::EndianSlice<'static, gimli::RunTimeEndian>;
type Unit = gimli::Unit<Slice>;

/// Parsed units kept at a time (the least recently used one goes first).
pub(super) const UNITS_KEPT: usize = 16;

/// How deep `DW_AT_abstract_origin` / `DW_AT_specification` chains are followed.
const MAX_ORIGIN_DEPTH: usize = 8;

/// One parsed unit: its entries, and the tables built from them when first needed.
struct ParsedUnit {
    offset: DebugInfoOffset,
    unit: Unit,
    /// Concrete functions: `(begin, end, entry)`, sorted by `begin`.
    functions: Vec<(u64, u64, UnitOffset)>,
    /// Line rows: `(address, file, line)`, sorted; `file == u64::MAX` ends a sequence.
    rows: Vec<(u64, u64, u32)>,
}

/// A file's DWARF, read lazily.
pub(super) struct Dwarf {
    dwarf: gimli::Dwarf<Slice>,
    /// `(begin, end, unit)`, sorted by `begin`.
    ranges: Vec<(u64, u64, DebugInfoOffset)>,
    /// Every unit's offset, sorted (to find the unit of a cross-unit reference);
    /// empty until one is followed.
    unit_starts: Vec<DebugInfoOffset>,
    /// Most recently used last.
    parsed: Vec<Arc<ParsedUnit>>,
}

impl Dwarf {
    pub(super) fn new(dwarf: gimli::Dwarf<Slice>) -> Option<Dwarf> {
        let mut d = Dwarf {
            dwarf,
            ranges: Vec::new(),
            unit_starts: Vec::new(),
            parsed: Vec::new(),
        };
        d.read_aranges();
        if d.ranges.is_empty() {
            d.read_unit_ranges();
        }
        d.ranges.sort_unstable_by_key(|r| r.0);
        d.ranges.shrink_to_fit();
        (!d.ranges.is_empty()).then_some(d)
    }

    /// The offset of the unit holding `o`. The units' offsets are listed on the
    /// first cross-unit reference (walking every unit header touches most of
    /// `.debug_info`'s pages).
    fn unit_of(&mut self, o: DebugInfoOffset) -> Option<DebugInfoOffset> {
        if self.unit_starts.is_empty() {
            let mut headers = self.dwarf.units();
            while let Ok(Some(h)) = headers.next() {
                if let Some(o) = h.offset().to_debug_info_offset(&h) {
                    self.unit_starts.push(o);
                }
            }
        }
        let i = self
            .unit_starts
            .partition_point(|s| s.0 <= o.0)
            .checked_sub(1)?;
        Some(self.unit_starts[i])
    }

    fn read_aranges(&mut self) {
        let mut headers = self.dwarf.debug_aranges.headers();
        while let Ok(Some(h)) = headers.next() {
            let unit = h.debug_info_offset();
            let mut entries = h.entries();
            while let Ok(Some(e)) = entries.next() {
                if e.length() > 0 {
                    let r = e.range();
                    self.ranges.push((r.begin, r.end, unit));
                }
            }
        }
    }

    /// Without `.debug_aranges`: each unit's root entry's ranges, one unit parsed at a
    /// time and dropped.
    fn read_unit_ranges(&mut self) {
        let mut headers = self.dwarf.units();
        while let Ok(Some(h)) = headers.next() {
            let Some(offset) = h.offset().to_debug_info_offset(&h) else {
                continue;
            };
            let Ok(unit) = self.dwarf.unit(h) else {
                continue;
            };
            let mut entries = unit.entries();
            let Ok(Some(root)) = entries.next_dfs() else {
                continue;
            };
            if let Ok(mut it) = self.dwarf.die_ranges(&unit, root) {
                while let Ok(Some(r)) = it.next() {
                    if r.end > r.begin {
                        self.ranges.push((r.begin, r.end, offset));
                    }
                }
            }
        }
    }

    /// The frames at `svma`, innermost first, appended to `out`: the inlined
    /// functions' names and each frame's file and line. Nothing when no unit covers
    /// it. Names may be empty (the caller names the outermost frame from the symbol
    /// table).
    pub(super) fn frames(&mut self, svma: u64, out: &mut Vec<Frame>) {
        let Some(offset) = self.unit_at(svma) else {
            return;
        };
        let Some(pu) = self.parsed(offset) else {
            return;
        };
        // The function and the inlined calls around `svma`, outermost first.
        let chain = self.inline_chain(&pu, svma);
        let first = out.len();
        let mut location = row_at(&pu.rows, svma)
            .and_then(|(file, line)| Some((self.file_path(&pu.unit, file)?, line)));
        // Innermost first: each inlined call's DW_AT_call_file/line is where its caller
        // (the next frame out) was.
        for (i, entry) in chain.iter().enumerate().rev() {
            let name = self.name(&pu, *entry, 0).unwrap_or_default();
            let (file, line) = location
                .take()
                .map_or((None, None), |(f, l)| (Some(f), Some(l)));
            out.push(Frame { name, file, line });
            if i > 0 {
                location = self.call_site(&pu, *entry);
            }
        }
        if out.len() == first {
            if let Some((file, line)) = location {
                out.push(Frame {
                    name: String::new(),
                    file: Some(file),
                    line: Some(line),
                });
            }
        }
    }

    fn unit_at(&self, svma: u64) -> Option<DebugInfoOffset> {
        let end = self.ranges.partition_point(|r| r.0 <= svma);
        // Ranges of different units do not overlap; look back a little in case.
        self.ranges[..end]
            .iter()
            .rev()
            .take(8)
            .find(|r| svma < r.1)
            .map(|r| r.2)
    }

    /// The parsed unit at `offset`, parsing it (and evicting the least recently used)
    /// when needed.
    fn parsed(&mut self, offset: DebugInfoOffset) -> Option<Arc<ParsedUnit>> {
        if let Some(i) = self.parsed.iter().position(|p| p.offset == offset) {
            let pu = self.parsed.remove(i);
            self.parsed.push(pu.clone());
            return Some(pu);
        }
        let header = self.dwarf.debug_info.header_from_offset(offset).ok()?;
        let unit = self.dwarf.unit(header).ok()?;
        let pu = ParsedUnit {
            offset,
            functions: self.functions(&unit),
            rows: line_rows(&unit),
            unit,
        };
        if self.parsed.len() >= UNITS_KEPT {
            self.parsed.remove(0);
        }
        let pu = Arc::new(pu);
        self.parsed.push(pu.clone());
        Some(pu)
    }

    /// The unit's concrete functions (entries with an address range).
    fn functions(&self, unit: &Unit) -> Vec<(u64, u64, UnitOffset)> {
        let mut out = Vec::new();
        let mut entries = unit.entries();
        while let Ok(Some(e)) = entries.next_dfs() {
            if e.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            if let Ok(mut it) = self.dwarf.die_ranges(unit, e) {
                while let Ok(Some(r)) = it.next() {
                    if r.end > r.begin {
                        out.push((r.begin, r.end, e.offset()));
                    }
                }
            }
        }
        out.sort_unstable_by_key(|f| f.0);
        out.shrink_to_fit();
        out
    }

    /// The function containing `svma` and the inlined calls (and lexical blocks
    /// skipped) down to `svma`: outermost first.
    fn inline_chain(&self, pu: &ParsedUnit, svma: u64) -> Vec<UnitOffset> {
        let functions = &pu.functions;
        let end = functions.partition_point(|f| f.0 <= svma);
        let Some(&(_, _, function)) = functions[..end].iter().rev().find(|f| svma < f.1) else {
            return Vec::new();
        };
        let mut chain = vec![function];
        // Descend into the child whose ranges contain `svma`, as long as one does.
        let mut at = Some(function);
        while let Some(parent) = at.take() {
            let Ok(mut tree) = pu.unit.entries_tree(Some(parent)) else {
                break;
            };
            let Ok(node) = tree.root() else {
                break;
            };
            let mut children = node.children();
            while let Ok(Some(child)) = children.next() {
                let e = child.entry();
                let tag = e.tag();
                if (tag == gimli::DW_TAG_inlined_subroutine || tag == gimli::DW_TAG_lexical_block)
                    && self.contains(&pu.unit, e, svma)
                {
                    if tag == gimli::DW_TAG_inlined_subroutine {
                        chain.push(e.offset());
                    }
                    at = Some(e.offset());
                    break;
                }
            }
        }
        chain
    }

    fn contains(
        &self,
        unit: &Unit,
        e: &gimli::DebuggingInformationEntry<Slice>,
        svma: u64,
    ) -> bool {
        let Ok(mut it) = self.dwarf.die_ranges(unit, e) else {
            return false;
        };
        while let Ok(Some(r)) = it.next() {
            if r.begin <= svma && svma < r.end {
                return true;
            }
        }
        false
    }

    /// An entry's function name: its linkage name demangled, else its name, else its
    /// abstract origin's or specification's (perhaps in another unit).
    fn name(&mut self, pu: &Arc<ParsedUnit>, at: UnitOffset, depth: usize) -> Option<String> {
        let e = pu.unit.entry(at).ok()?;
        for attr in [gimli::DW_AT_linkage_name, gimli::DW_AT_MIPS_linkage_name] {
            if let Some(v) = e.attr_value(attr) {
                if let Ok(s) = self.dwarf.attr_string(&pu.unit, v) {
                    return Some(super::demangle(&s.to_string_lossy()));
                }
            }
        }
        if let Some(v) = e.attr_value(gimli::DW_AT_name) {
            if let Ok(s) = self.dwarf.attr_string(&pu.unit, v) {
                return Some(s.to_string_lossy().into_owned());
            }
        }
        if depth >= MAX_ORIGIN_DEPTH {
            return None;
        }
        for attr in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
            match e.attr_value(attr) {
                Some(AttributeValue::UnitRef(o)) => return self.name(pu, o, depth + 1),
                Some(AttributeValue::DebugInfoRef(o)) => {
                    let unit = self.unit_of(o)?;
                    let other = self.parsed(unit)?;
                    let o = o.to_unit_offset(&other.unit.header)?;
                    return self.name(&other, o, depth + 1);
                }
                _ => {}
            }
        }
        None
    }

    /// Where the inlined call at `at` was made: its `DW_AT_call_file` and
    /// `DW_AT_call_line`.
    fn call_site(&self, pu: &ParsedUnit, at: UnitOffset) -> Option<(String, u32)> {
        let e = pu.unit.entry(at).ok()?;
        let file = match e.attr_value(gimli::DW_AT_call_file)? {
            AttributeValue::FileIndex(f) => f,
            AttributeValue::Udata(f) => f,
            _ => return None,
        };
        let line = e
            .attr_value(gimli::DW_AT_call_line)
            .and_then(|v| v.udata_value())
            .unwrap_or(0);
        Some((self.file_path(&pu.unit, file)?, line as u32))
    }

    /// The path of file `index` of the unit's line program: its directory (the
    /// compile directory for relative ones) joined with its name.
    fn file_path(&self, unit: &Unit, index: u64) -> Option<String> {
        let header = unit.line_program.as_ref()?.header();
        let file = header.file(index)?;
        let mut path = unit
            .comp_dir
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(dir) = file.directory(header) {
            if let Ok(d) = self.dwarf.attr_string(unit, dir) {
                join(&mut path, &d.to_string_lossy());
            }
        }
        let name = self.dwarf.attr_string(unit, file.path_name()).ok()?;
        join(&mut path, &name.to_string_lossy());
        Some(path)
    }
}

/// The unit's line rows, sorted by address, sequence ends marked `file == u64::MAX`.
fn line_rows(unit: &Unit) -> Vec<(u64, u64, u32)> {
    let mut out = Vec::new();
    let Some(program) = unit.line_program.clone() else {
        return out;
    };
    let mut rows = program.rows();
    while let Ok(Some((_, row))) = rows.next_row() {
        if row.end_sequence() {
            out.push((row.address(), u64::MAX, 0));
        } else {
            let line = row
                .line()
                .map_or(0, |l| l.get().min(u32::MAX as u64) as u32);
            out.push((row.address(), row.file_index(), line));
        }
    }
    // Stable: a sequence's end and the next sequence's start may share an address, the
    // start must stay after the end.
    out.sort_by_key(|r| r.0);
    out.shrink_to_fit();
    out
}

/// The `(file, line)` of the row covering `svma`.
fn row_at(rows: &[(u64, u64, u32)], svma: u64) -> Option<(u64, u32)> {
    let i = rows.partition_point(|r| r.0 <= svma).checked_sub(1)?;
    let (_, file, line) = rows[i];
    (file != u64::MAX && line > 0).then_some((file, line))
}

fn join(path: &mut String, part: &str) {
    if part.starts_with('/') || path.is_empty() {
        path.clear();
        path.push_str(part);
    } else if !part.is_empty() {
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part);
    }
}
