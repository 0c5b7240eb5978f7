//! holmes' signal handlers beside the host's: one rule for the CPU profile's `SIGPROF`
//! and the thread dump's real-time signal.
//!
//! A handler of holmes' is installed (`SA_SIGINFO | SA_RESTART`, nothing masked) only
//! over the default action (or, where the caller allows it, `SIG_IGN`) and is then kept
//! for the life of the process: a signal delivered late must find it, never the default
//! action, which would kill the process. Any other handler is the host's and is never
//! replaced. Callers check before every capture, so a takeover by the host is seen.

use std::io;

/// A handler with `SA_SIGINFO`'s signature.
pub(crate) type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Why holmes' handler is not (and will not be) the handler of a signal.
pub(crate) enum Refused {
    /// Another handler is installed (or `SIG_IGN`, where not allowed).
    InUse,
    /// `sigaction` failed.
    Os(io::Error),
}

/// The address `sigaction` reports for `h`.
pub(crate) fn address(h: Handler) -> libc::sighandler_t {
    h as libc::sighandler_t
}

/// The handler installed for `sig` now.
pub(crate) fn current(sig: libc::c_int) -> io::Result<libc::sighandler_t> {
    // SAFETY: querying the disposition into a zeroed (valid) struct.
    unsafe {
        let mut now: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut now) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(now.sa_sigaction)
    }
}

/// Makes `ours` the handler of `sig` (see the module docs); `over_ignored` also takes
/// the signal over from `SIG_IGN`.
pub(crate) fn ensure(sig: libc::c_int, ours: Handler, over_ignored: bool) -> Result<(), Refused> {
    let now = current(sig).map_err(Refused::Os)?;
    if now == address(ours) {
        return Ok(());
    }
    if now != libc::SIG_DFL && !(over_ignored && now == libc::SIG_IGN) {
        return Err(Refused::InUse);
    }
    // SAFETY: plain-data sigaction struct; `ours` is async-signal-safe (its module's
    // contract).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = address(ours);
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            return Err(Refused::Os(io::Error::last_os_error()));
        }
    }
    Ok(())
}
