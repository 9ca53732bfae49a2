//! The `archkit` binary: parse arguments, run one command, map the outcome
//! to an exit code. Everything else lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    archkit::cli::main()
}
