//! The objects loaded in this process (the executable and every shared object): where
//! their code is mapped, which file it comes from and its GNU build-id.
//!
//! Profiles carry these as pprof `Mapping`s so that a profile taken by a stripped
//! binary can be symbolized later, by `go tool pprof` with `PPROF_BINARY_PATH` or by a
//! profiling backend, against the unstripped binary with the same build-id.
//!
//! Contract: [`loaded`] lists one [`Object`] per executable `PT_LOAD` segment, the main
//! executable's first, with the segment's exact bounds and file offset (not rounded to
//! pages as in `/proc/self/maps`: `go tool pprof` takes `start` for the address of the
//! segment's `p_vaddr`, upstream pprof accepts either). It reads the program headers in memory through `dl_iterate_phdr`
//! (which takes the dynamic loader's lock: call it on a holmes thread, never from a
//! signal handler or the allocator) and does no file I/O except reading the
//! `/proc/self/exe` link. It never fails: an object it cannot read is left out, and
//! outside Linux the list is empty.

/// One executable segment of a loaded object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The segment's first address (the load bias plus its `p_vaddr`).
    pub start: usize,
    /// One past its last address.
    pub limit: usize,
    /// File offset of `start` (its `p_offset`).
    pub offset: u64,
    /// The object's file: the executable's real path (`/proc/self/exe`), a shared
    /// object's path as the loader names it (`linux-vdso.so.1` for the vDSO).
    pub path: String,
    /// The `NT_GNU_BUILD_ID` note in lowercase hex, empty when the object has none.
    pub build_id: String,
    /// True for the main executable.
    pub is_main: bool,
}

impl Object {
    /// True when `addr` lies in this segment.
    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.limit
    }

    /// True for objects of the operating system rather than of the program: the C
    /// library, the dynamic loader, the vDSO and other shared objects installed under
    /// the system library directories.
    pub fn is_system(&self) -> bool {
        if self.is_main {
            return false;
        }
        const SYSTEM_DIRS: &[&str] = &["/lib/", "/lib64/", "/lib32/", "/usr/lib", "/usr/local/lib"];
        let p = self.path.as_str();
        p.is_empty()
            || p.starts_with('[')
            || p.starts_with("linux-vdso")
            || p.starts_with("linux-gate")
            || SYSTEM_DIRS.iter().any(|d| p.starts_with(d))
    }
}

/// One loaded object as the dynamic loader describes it, for the duration of a
/// [`for_each_loaded`] callback.
#[cfg(target_os = "linux")]
pub(crate) struct Loaded<'a> {
    /// Its name as the loader knows it (empty for the main executable).
    pub name: String,
    /// The load bias: add it to a `p_vaddr` for the runtime address.
    pub bias: usize,
    /// Its program headers.
    pub phdrs: &'a [libc::Elf64_Phdr],
}

/// Calls `f` with every loaded object, the main executable first. Takes the dynamic
/// loader's lock (`dl_iterate_phdr`): never from a signal handler or the allocator.
#[cfg(target_os = "linux")]
pub(crate) fn for_each_loaded(mut f: impl FnMut(&Loaded<'_>)) {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `info` is valid for this call (dl_iterate_phdr's contract); `data` is
        // the `&mut dyn FnMut` passed below, alive for the whole iteration.
        let (info, f) = unsafe { (&*info, &mut *data.cast::<&mut dyn FnMut(&Loaded<'_>)>()) };
        let phdrs: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
            &[]
        } else {
            // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) }
        };
        let name = if info.dlpi_name.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated string owned by the loader.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }
                .to_string_lossy()
                .into_owned()
        };
        f(&Loaded {
            name,
            bias: info.dlpi_addr as usize,
            phdrs,
        });
        0
    }
    let mut f: &mut dyn FnMut(&Loaded<'_>) = &mut f;
    // SAFETY: the callback reads what the loader passes and calls `f`.
    unsafe {
        libc::dl_iterate_phdr(
            Some(each),
            (&mut f as *mut &mut dyn FnMut(&Loaded<'_>)).cast(),
        );
    }
}

/// The executable segments of every loaded object, the main executable's first.
#[cfg(target_os = "linux")]
pub fn loaded() -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    for_each_loaded(|o| add_segments(&mut out, o));
    // glibc names the executable "", musl "/proc/self/exe": name its file.
    let exe = main_executable_path();
    if !exe.is_empty() {
        for o in out.iter_mut().filter(|o| o.is_main) {
            o.path.clone_from(&exe);
        }
    }
    out
}

/// Not available outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn loaded() -> Vec<Object> {
    Vec::new()
}

/// The target of `/proc/self/exe`, without the ` (deleted)` the kernel appends when
/// the file was replaced since the start (an upgrade in place).
#[cfg(target_os = "linux")]
fn main_executable_path() -> String {
    match std::fs::read_link("/proc/self/exe") {
        Ok(p) => {
            let s = p.to_string_lossy().into_owned();
            s.strip_suffix(" (deleted)").map(str::to_owned).unwrap_or(s)
        }
        Err(_) => String::new(),
    }
}

