//! Command line: raw clap arguments, validated into stage inputs, then run (OWNER: lead).

pub mod dedup_cmd;
pub mod text_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "factory", version, about = "Turn one TOML template into many ad-creative variants")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Shape or render text, to see why a line looks the way it does.
    Text(text_cmd::TextArgs),
    /// Score files for near-duplicates against a library and each other.
    Dedup(dedup_cmd::DedupArgs),
    /// Manage the library of past outputs.
    Library(dedup_cmd::LibraryArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Text(a) => text_cmd::run(a),
        Command::Dedup(a) => dedup_cmd::run_dedup(a),
        Command::Library(a) => dedup_cmd::run_library(a),
    }
}
