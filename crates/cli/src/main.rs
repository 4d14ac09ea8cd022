//! The `dsco-lingxing` binary: parses the command line and hands over to [`cli::app`].

use std::process::ExitCode;

// The jobs allocate many short-lived JSON values and strings; glibc's allocator spent about a
// fifth of the benchmark's CPU time on them (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mi_option_t` enum of the mimalloc the `mimalloc` crate builds
/// (v3, `mimalloc.h`); the test below checks it against the option's default (`options.c`).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// How long memory freed stays with the allocator before it goes back to the OS, in ms.
const PURGE_DELAY_MS: std::ffi::c_long = 400;

// SAFETY: both are plain C functions of the mimalloc linked in as the global allocator, taking
// and returning integers.
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// The allocator's memory settings, chosen by `bench scale` (peak RSS of the engine at 100,000
/// orders, target < 150 MB) and the zero-latency run of `bench day` (engine CPU, minor page
/// faults of 10,000 orders):
///
/// - No transparent huge pages for this process. mimalloc asks the kernel for 2 MiB pages where
///   it may; a huge page counts whole in the RSS however little of it is in use, and each one
///   faulted in is zeroed whole.
/// - Freed memory back to the OS after 400 ms. The rows a SQLite connection's thread reads are
///   freed on the runtime's threads; with mimalloc's default second each thread's freed pages
///   pile up, with no delay every freed page is faulted in again. 400 ms keeps a job run's
///   memory for its next statements (a run reads and writes in bursts a few hundred ms apart).
///
/// | huge pages, purge delay | peak RSS, 100,000 orders | page faults, zero-latency run |
/// |---|---:|---:|
/// | yes, 0 (the setting before) | 132 MiB | 840,000–860,000 |
/// | no, 0 | 105 MiB | 950,000 |
/// | no, 100 ms | 112–123 MiB | 240,000–390,000 |
/// | no, 400 ms (now) | 120 MiB | 144,000–181,000 |
/// | no, 1 s (mimalloc's default) | 135–145 MiB | 143,000 |
///
/// 100 ms against 400 ms, interleaved pairs of the zero-latency run on one machine (AMD EPYC,
/// 2026-12-07, least engine CPU of three each): 7.75 and 7.41 s against 6.65 and 6.59 s; the
/// simulators, in the same process and allocator, took 4.3–4.8 s against 4.1–4.4 s.
///
/// `MIMALLOC_ALLOW_THP=1` keeps huge pages; `MIMALLOC_PURGE_DELAY` (ms) keeps what it says.
fn tune_allocator() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and sets one flag of this process,
        // which the kernel reads on each later page fault.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: see the declaration; an option may be set at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let args = cli::args::parse();
    if !args.command.ignores_sigpipe() {
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
/// `demo`) and the commands that talk HTTP while they work (`bench`, `job run`, `reconcile`,
/// `alert`; `Command::ignores_sigpipe`) keep ignoring it: the other side hanging up must not kill
/// them.
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

    /// The option number is the purge delay's (its default is 1000 ms unless the environment
    /// sets it), `tune_allocator` sets it, and the process runs without transparent huge pages
    /// unless the environment asks for them.
    #[test]
    fn the_allocator_settings_are_the_ones_set() {
        // SAFETY: see the declaration.
        let before = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Err(_) => assert_eq!(before, 1000, "mimalloc's default purge delay"),
            Ok(v) => assert_eq!(before.to_string(), v),
        }
        tune_allocator();
        let after = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(after, PURGE_DELAY_MS);
        }
        #[cfg(target_os = "linux")]
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            // SAFETY: PR_GET_THP_DISABLE reads the flag and takes no pointer.
            let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(off, 1);
        }
    }
}
