//! SIGTERM/SIGINT handling: blocked in every thread, taken by one `sigwait` thread.
//!
//! This avoids every async-signal-safety hazard of signal handlers.

use std::io;

/// The termination signals, blocked for the calling thread and every thread it starts after.
/// Call before the core threads are spawned so that they inherit the mask.
pub(crate) fn block_termination_signals() -> io::Result<libc::sigset_t> {
    // SAFETY: `sigset_t` is plain data; sigemptyset initialises it before any other use, and
    // pthread_sigmask only reads the set we pass and writes no old set (null).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(set)
    }
}

/// Starts the thread that waits for `set`'s signals and calls `on_signal(signal, count)` for
/// each, `count` starting at 1.
pub(crate) fn spawn_waiter(
    set: libc::sigset_t,
    mut on_signal: impl FnMut(i32, u64) + Send + 'static,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("ronto-signals".into())
        .spawn(move || {
            let mut count = 0;
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is an initialised signal set and `signal` a valid place to write.
                let rc = unsafe { libc::sigwait(&set, &mut signal) };
                if rc != 0 {
                    continue;
                }
                count += 1;
                on_signal(signal, count);
            }
        })?;
    Ok(())
}

/// A signal's conventional name.
pub(crate) fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}
