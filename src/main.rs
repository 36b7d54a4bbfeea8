//! The `nidl` command line: a thin layer over the library (see `cli/`).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    nidl::memory::retain_freed_memory();
    cli::main()
}
