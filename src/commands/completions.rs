//! `roster completions SHELL`: a completion script for SHELL on stdout, generated from the
//! same clap definitions as `--help`, so it never lists an option roster does not take.
//!
//! ```text
//! roster completions bash > /etc/bash_completion.d/roster
//! roster completions zsh > "${fpath[1]}/_roster"
//! roster completions fish > ~/.config/fish/completions/roster.fish
//! ```

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<i32> {
    let mut cmd = super::Cli::command();
    // Into memory first: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "roster", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(roster::exit::OK)
}
