//! Turning executor events into what the operator sees: bars on a terminal, one line per
//! output in logs, JSON lines for schedulers.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use creative_factory::exec::Event;
use creative_factory::export::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    Bar,
    Plain,
    Json,
}

pub trait Reporter {
    fn event(&mut self, ev: creative_factory::exec::Event);
}

pub fn reporter(mode: ProgressMode) -> Box<dyn Reporter> {
    match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => Box::new(Bars::new()),
        ProgressMode::Auto | ProgressMode::Plain => Box::new(Plain),
        ProgressMode::Bar => Box::new(Bars::new()),
        ProgressMode::Json => Box::new(Json),
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KB", b as f64 / 1024.0)
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Exported => "ok",
        Status::Rejected => "held",
        Status::Failed => "FAILED",
        Status::Skipped => "skipped",
    }
}

struct Plain;

impl Reporter for Plain {
    fn event(&mut self, ev: Event) {
        let mut err = std::io::stderr().lock();
        let _ = match ev {
            Event::Loading { assets } => writeln!(err, "decoding {assets} input file(s)"),
            Event::Started { jobs } => writeln!(err, "rendering {jobs} output(s)"),
            Event::Scoring { outputs, library } => match library {
                Some(l) => writeln!(
                    err,
                    "scoring {outputs} output(s) for duplicates against the batch and {}",
                    // A PostgreSQL URL may carry a password: never printed.
                    creative_factory::dedup::library::redact_url(&l.to_string_lossy())
                ),
                None => writeln!(
                    err,
                    "scoring {outputs} output(s) for duplicates within the batch"
                ),
            },
            Event::JobFinished { .. }
            | Event::Verdict { .. }
            | Event::Reused { .. }
            | Event::Removed { .. }
            | Event::Finished { .. } => match outcome_line(&ev).or_else(|| summary_line(&ev)) {
                Some(line) => writeln!(err, "{line}"),
                None => Ok(()),
            },
            _ => Ok(()),
        };
    }
}

/// Bumped when a field changes meaning or is removed; new fields and events do not bump it.
pub const EVENTS_SCHEMA: u32 = 1;

/// The line for an output once it is done: rendered or failed, judged by the duplicate gate,
/// or reused or moved aside by a rerun.
fn outcome_line(ev: &Event) -> Option<String> {
    match ev {
        Event::JobFinished {
            file,
            status,
            bytes,
            seconds,
            error,
            ..
        } => Some(match error {
            None => format!(
                "{:<7} {file}  {}  {seconds:.1} s",
                status_word(*status),
                human_bytes(*bytes)
            ),
            Some(e) => format!("{:<7} {file}: {e}", status_word(*status)),
        }),
        Event::Verdict {
            file,
            verdict,
            held,
            reason,
            ..
        } => Some(format!(
            "{:<7} {file}: {verdict}: {reason}",
            if *held { "held" } else { "warn" }
        )),
        Event::Reused { file, reason, .. } => Some(format!("reused  {file}: {reason}")),
        Event::Removed {
            file,
            moved_to,
            reason,
        } => Some(format!(
            "removed {file}: {reason}; moved to {}",
            moved_to.display()
        )),
        _ => None,
    }
}

/// The last line of a run.
fn summary_line(ev: &Event) -> Option<String> {
    let Event::Finished {
        exported,
        failed,
        rejected,
        skipped,
        reused,
        removed,
        seconds,
        cpu_seconds,
        gate_cpu_seconds,
    } = ev
    else {
        return None;
    };
    let mut line = format!(
        "done in {seconds:.1} s: {exported} exported, {failed} failed, {rejected} held back as duplicates, {skipped} skipped"
    );
    if reused + removed > 0 {
        line += &format!(", {reused} reused unchanged, {removed} removed");
    }
    if let Some(gate) = gate_cpu_seconds.filter(|_| *cpu_seconds > 0.0) {
        line += &format!(
            "; the duplicate gate took {gate:.2} of {cpu_seconds:.2} CPU-s ({:.1} %)",
            100.0 * gate / cpu_seconds
        );
    }
    Some(line)
}

struct Json;

impl Reporter for Json {
    fn event(&mut self, ev: Event) {
        let mut out = std::io::stdout().lock();
        let mut v = serde_json::to_value(&ev).expect("events serialise");
        // Every line says which schema it follows (docs/EVENTS.md), so a consumer can refuse
        // a stream it does not understand instead of misreading it.
        if let Some(o) = v.as_object_mut() {
            o.insert("schema".into(), EVENTS_SCHEMA.into());
        }
        let _ = writeln!(out, "{v}");
    }
}

struct Bars {
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    running: HashMap<usize, ProgressBar>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            overall: None,
            running: HashMap::new(),
        }
    }
}

impl Reporter for Bars {
    fn event(&mut self, ev: Event) {
        match ev {
            Event::Loading { assets } => {
                let _ = self
                    .multi
                    .println(format!("decoding {assets} input file(s)…"));
            }
            Event::Started { jobs } => {
                let bar = self.multi.add(ProgressBar::new(jobs as u64));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>9} [{bar:32.cyan/blue}] {pos}/{len} outputs  {elapsed} (ETA {eta})")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix("batch");
                bar.enable_steady_tick(Duration::from_millis(200));
                self.overall = Some(bar);
            }
            Event::JobStarted {
                index,
                file,
                frames,
            } => {
                let bar = self.multi.add(ProgressBar::new(frames as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>9} [{bar:32.green/white}] {pos}/{len} frames  ETA {eta}  {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("#{}", index + 1));
                bar.set_message(file);
                self.running.insert(index, bar);
            }
            Event::Frames { index, done, .. } => {
                if let Some(b) = self.running.get(&index) {
                    b.set_position(done as u64);
                }
            }
            Event::JobFinished { index, .. } => {
                if let Some(b) = self.running.remove(&index) {
                    b.finish_and_clear();
                    self.multi.remove(&b);
                }
                if let Some(line) = outcome_line(&ev) {
                    let _ = self.multi.println(line);
                }
                if let Some(o) = &self.overall {
                    o.inc(1);
                }
            }
            Event::Scoring { outputs, .. } => {
                let _ = self
                    .multi
                    .println(format!("scoring {outputs} output(s) for duplicates…"));
            }
            Event::Verdict { .. } | Event::Reused { .. } | Event::Removed { .. } => {
                if let Some(line) = outcome_line(&ev) {
                    let _ = self.multi.println(line);
                }
            }
            Event::Finished { .. } => {
                if let Some(o) = self.overall.take() {
                    o.finish_and_clear();
                }
                if let Some(line) = summary_line(&ev) {
                    eprintln!("{line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(gate: Option<f64>) -> Event {
        Event::Finished {
            exported: 24,
            failed: 0,
            rejected: 2,
            skipped: 0,
            reused: 0,
            removed: 0,
            seconds: 3.04,
            cpu_seconds: 5.0,
            gate_cpu_seconds: gate,
        }
    }

    #[test]
    fn the_summary_gives_the_gates_share_of_the_runs_cpu_when_it_is_on() {
        assert_eq!(
            summary_line(&finished(Some(0.4))).unwrap(),
            "done in 3.0 s: 24 exported, 0 failed, 2 held back as duplicates, 0 skipped; \
             the duplicate gate took 0.40 of 5.00 CPU-s (8.0 %)"
        );
        assert_eq!(
            summary_line(&finished(None)).unwrap(),
            "done in 3.0 s: 24 exported, 0 failed, 2 held back as duplicates, 0 skipped"
        );
    }
}
