//! The page's markup: cards written out in the HTML (the page works without script; the
//! script only filters and previews), CSS and script inlined.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::export::rerun::Previous;
use crate::export::{Decision, ManifestRow, Status};
use crate::media::fit_inside;
use crate::preset::PresetKind;

use super::results::{self, Snapshot};

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");
/// Thumbnail boxes in CSS pixels: the `width`/`height` attributes keep the layout still while
/// lazy images arrive.
const BOX: u32 = 188;
/// Above this many variants the matrix lists variant numbers instead of a column each.
const MATRIX_COLUMNS: usize = 120;

/// Text for HTML content and quoted attributes: the escaping of the results plots (the five
/// markup characters, and control characters neither XML nor HTML allows replaced).
pub(super) fn esc(s: &str) -> String {
    crate::results::plot::xml(s)
}

/// A relative path as a URL: each byte outside the unreserved set percent-encoded (names may
/// hold `#`, `?`, `%`, spaces or any script).
pub(super) fn url(path: &str) -> String {
    let mut o = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

fn bytes_text(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / 1048576.0),
        n if n >= 1 << 10 => format!("{:.0} kB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Exported => "exported",
        Status::Rejected => "held back",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

fn status_key(s: Status) -> &'static str {
    match s {
        Status::Exported => "exported",
        Status::Rejected => "rejected",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

fn verdict_key(r: &ManifestRow) -> String {
    r.dedup
        .map(|v| v.to_string())
        .unwrap_or_else(|| "none".into())
}

fn review_key(r: &ManifestRow) -> &'static str {
    match r.review.as_ref().map(|v| v.decision) {
        Some(Decision::Approved) => "approved",
        Some(Decision::Rejected) => "rejected",
        None => "none",
    }
}

pub(super) fn page(
    prev: &Previous,
    today: &str,
    has_thumb: &dyn Fn(&ManifestRow) -> bool,
    results: Option<&Snapshot>,
) -> String {
    let rows = &prev.rows;
    let mut h = String::with_capacity(1024 + rows.len() * 900);
    let title = rows
        .first()
        .map(|r| format!("{} v{}", r.template, r.template_version))
        .unwrap_or_else(|| "empty batch".into());
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Review: {t}</title><style>{CSS}</style></head><body>\n<header><h1>Review: {t}</h1>",
        t = esc(&title)
    );
    if let Some(run) = &prev.run {
        let _ = write!(
            h,
            "<p>Run on {} started {}, {}; factory {}.</p>",
            esc(&run.host),
            esc(&run.started),
            run.finished
                .as_deref()
                .map(|f| format!("finished {}", esc(f)))
                .unwrap_or_else(|| "<span class=\"bad\">not finished</span>".into()),
            esc(&run.factory_version)
        );
    }
    let count = |f: &dyn Fn(&ManifestRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let _ = writeln!(
        h,
        "<ul class=\"counts\"><li>{} outputs</li><li>{} exported</li><li>{} held back</li>\
         <li>{} failed</li><li>{} skipped</li><li>{} approved</li><li>{} rejected in review</li></ul></header>",
        rows.len(),
        count(&|r| r.status == Status::Exported),
        count(&|r| r.status == Status::Rejected),
        count(&|r| r.status == Status::Failed),
        count(&|r| r.status == Status::Skipped),
        count(&|r| review_key(r) == "approved"),
        count(&|r| review_key(r) == "rejected"),
    );
    filters(&mut h, rows);
    if let Some(s) = results {
        results::section(&mut h, s);
    }
    clusters(&mut h, rows, has_thumb);
    matrix(&mut h, rows);
    sheet(&mut h, rows, today, has_thumb, results);
    let _ = writeln!(h, "<script>{JS}</script></body></html>");
    h
}

fn select(h: &mut String, name: &str, all: &str, values: impl IntoIterator<Item = String>) {
    let _ = write!(
        h,
        "<select name=\"{name}\" aria-label=\"{name}\"><option value=\"\">{all}</option>"
    );
    for v in values {
        let _ = write!(h, "<option>{}</option>", esc(&v));
    }
    h.push_str("</select>");
}

fn filters(h: &mut String, rows: &[ManifestRow]) {
    let set =
        |f: &dyn Fn(&ManifestRow) -> String| -> BTreeSet<String> { rows.iter().map(f).collect() };
    h.push_str("<nav><form id=\"f\">");
    select(h, "region", "all regions", set(&|r| r.region.clone()));
    select(h, "preset", "all presets", set(&|r| r.preset.clone()));
    select(h, "verdict", "any verdict", set(&verdict_key));
    select(
        h,
        "status",
        "any status",
        set(&|r| status_key(r.status).into()),
    );
    select(h, "review", "any review", set(&|r| review_key(r).into()));
    let modules: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.modules.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    select(h, "module", "any option", modules);
    let _ = writeln!(
        h,
        "<input type=\"search\" name=\"q\" placeholder=\"name or id\" aria-label=\"search\"> \
         <output id=\"shown\">{n} of {n} shown</output></form></nav>",
        n = rows.len()
    );
}

fn thumb_img(h: &mut String, r: &ManifestRow, max: u32, has_thumb: &dyn Fn(&ManifestRow) -> bool) {
    if has_thumb(r) {
        let (w, hh) = fit_inside(r.width.max(1), r.height.max(1), max, max);
        let _ = write!(
            h,
            "<img loading=\"lazy\" decoding=\"async\" src=\"{}\" width=\"{w}\" height=\"{hh}\" alt=\"\">",
            url(&super::thumbnail_rel(&r.sha256))
        );
    } else {
        let _ = write!(
            h,
            "<span class=\"none\">no picture: {}</span>",
            status_text(r.status)
        );
    }
}

/// Each output the gate called similar or a duplicate, beside the outputs its reason names.
fn clusters(h: &mut String, rows: &[ManifestRow], has_thumb: &dyn Fn(&ManifestRow) -> bool) {
    let flagged: Vec<(usize, &ManifestRow)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.same_output_as.is_none()
                && matches!(
                    r.dedup,
                    Some(crate::dedup::VerdictKind::Similar | crate::dedup::VerdictKind::Duplicate)
                )
        })
        .collect();
    let _ = write!(
        h,
        "<section id=\"clusters\"><h2>Duplicates ({})</h2>",
        flagged.len()
    );
    if flagged.is_empty() {
        h.push_str("<p>The gate found no similar or duplicate outputs.</p>");
    }
    for (i, r) in flagged {
        let reason = r.dedup_reason.as_deref().unwrap_or("");
        let _ = write!(h, "<div class=\"cluster\" data-of=\"o{i}\">");
        mini(h, i, r, has_thumb);
        for (j, m) in rows.iter().enumerate() {
            if j != i
                && m.same_output_as.is_none()
                && !m.file.is_empty()
                && reason.contains(&m.file)
            {
                mini(h, j, m, has_thumb);
            }
        }
        let _ = write!(
            h,
            "<div class=\"why\"><span class=\"badge v-{v}\">{v}</span>{held} {}</div></div>",
            esc(reason),
            v = verdict_key(r),
            held = if r.status == Status::Rejected {
                " <span class=\"badge st bad\">held back</span>"
            } else {
                ""
            }
        );
    }
    h.push_str("</section>\n");
}

