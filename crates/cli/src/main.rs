//! The `dsco-lingxing` binary: parses the command line and hands over to [`cli::app`].

use std::process::ExitCode;

use clap::Parser;

// The jobs allocate many short-lived JSON values and strings; glibc's allocator spent about a
// fifth of the benchmark's CPU time on them (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::args::Args::parse();
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
