//! The `archkit` binary: parse arguments, run one command, map the outcome
//! to an exit code. Everything else lives in the library.

use std::process::ExitCode;

// glibc's malloc spent a growing share of a large run consolidating and
// unlinking free chunks (issue 16: at 10,000 resources most of the excess
// over 10x the 1,000-resource plan); jemalloc's does not grow so (uv and
// ruff use it for the same reason). Its options are built in from
// .cargo/config.toml.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // A panic is a bug: say so and how to report it, and exit 1 (an error)
    // rather than Rust's 101, which CI steps do not expect.
    std::panic::set_hook(Box::new(|info| {
        // Not eprintln!: a panic while printing the panic aborts.
        archkit::output::to_stderr(&format!(
            "error: archkit hit a bug: {info}\n\
             help: state is written after every operation, so run the command again to \
             continue; please report this with the command you ran\n"
        ));
    }));
    std::panic::catch_unwind(archkit::cli::main).unwrap_or(ExitCode::from(1))
}
