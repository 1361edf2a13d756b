//! `factory text shape|render` (OWNER: text helper).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TextArgs {
    #[command(subcommand)]
    pub command: TextCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TextCommand {
    /// Print the shaped glyphs of a text (like hb-shape).
    Shape,
    /// Render a text to a PNG for a quick look (like hb-view).
    Render,
}

pub fn run(_args: TextArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
