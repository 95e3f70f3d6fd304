//! `roster man`: roster's manual page (roff) on stdout, generated from the clap definitions,
//! with one section per command.
//!
//! ```text
//! roster man > /usr/local/share/man/man1/roster.1
//! ```

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    let cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    // Each command's options, as `roster help COMMAND` shows them.
    for sub in cmd.get_subcommands() {
        let title = format!("ROSTER {}", sub.get_name().to_uppercase());
        writeln!(out, ".SH \"{title}\"")?;
        if let Some(about) = sub.get_about() {
            writeln!(out, "{}", about.to_string().replace('-', "\\-"))?;
        }
        let man = clap_mangen::Man::new(sub.clone().bin_name(format!("roster {}", sub.get_name())));
        man.render_synopsis_section(&mut out)?;
        man.render_options_section(&mut out)?;
    }
    std::io::stdout().write_all(&out)?;
    Ok(roster::exit::OK)
}
