//! `bknd`: the sidecar binary. Everything lives in the library; this only dispatches.

use clap::Parser;

// mimalloc: a request allocates and frees many small buffers across the runtime's threads
// (glibc's malloc took a fifth of the sidecar's time serving REST reads), and large body chunks
// are allocated on the runtime's threads and freed on the storage writer's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bknd_sidecar::cli::run(bknd_sidecar::cli::Cli::parse())
}
