//! The `dsco-lingxing` binary: parses the command line and hands over to [`cli::app`].

use std::process::ExitCode;

// The jobs allocate many short-lived JSON values and strings; glibc's allocator spent about a
// fifth of the benchmark's CPU time on them (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
