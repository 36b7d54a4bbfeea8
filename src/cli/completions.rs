//! `nidl completions SHELL`: prints the completion script of `nidl` for a shell (clap_complete
//! writes it from the same command definition that parses the options).

use super::stdout::Stdout;

/// The options of `nidl completions`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script of `cmd` (the `nidl` command line) for `args.shell`.
pub fn run(args: Args, mut cmd: clap::Command) -> Result<(), String> {
    clap_complete::generate(args.shell, &mut cmd, "nidl", &mut Stdout);
    Ok(())
}
