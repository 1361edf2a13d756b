//! `factory lint`, and the lint `plan` and `render` run before anything else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use creative_factory::lint::{self, Report, RulePacks};
use creative_factory::preset::PresetSet;
use creative_factory::template::Template;

use super::{load_presets, load_template, Probe, TemplateArgs};

/// The rule packs a lint uses: the built-in `rules/*.toml` and the user's.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A directory of extra rule packs (`*.toml`, the format of docs/LINT.md); a pack with
    /// the id of a built-in one replaces it.
    #[arg(long, value_name = "DIR")]
    pub rules_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
}

/// `factory lint`: exit 2 when a finding is an error (or the template or a pack is invalid),
/// 0 otherwise; warnings are printed either way.
pub fn run(a: LintArgs) -> anyhow::Result<ExitCode> {
    let presets = load_presets(a.template.presets_dir.as_deref())?;
    let Some((t, _)) = load_template(&a.template, &presets, Probe::Off) else {
        return Ok(ExitCode::from(2));
    };
    let Some(report) = lint_template(&t, &a.template, &a.rules, &presets)? else {
        return Ok(ExitCode::from(2));
    };
    if a.template.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else if report.findings.is_empty() {
        println!(
            "{}: no findings in {} copy string(s) and the layout of {} output(s)",
            a.template.template.display(),
            report.checked,
            report.measured
        );
    } else {
        eprint!("{}", report.render());
    }
    Ok(if report.has_errors() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lints a loaded template. `None` means a rule pack is invalid (its diagnostics printed).
pub fn lint_template(
    t: &Template,
    a: &TemplateArgs,
    rules: &RulesArgs,
    presets: &PresetSet,
) -> anyhow::Result<Option<Report>> {
    let packs = match &rules.rules_dir {
        None => RulePacks::builtin(),
        Some(dir) => match RulePacks::with_dir(dir) {
            Ok(p) => p,
            Err(bad) => {
                for dx in bad {
                    if a.json {
                        println!("{}", dx.to_json());
                    } else {
                        eprint!("{dx}");
                    }
                }
                return Ok(None);
            }
        },
    };
    let mut report = lint::lint(t, &a.template, &packs, presets)?;
    // Layout is measured on the outputs as they would render (src/lint/layout.rs).
    let text = std::fs::read_to_string(&a.template)?;
    let fonts = super::font_book(t)?;
    let layout = lint::layout::check(t, &a.template, &text, presets, &fonts, a.max_variants)?;
    for u in &layout.unmeasured {
        eprintln!("note: layout not measured for {u}");
    }
    report.add_layout(layout);
    Ok(Some(report))
}

/// The lint `plan` and `render` run first. `Err(code)`: errors were found (or a pack is
/// invalid) and printed; the command stops with exit 2 before anything renders. `Ok`: the
/// report, whose warnings have been printed — to stderr, or with `--json` as a
/// `{"lint": […]}` line on stdout unless `json_embedded` (the caller puts them in its own
/// JSON document).
pub fn before_run(
    t: &Template,
    a: &TemplateArgs,
    rules: &RulesArgs,
    presets: &PresetSet,
    json_embedded: bool,
) -> anyhow::Result<Result<Report, ExitCode>> {
    let Some(report) = lint_template(t, a, rules, presets)? else {
        return Ok(Err(ExitCode::from(2)));
    };
    if report.has_errors() {
        if a.json {
            println!("{}", serde_json::json!({ "lint": report.to_json() }));
        } else {
            eprint!("{}", report.render());
            eprintln!("lint found errors: nothing was rendered (see `factory lint`)");
        }
        return Ok(Err(ExitCode::from(2)));
    }
    if !report.findings.is_empty() {
        if !a.json {
            eprint!("{}", report.render());
        } else if !json_embedded {
            println!("{}", serde_json::json!({ "lint": report.to_json() }));
        }
    }
    Ok(Ok(report))
}
