//! The `nidl` command line. Training and probing subcommands arrive with the data, probe and
//! training modules; until then the binary reports its version and what it can do.

use std::process::ExitCode;

const USAGE: &str = "usage: nidl <command>\n\ncommands available in this build:\n  --version   print the version\n\n\
the training, probing and data commands described in README.md (simclr-mnist, yaware-openbhb,\n\
probe, make-openbhb, show-augmentations) are not implemented yet in this version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") | Some("-V") => {
            println!("nidl {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help") | Some("-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(cmd) => {
            eprintln!("nidl: '{cmd}' is not available in this version\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
