//! The pprof profile format: the messages of Google's `profile.proto` (package
//! `perftools.profiles`), as holmes writes them gzipped in every `.pb.gz` dump and as
//! `go tool pprof`, Grafana Pyroscope and the Go runtime read them.
//!
//! # Why our own types
//! These eight messages are all holmes needs of pprof-rs, whose profiler it does not use;
//! written here with prost's derive, they cost 5 crates instead of pprof-rs's ~49, and a
//! new pprof-rs cannot change them. The numbers are in `docs/benchmarks.md`
//! ("Dependencies").
//!
//! # Fidelity
//! Field numbers and types are those of `profile.proto` (checked against the decoder of
//! `go tool pprof`); field names are the proto's, except `ValueType::ty` for the proto's
//! `type` (a keyword in Rust). Fields that later versions of `profile.proto` added and
//! holmes does not write (a `Line`'s `column`) are left out; decoding a profile that
//! has them skips them, as protobuf does with any unknown field.
//!
//! Encoding and decoding go through [`Message`] (prost's trait, re-exported here so a
//! user needs no `prost` dependency of their own):
//!
//! ```
//! use holmes_runtime::dump::pprof::{Message, Profile};
//!
//! let p = Profile { string_table: vec![String::new()], ..Default::default() };
//! let bytes = p.encode_to_vec();
//! assert_eq!(Profile::decode(&bytes[..]).unwrap(), p);
//! ```

pub use prost::Message;