/// Appends the executable segments of `o` to `out` (the first object is the main one).
#[cfg(target_os = "linux")]
fn add_segments(out: &mut Vec<Object>, o: &Loaded<'_>) {
    let is_main = out.is_empty();
    let build_id = o
        .phdrs
        .iter()
        .filter(|p| p.p_type == libc::PT_NOTE)
        .find_map(|p| {
            let at = o.bias.wrapping_add(p.p_vaddr as usize);
            // SAFETY: a PT_NOTE segment lies inside a loaded, readable PT_LOAD segment
            // of this object (the loader mapped it), `p_filesz` bytes long.
            let notes = unsafe { std::slice::from_raw_parts(at as *const u8, p.p_filesz as usize) };
            gnu_build_id(notes)
        })
        .unwrap_or_default();
    for p in o.phdrs {
        if p.p_type != libc::PT_LOAD || p.p_flags & libc::PF_X == 0 || p.p_memsz == 0 {
            continue;
        }
        let start = o.bias.wrapping_add(p.p_vaddr as usize);
        out.push(Object {
            start,
            limit: start.wrapping_add(p.p_memsz as usize),
            offset: p.p_offset,
            path: o.name.clone(),
            build_id: build_id.clone(),
            is_main,
        });
    }
    if is_main && out.is_empty() {
        // No executable segment (cannot happen for a running program): keep the
        // executable first anyway with an empty range, so shared objects are never
        // taken for it.
        out.push(Object {
            start: 0,
            limit: 0,
            offset: 0,
            path: o.name.clone(),
            build_id,
            is_main: true,
        });
    }
}

/// The descriptor of the `NT_GNU_BUILD_ID` note among ELF `notes`, in lowercase hex.
pub fn gnu_build_id(notes: &[u8]) -> Option<String> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let u32_at = |b: &[u8], i: usize| -> Option<u32> {
        let s = b.get(i..i.checked_add(4)?)?;
        Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    };
    let mut i = 0usize;
    while i.checked_add(12)? <= notes.len() {
        let namesz = u32_at(notes, i)? as usize;
        let descsz = u32_at(notes, i + 4)? as usize;
        let ty = u32_at(notes, i + 8)?;
        let name_at = i + 12;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let next = desc_at.checked_add(align4(descsz)?)?;
        let name = notes.get(name_at..name_at.checked_add(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if ty == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            let mut hex = String::with_capacity(desc.len() * 2);
            for b in desc {
                hex.push(char::from_digit(u32::from(b >> 4), 16)?);
                hex.push(char::from_digit(u32::from(b & 0xf), 16)?);
            }
            return Some(hex);
        }
        i = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_build_id_note() {
        let mut notes = Vec::new();
        // An unrelated note first (ABI tag), then the build-id.
        for (name, ty, desc) in [
            (
                &b"GNU\0"[..],
                1u32,
                &[0u8, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0][..],
            ),
            (&b"GNU\0"[..], 3u32, &[0xde, 0xad, 0xbe, 0xef, 0x01][..]),
        ] {
            notes.extend_from_slice(&(name.len() as u32).to_ne_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
            notes.extend_from_slice(&ty.to_ne_bytes());
            notes.extend_from_slice(name);
            notes.extend_from_slice(desc);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
        }
        assert_eq!(gnu_build_id(&notes).as_deref(), Some("deadbeef01"));
        assert_eq!(gnu_build_id(&notes[..20]), None, "truncated");
        assert_eq!(gnu_build_id(&[]), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn lists_this_executable_first_with_its_code() {
        let objects = loaded();
        let main = objects.first().expect("objects");
        assert!(main.is_main);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(main.path, exe.to_string_lossy());
        let here = lists_this_executable_first_with_its_code as *const () as usize;
        let seg = objects
            .iter()
            .find(|o| o.contains(here))
            .expect("a segment holds this function");
        assert!(seg.is_main && !seg.is_system());
        // The segment's address and file offset agree modulo the page size.
        assert_eq!(seg.start % 4096, seg.offset as usize % 4096);
        // The build-id the linker wrote (readelf -n), when it wrote one.
        assert!(
            main.build_id.is_empty() || main.build_id.len() >= 16,
            "{}",
            main.build_id
        );
        // The segment matches a line of /proc/self/maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let want = format!("{:x}-", seg.start & !(page - 1));
        let line = maps
            .lines()
            .find(|l| l.starts_with(&want))
            .unwrap_or_else(|| panic!("{want} not in\n{maps}"));
        let off = line.split_whitespace().nth(2).unwrap();
        assert_eq!(
            u64::from_str_radix(off, 16).unwrap(),
            seg.offset & !(page as u64 - 1),
            "{line}"
        );
        // A shared C library is a system object (a static one, musl's, is the executable).
        let libc_addr = libc::getpid as *const () as usize;
        if let Some(l) = objects.iter().find(|o| o.contains(libc_addr) && !o.is_main) {
            assert!(l.is_system(), "{l:?}");
        }
    }
}
