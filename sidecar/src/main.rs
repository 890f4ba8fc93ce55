//! `bknd`: the sidecar binary. Everything lives in the library; this only dispatches.

use clap::Parser;

fn main() -> std::process::ExitCode {
    bknd_sidecar::cli::run(bknd_sidecar::cli::Cli::parse())
}