/// A profile: samples, the stacks they hold and the string table every index points
/// into. `string_table[0]` must be `""`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    /// What each of a sample's values is, e.g. `[("samples", "count"), ("cpu",
    /// "nanoseconds")]`.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// The loaded objects the locations' addresses fall in; the first is the main
    /// executable.
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    /// The program locations the samples' stacks are made of.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// The functions the locations' lines name.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string of the profile; the other messages hold indexes into it.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// Frames whose function name fully matches this regexp are dropped, with their
    /// callees (index into the string table).
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    /// Frames whose function name fully matches this regexp are kept even if
    /// `drop_frames` matches them (index into the string table).
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    /// When the collection started, in nanoseconds since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// How long the collection took, in nanoseconds.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// The kind of events between samples, e.g. `("cpu", "nanoseconds")`.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// The number of events between samples.
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-text comments (indexes into the string table).
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// The sample type shown by default (index into the string table); unset, the
    /// last one.
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// What a value measures and in which unit.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    /// The measure, e.g. `"cpu"` (index into the string table; the proto's `type`).
    #[prost(int64, tag = "1")]
    pub ty: i64,
    /// The unit, e.g. `"nanoseconds"` (index into the string table).
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// Values recorded at one stack, with labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The stack, as [`Location`] ids, innermost first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per [`Profile::sample_type`].
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Context of the sample (a thread's name, a task's id).
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// A key with a string or a numeric value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The key (index into the string table).
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// A string value (index into the string table), or 0.
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// A numeric value, when `str` is 0.
    #[prost(int64, tag = "3")]
    pub num: i64,
    /// The unit of `num` (index into the string table).
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// An object (executable, shared library) mapped into the address space.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    /// The mapping's id (nonzero).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Where it starts in memory.
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    /// Where it ends in memory (exclusive).
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    /// The file offset mapped at `memory_start`.
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    /// The object's path (index into the string table).
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// The object's build id (index into the string table).
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    /// Every location in it has a function name.
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    /// Every location in it has a source file.
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    /// Every location in it has a line number.
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    /// Its locations list inlined frames.
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// A program location: an address and the (inlined) functions at it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// The location's id (nonzero).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The [`Mapping`] holding `address` (0 when none does).
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    /// The instruction address (a return address is recorded inside the call).
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// The functions at the address, innermost (inlined) first, the caller last.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    /// Several symbols share this address (identical code folding).
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// A function and line of a [`Location`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    /// The [`Function`]'s id.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// The source line (0 when unknown).
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// A function.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    /// The function's id (nonzero).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its name, demangled (index into the string table).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// Its name as the system knows it (index into the string table).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// Its source file (index into the string table).
    #[prost(int64, tag = "4")]
    pub filename: i64,
    /// The line it starts at.
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards against: a field number or wire type that differs from profile.proto. The
    // bytes are written by hand from the proto (tag = field << 3 | wire type), so the
    // derive cannot agree with itself on a wrong number.
    #[test]
    fn encodes_the_field_numbers_of_profile_proto() {
        let p = Profile {
            sample_type: vec![ValueType { ty: 1, unit: 2 }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![7],
                label: vec![Label {
                    key: 1,
                    str: 2,
                    num: 3,
                    num_unit: 4,
                }],
            }],
            mapping: vec![Mapping {
                id: 1,
                memory_start: 2,
                memory_limit: 3,
                file_offset: 4,
                filename: 5,
                build_id: 6,
                has_functions: true,
                has_filenames: true,
                has_line_numbers: true,
                has_inline_frames: true,
            }],
            location: vec![Location {
                id: 1,
                mapping_id: 2,
                address: 3,
                line: vec![Line {
                    function_id: 4,
                    line: 5,
                }],
                is_folded: true,
            }],
            function: vec![Function {
                id: 1,
                name: 2,
                system_name: 3,
                filename: 4,
                start_line: 5,
            }],
            string_table: vec![String::new(), "a".into()],
            drop_frames: 1,
            keep_frames: 2,
            time_nanos: 3,
            duration_nanos: 4,
            period_type: Some(ValueType { ty: 5, unit: 6 }),
            period: 7,
            comment: vec![1],
            default_sample_type: 8,
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            // sample_type = 1: ValueType { type = 1: 1, unit = 2: 2 }
            0x0a, 4, 0x08, 1, 0x10, 2,
            // sample = 2: Sample { location_id = 1 (packed): [1], value = 2 (packed): [7],
            // label = 3: Label { key = 1, str = 2, num = 3, num_unit = 4 } }
            0x12, 16, 0x0a, 1, 1, 0x12, 1, 7, 0x1a, 8, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4,
            // mapping = 3: Mapping { id = 1 .. has_inline_frames = 10 }
            0x1a, 20, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4, 0x28, 5, 0x30, 6,
            0x38, 1, 0x40, 1, 0x48, 1, 0x50, 1,
            // location = 4: Location { id = 1, mapping_id = 2, address = 3,
            // line = 4: Line { function_id = 1, line = 2 }, is_folded = 5 }
            0x22, 14, 0x08, 1, 0x10, 2, 0x18, 3, 0x22, 4, 0x08, 4, 0x10, 5, 0x28, 1,
            // function = 5: Function { id = 1, name = 2, system_name = 3, filename = 4,
            // start_line = 5 }
            0x2a, 10, 0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4, 0x28, 5,
            // string_table = 6: "", "a"
            0x32, 0, 0x32, 1, b'a',
            // drop_frames = 7 .. duration_nanos = 10
            0x38, 1, 0x40, 2, 0x48, 3, 0x50, 4,
            // period_type = 11: ValueType { 5, 6 }
            0x5a, 4, 0x08, 5, 0x10, 6,
            // period = 12, comment = 13 (packed), default_sample_type = 14
            0x60, 7, 0x6a, 1, 1, 0x70, 8,
        ];
        assert_eq!(p.encode_to_vec(), expected);
        assert_eq!(Profile::decode(expected).unwrap(), p);
    }

    // Guards against: refusing profiles written by other tools: repeated scalars not
    // packed (as older encoders write them) and fields unknown here (a Line's column).
    #[test]
    fn decodes_unpacked_repeated_fields_and_skips_unknown_ones() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            // sample = 2: location_id = 1 twice, unpacked (varint wire type).
            0x12, 4, 0x08, 3, 0x08, 4,
            // location = 4: line = 4: Line { function_id = 1, line = 2, column = 3 }
            0x22, 8, 0x22, 6, 0x08, 1, 0x10, 9, 0x18, 5,
        ];
        let p = Profile::decode(bytes).unwrap();
        assert_eq!(p.sample[0].location_id, [3, 4]);
        assert_eq!(
            p.location[0].line,
            [Line {
                function_id: 1,
                line: 9
            }]
        );
    }
}
