//! The `nidl` command line: a thin layer over the library (see `cli/`).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    nidl::memory::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") | Some("-V") => {
            println!("nidl {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help") | Some("-h") => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Some(cmd) => match cli::dispatch(cmd, &args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(cause) => {
                eprintln!("nidl {cmd}: {cause}");
                ExitCode::FAILURE
            }
        },
        None => {
            eprintln!("{}", cli::USAGE);
            ExitCode::from(2)
        }
    }
}
