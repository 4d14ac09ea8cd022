//! The `dsco-lingxing` binary: parses the command line and hands over to [`cli::app`].

use std::process::ExitCode;

// The jobs allocate many short-lived JSON values and strings; glibc's allocator spent about a
// fifth of the benchmark's CPU time on them (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mi_option_t` enum of the mimalloc the `mimalloc` crate builds
/// (v3, `mimalloc.h`); the test below checks it against the option's default (`options.c`).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

// SAFETY: both are plain C functions of the mimalloc linked in as the global allocator, taking
// and returning integers.
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// Memory the engine frees goes back to the OS at once instead of after mimalloc's default
/// second: the rows a SQLite connection's thread reads are freed on the runtime's threads, and
/// with the delay each thread's freed pages piled up. `bench scale`, 100,000 orders: peak RSS
/// 149 → 116 MiB, for about a fifth more engine CPU (the pages are faulted in again). Setting
/// `MIMALLOC_PURGE_DELAY` (in ms; 1000 is mimalloc's default) keeps what it says instead.
fn purge_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: see the declaration; an option may be set at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

fn main() -> ExitCode {
    purge_at_once();
    let args = cli::args::parse();
    if !args.command.is_server() {
        restore_sigpipe();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(cli::app::main(args))
}

/// Rust ignores SIGPIPE, so a `println!` into a closed pipe (`order show PO | head -1`) panics
/// with "failed printing to stdout". The printing commands get the default back: the process
/// ends quietly when its reader goes away, as `ls | head` does. The servers (`run`, `sim`,
/// `demo`) keep ignoring it: a client hanging up must not kill them.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of main, before any thread is spawned; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is the purge delay's: its default is 1000 ms (unless the environment
    /// sets it), and `purge_at_once` sets it to 0.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: see the declaration.
        let before = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Err(_) => assert_eq!(before, 1000, "mimalloc's default purge delay"),
            Ok(v) => assert_eq!(before.to_string(), v),
        }
        purge_at_once();
        let after = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(after, 0);
        }
    }
}
