//! Platform text limits: the ad text a copy option carries (`title`, `description`,
//! `headline`, `long_headline`) measured against each preset's `[[text_limit]]`, counted the
//! way that platform counts (`preset::CharCount`). Over a hard limit is an error (the
//! platform refuses or cuts it); over a recommended length a warning. Docs: docs/LINT.md.

use std::collections::BTreeMap;
use std::path::Path;

use crate::preset::{LimitKind, PresetSet};
use crate::template::{line_col, Template};

use super::source::{CopyText, Place};
use super::{template_span, Finding, RuleSeverity};

/// Version of the limit rules, reported with each finding like a pack's.
pub(crate) const LIMITS_VERSION: &str = "1.0.0";

/// One finding per copy string over a limit of a preset the template renders for. `shown`
/// is, per copy string, the regions that show it (as for claims).
pub(crate) fn check(
    t: &Template,
    file: &Path,
    text: &str,
    presets: &PresetSet,
    copy: &[CopyText],
    shown: &[Vec<String>],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let limited: Vec<_> = t
        .output
        .presets
        .iter()
        .filter_map(|id| presets.get(id))
        .filter(|p| !p.text_limits.is_empty())
        .collect();
    if limited.is_empty() {
        return out;
    }
    for (c, regions) in copy.iter().zip(shown) {
        let Place::Template(ref literal) = c.place else {
            continue;
        };
        for preset in &limited {
            for limit in preset.text_limits.iter().filter(|l| l.field == c.field) {
                let measured = limit.count.measure(&c.text);
                if measured <= limit.max as usize {
                    continue;
                }
                let chars = c.text.chars().count();
                let span = template_span(text, literal, c, &(0..chars));
                let (line, column) = line_col(text, span.start);
                let (severity, how) = match limit.kind {
                    LimitKind::Hard => (RuleSeverity::Error, "allows at most"),
                    LimitKind::Recommended => (RuleSeverity::Warning, "recommends at most"),
                };
                out.push(Finding {
                    rule: format!("limits/{}-length", c.field.replace('_', "-")),
                    pack: "limits".into(),
                    pack_version: LIMITS_VERSION.into(),
                    severity,
                    message: format!(
                        "{} is {measured} {}; {} ({}) {how} {} (source: {})",
                        c.field.replace('_', " "),
                        limit.count.unit(),
                        preset.platform,
                        preset.id,
                        limit.max,
                        limit.source
                    ),
                    hint: Some(match limit.kind {
                        LimitKind::Hard => {
                            "shorten it: the platform refuses or cuts text over its limit".into()
                        }
                        LimitKind::Recommended => {
                            "shorten it, or expect the platform to cut it off behind \"more\""
                                .into()
                        }
                    }),
                    phrase: c.text.clone(),
                    regions: regions.clone(),
                    locale: c.locale.clone(),
                    pool: c.pool.name().to_string(),
                    option: c.option.clone(),
                    override_region: c.owner.clone(),
                    field: c.field.clone(),
                    preset: Some(preset.id.clone()),
                    with: BTreeMap::new(),
                    measured: Some(measured),
                    allowed: Some(limit.max as usize),
                    file: file.to_path_buf(),
                    line,
                    column,
                    span,
                });
            }
        }
    }
    out
}