fn mini(h: &mut String, i: usize, r: &ManifestRow, has_thumb: &dyn Fn(&ManifestRow) -> bool) {
    let _ = write!(h, "<a class=\"mini\" href=\"#o{i}\">");
    thumb_img(h, r, 140, has_thumb);
    let _ = write!(
        h,
        "<br>{} <span class=\"badge\">{}</span></a>",
        esc(&r.file),
        status_text(r.status)
    );
}

/// Pools × options against variants: the design of the test at a glance.
fn matrix(h: &mut String, rows: &[ManifestRow]) {
    let mut uses: BTreeMap<(&str, &str), BTreeSet<u32>> = BTreeMap::new();
    let mut variants = BTreeSet::new();
    for r in rows {
        variants.insert(r.variant);
        for (k, v) in &r.modules {
            uses.entry((k, v)).or_default().insert(r.variant);
        }
    }
    let _ = write!(
        h,
        "<section id=\"matrix\"><h2>Design: {} variants, {} options</h2><div class=\"scroll\"><table class=\"matrix\"><tr><th class=\"o\">pool = option</th><th>variants</th>",
        variants.len(),
        uses.len()
    );
    let wide = variants.len() <= MATRIX_COLUMNS;
    if wide {
        for v in &variants {
            let _ = write!(h, "<th>{v}</th>");
        }
    }
    h.push_str("</tr>");
    for ((k, v), used) in &uses {
        let _ = write!(
            h,
            "<tr data-module=\"{m}\"><td class=\"o\">{m}</td><td>{}</td>",
            used.len(),
            m = esc(&format!("{k}={v}"))
        );
        if wide {
            for n in &variants {
                h.push_str(if used.contains(n) {
                    "<td>●</td>"
                } else {
                    "<td></td>"
                });
            }
        } else {
            let _ = write!(h, "<td class=\"o\">{}</td>", ranges(used));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div></section>\n");
}

/// `1–4, 7, 9–10`.
fn ranges(ns: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut it = ns.iter().copied().peekable();
    while let Some(a) = it.next() {
        let mut b = a;
        while it.peek() == Some(&(b + 1)) {
            b = it.next().unwrap_or(b);
        }
        out.push(if a == b {
            a.to_string()
        } else {
            format!("{a}–{b}")
        });
    }
    out.join(", ")
}

/// The contact sheet: region → preset → a card per row, in manifest order within each.
fn sheet(
    h: &mut String,
    rows: &[ManifestRow],
    today: &str,
    has_thumb: &dyn Fn(&ManifestRow) -> bool,
    results: Option<&Snapshot>,
) {
    let mut tree: BTreeMap<&str, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        tree.entry(&r.region)
            .or_default()
            .entry(&r.preset)
            .or_default()
            .push(i);
    }
    h.push_str("<main id=\"sheet\"><h2>Outputs</h2>");
    for (region, presets) in tree {
        let _ = write!(
            h,
            "<section class=\"group region\"><h2>{}</h2>",
            esc(region)
        );
        for (preset, idx) in presets {
            let _ = write!(
                h,
                "<section class=\"group preset\"><h3>{} · {}</h3><div class=\"grid\">",
                esc(region),
                esc(preset)
            );
            for i in idx {
                let rate = results.and_then(|s| s.variants.get(&rows[i].variant_id.to_lowercase()));
                card(h, i, &rows[i], today, has_thumb, rate);
            }
            h.push_str("</div></section>");
        }
        h.push_str("</section>\n");
    }
    h.push_str("</main>\n");
}

fn card(
    h: &mut String,
    i: usize,
    r: &ManifestRow,
    today: &str,
    has_thumb: &dyn Fn(&ManifestRow) -> bool,
    rate: Option<&results::VariantRate>,
) {
    let modules: String = r
        .modules
        .iter()
        .map(|(k, v)| format!("|{k}={v}"))
        .collect::<String>()
        + "|";
    let _ = write!(
        h,
        "<article class=\"card s-{st}\" id=\"o{i}\" data-region=\"{}\" data-preset=\"{}\" data-verdict=\"{}\" \
         data-status=\"{st}\" data-review=\"{}\" data-modules=\"{}\" data-q=\"{}\">",
        esc(&r.region),
        esc(&r.preset),
        verdict_key(r),
        review_key(r),
        esc(&modules),
        esc(&format!("{} {} #{}", r.file, r.variant_id, r.variant).to_lowercase()),
        st = status_key(r.status),
    );
    let playable = r.kind == PresetKind::Video && r.status == Status::Exported;
    if playable {
        let _ = write!(
            h,
            "<a class=\"thumb\" href=\"{u}\" data-video=\"{u}\">",
            u = url(&r.file)
        );
    } else if r.status == Status::Exported {
        let _ = write!(h, "<a class=\"thumb\" href=\"{}\">", url(&r.file));
    } else {
        h.push_str("<a class=\"thumb\">");
    }
    thumb_img(h, r, BOX, has_thumb);
    let _ = write!(
        h,
        "</a><div class=\"name\">{}</div><div><span class=\"badge\">#{}</span><span class=\"id\">{}</span></div>",
        esc(&r.file),
        r.variant,
        esc(&r.variant_id)
    );
    let _ = write!(
        h,
        "<div><span class=\"badge st\">{}</span>",
        status_text(r.status)
    );
    if let Some(v) = r.dedup {
        let _ = write!(h, "<span class=\"badge v-{v}\">{v}</span>");
    }
    if let Some(rv) = &r.review {
        let d = match rv.decision {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        };
        let _ = write!(
            h,
            "<span class=\"badge r-{d}\" title=\"{}\">{d} by {} {}</span>",
            esc(rv.note.as_deref().unwrap_or("")),
            esc(&rv.by),
            esc(&rv.at)
        );
        if let Some(n) = &rv.note {
            let _ = write!(h, " <q>{}</q>", esc(n));
        }
    }
    if r.ai_generated {
        h.push_str("<span class=\"badge\">AI-generated</span>");
    }
    h.push_str("</div><div>");
    let mut facts = vec![format!("{}×{}", r.width, r.height)];
    if r.bytes > 0 {
        facts.push(bytes_text(r.bytes));
    }
    if r.kind == PresetKind::Video {
        facts.push(format!("{:.1} s", r.duration));
    }
    if let Some(l) = r.loudness_lufs {
        facts.push(format!("{l:.1} LUFS"));
    }
    if let Some(p) = r.true_peak_dbtp {
        facts.push(format!("{p:.1} dBTP"));
    }
    h.push_str(&esc(&facts.join(" · ")));
    h.push_str("</div><div class=\"mods\">");
    for (k, v) in &r.modules {
        let _ = write!(
            h,
            "<span class=\"badge\">{}</span>",
            esc(&format!("{k}={v}"))
        );
    }
    h.push_str("</div>");
    if let Some(rate) = rate {
        results::card_line(h, rate);
    }
    if let Some(s) = &r.same_output_as {
        let _ = write!(h, "<div>same file as variant {}</div>", esc(s));
    }
    if let (Some(reason), Some(_)) = (&r.dedup_reason, r.dedup) {
        if r.dedup != Some(crate::dedup::VerdictKind::Distinct) {
            let _ = write!(h, "<div class=\"warn\">{}</div>", esc(reason));
        }
    }
    if let Some(e) = &r.error {
        let kind = r
            .error_kind
            .and_then(|k| serde_json::to_value(k).ok())
            .and_then(|v| v.as_str().map(|s| format!("{s}:")))
            .unwrap_or_default();
        let _ = write!(h, "<div class=\"bad\">{} {}</div>", esc(&kind), esc(e));
    }
    if let Some(d) = &r.licence_expires {
        if d.as_str() < today {
            let _ = write!(h, "<div class=\"bad\">licence ended {}</div>", esc(d));
        } else {
            let _ = write!(h, "<div>licence until {}</div>", esc(d));
        }
    }
    if !r.lint.is_empty() {
        h.push_str("<ul class=\"lint\">");
        for l in &r.lint {
            let _ = write!(h, "<li>{}</li>", esc(l));
        }
        h.push_str("</ul>");
    }
    h.push_str("</article>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_urls_and_text() {
        assert_eq!(url("US/a b#1?.mp4"), "US/a%20b%231%3F.mp4");
        assert_eq!(url("SA/إعلان.jpg"), "SA/%D8%A5%D8%B9%D9%84%D8%A7%D9%86.jpg");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn variant_lists_collapse_into_ranges() {
        let s: BTreeSet<u32> = [1, 2, 3, 4, 7, 9, 10].into_iter().collect();
        assert_eq!(ranges(&s), "1–4, 7, 9–10");
    }
}
