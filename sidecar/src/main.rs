//! `bknd`: the sidecar binary. Everything lives in the library; this only dispatches.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // SAFETY: mallopt before any thread starts. Large body chunks are allocated on the
    // runtime's threads and freed on the storage writer's; glibc would hand each freed run back
    // to the kernel (madvise) and fault it in again for the next, a third of an upload's CPU.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
    bknd_sidecar::cli::run(bknd_sidecar::cli::Cli::parse())
}
