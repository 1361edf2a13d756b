//! `factory dedup` and `factory library …` (OWNER: dedup helper).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DedupArgs {}

#[derive(Debug, clap::Args)]
pub struct LibraryArgs {}

pub fn run_dedup(_args: DedupArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}

pub fn run_library(_args: LibraryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
