use std::process::ExitCode;

use clap::Parser;
use creative_factory::display::escape_for_display;
mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // Errors quote paths and text as given; a control character or bidi override in
            // them must reach the terminal written out, not acted on.
            let shown = |e: &dyn std::fmt::Display| escape_for_display(&e.to_string()).into_owned();
            eprintln!("error: {}", shown(&err));
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {}", shown(&cause));
            }
            ExitCode::from(2)
        }
    }
}
