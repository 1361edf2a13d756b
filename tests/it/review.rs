//! The review page (`OUT/report.html`), `factory review` and `factory export --approved`:
//! what an operator sees, decides and uploads after a render.

use std::path::Path;

use serde_json::Value;

use crate::support::browser::{dump_dom, file_url, page_errors};
use crate::support::project::*;

/// Two backgrounds that render plus one whose licence ended (its outputs fail) × two
/// captions, on a video and a feed still in one region; the gate (`reject`) holds back
/// outputs that differ only in their caption.
const TEMPLATE: &str = r##"
[template]
name = "review me"
version = 3
kind = "both"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video", "tiny-post"]
regions = ["US"]

[dedup]
policy = "reject"

[[background]]
id = "photo"
image = "assets/photo.png"
fit = "cover"

[[background]]
id = "teal"
color = "#227777"

[[background]]
id = "old"
image = "assets/old.png"
licence = { holder = "Stock Co", id = "SC-9", expires = "2001-01-01" }

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
size = 0.12
min_size = 0.05

[[subtitle]]
id = "sale"
text = { en = "Half price <today> & \"more\"" }
size = 0.12
min_size = 0.05
"##;

fn rendered() -> Project {
    let p = Project::new();
    std::fs::copy(p.path("assets/product.png"), p.path("assets/old.png")).unwrap();
    p.write("t.toml", TEMPLATE);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    // Some outputs fail (the ended licence): exit 1, everything else published.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    p
}

fn rows(out: &Path) -> Vec<Value> {
    manifest(out)["outputs"].as_array().unwrap().clone()
}

/// The rows of the exported files (not the variants another file serves).
fn files(rows: &[Value]) -> Vec<&Value> {
    rows.iter()
        .filter(|r| r["status"] == "exported" && r["same_output_as"].is_null())
        .collect()
}

fn count(rows: &[Value], status: &str) -> usize {
    rows.iter().filter(|r| r["status"] == status).count()
}

/// `src="…"` values in the page that point at its thumbnails.
fn thumbnails(page: &str) -> Vec<String> {
    page.split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|s| s.starts_with("report_files/"))
        .map(String::from)
        .collect()
}

fn cards(dom: &str) -> usize {
    dom.matches("<article class=\"card").count()
}

fn hidden_cards(dom: &str) -> usize {
    dom.split("<article class=\"card")
        .skip(1)
        .filter(|c| c.split('>').next().unwrap().contains(" hidden"))
        .count()
}

#[test]
fn every_render_writes_a_page_with_every_output_and_pictures_that_decode() {
    let p = rendered();
    let out = p.path("out");
    let rows = rows(&out);
    assert!(count(&rows, "exported") >= 3, "{rows:#?}");
    assert!(
        count(&rows, "rejected") >= 1,
        "the gate held nothing back: {rows:#?}"
    );
    assert_eq!(
        count(&rows, "failed"),
        4,
        "the ended licence fails 2 captions × 2 presets"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();

    for r in &rows {
        let file = r["file"].as_str().unwrap();
        let id = r["variant_id"].as_str().unwrap();
        assert!(page.contains(file), "{file} is not on the page");
        assert!(page.contains(id), "{id} is not on the page");
    }
    assert_eq!(page.matches("<article class=\"card").count(), rows.len());
    // Held back: marked, with its reason, and shown beside what it matched.
    assert!(page.contains("held back"));
    let held = rows.iter().find(|r| r["status"] == "rejected").unwrap();
    let reason = held["dedup_reason"].as_str().unwrap();
    let esc = reason
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(
        page.contains(&esc),
        "the verdict's reason is not shown: {reason}"
    );
    assert!(page.contains("class=\"cluster\""));
    // Failures name their kind and message; the licence's end is on the outputs it concerns.
    assert!(
        page.contains("bad_input:"),
        "failures show their error kind"
    );
    assert!(page.contains("licence ended 2001-01-01"));
    // User text is escaped, never markup.
    assert!(page.contains("Half price &lt;today&gt;") || !page.contains("<today>"));
    assert!(!page.contains("<today>"));
    // No network: nothing the page loads is outside the output directory.
    assert!(!page.contains("http://") && !page.contains("https://"));

    // Every picture the page references exists and decodes; every exported and every
    // held-back output has one.
    let thumbs = thumbnails(&page);
    let with_pictures = rows
        .iter()
        .filter(|r| r["status"] == "exported" || r["status"] == "rejected")
        .count();
    assert!(
        thumbs.len() >= with_pictures,
        "{} < {with_pictures}",
        thumbs.len()
    );
    for t in &thumbs {
        let img = image::open(out.join(t)).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert!(img.width() > 0 && img.width() <= 320 && img.height() <= 320);
    }
    // Videos link their own file as the preview.
    for r in rows
        .iter()
        .filter(|r| r["kind"] == "video" && r["status"] == "exported")
    {
        let file = r["file"].as_str().unwrap().replace(' ', "%20");
        assert!(page.contains(&format!("data-video=\"{file}\"")), "{file}");
        assert!(out.join(r["file"].as_str().unwrap()).is_file());
    }

    // `factory report` rebuilds the same page from the manifest alone.
    std::fs::remove_file(out.join("report.html")).unwrap();
    let o = p.factory(&["report", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 new thumbnails"), "{}", stderr(&o));
    let again = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(again.matches("<article class=\"card").count(), rows.len());
}

#[test]
fn the_page_loads_in_headless_chromium_without_errors_and_filters_through_the_fragment() {
    let p = rendered();
    let out = p.path("out");
    let rows = rows(&out);
    let page = out.join("report.html");

    let all = dump_dom(&file_url(&page, ""));
    assert_eq!(page_errors(&all.log), Vec::<&str>::new(), "{}", all.log);
    assert_eq!(cards(&all.dom), rows.len());
    assert_eq!(hidden_cards(&all.dom), 0);
    // Set by the script only: it ran to the end.
    assert!(
        all.dom.contains(&format!("data-shown=\"{}\"", rows.len())),
        "the script did not run"
    );

    let held = dump_dom(&file_url(&page, "status=rejected"));
    assert_eq!(page_errors(&held.log), Vec::<&str>::new(), "{}", held.log);
    let n = count(&rows, "rejected");
    assert_eq!(cards(&held.dom) - hidden_cards(&held.dom), n);
    assert!(held.dom.contains(&format!("{n} of {} shown", rows.len())));

    let photo = dump_dom(&file_url(
        &page,
        "module=background%3Dphoto&preset=tiny-video",
    ));
    let want = rows
        .iter()
        .filter(|r| r["modules"]["background"] == "photo" && r["preset"] == "tiny-video")
        .count();
    assert!(want > 0);
    assert_eq!(cards(&photo.dom) - hidden_cards(&photo.dom), want);

    let id = rows[0]["variant_id"].as_str().unwrap();
    let one = dump_dom(&file_url(&page, &format!("q={id}")));
    let want = rows.iter().filter(|r| r["variant_id"] == id).count();
    assert_eq!(cards(&one.dom) - hidden_cards(&one.dom), want);
}

fn review(p: &Project, args: &[&str]) -> std::process::Output {
    let mut all = vec!["review", "out"];
    all.extend_from_slice(args);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_factory"));
    cmd.current_dir(p.dir.path())
        .env("FACTORY_REVIEWER", "dana")
        .args(&all);
    cmd.output().unwrap()
}

#[test]
fn decisions_are_recorded_with_who_and_when_and_only_approved_outputs_are_exported() {
    let p = rendered();
    let out = p.path("out");
    let rows = rows(&out);
    let exported = files(&rows);
    let (a, b) = (exported[0], exported[1]);
    let a_file = a["file"].as_str().unwrap();
    let b_name = b["file"].as_str().unwrap().rsplit('/').next().unwrap();
    let c_id = exported[2]["variant_id"].as_str().unwrap();

    // By file name, by bare name and by id; a note for all of them.
    let o = review(
        &p,
        &[
            "--approve",
            &format!("{a_file},{b_name}"),
            "--reject",
            c_id,
            "--note",
            "ok for launch",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let after = self::rows(&out);
    let find = |f: &str| after.iter().find(|r| r["file"] == f).unwrap().clone();
    let ra = find(a_file);
    assert_eq!(ra["review"]["decision"], "approved");
    assert_eq!(ra["review"]["by"], "dana");
    assert_eq!(ra["review"]["note"], "ok for launch");
    assert!(ra["review"]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        find(exported[2]["file"].as_str().unwrap())["review"]["decision"],
        "rejected"
    );
    // The region pack and the CSV say the same; the page shows it.
    let csv = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert!(csv.contains("approved,dana,"), "{csv}");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("approved by dana"));
    assert!(page.contains("rejected by dana"));

    // Unknown outputs and contradictions change nothing.
    let o = review(&p, &["--approve", "no-such-file.mp4"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"no-such-file.mp4\" is no output of this batch"),
        "{}",
        stderr(&o)
    );
    let o = review(&p, &["--approve", a_file, "--reject", a_file]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("both approved and rejected"),
        "{}",
        stderr(&o)
    );
    assert_eq!(find(a_file)["review"]["decision"], "approved");

    // Export: only the approved files, and a manifest of just them.
    let o = p.factory(&["export", "out", "--approved", "upload"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let up = p.path("upload");
    let m = manifest(&up);
    let files: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    let mut want = vec![a_file, b["file"].as_str().unwrap()];
    want.sort();
    let mut got = files.clone();
    got.sort();
    got.dedup();
    assert_eq!(got, want);
    for f in &want {
        assert_eq!(
            std::fs::read(up.join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
            "{f} is a copy of the output"
        );
    }
    let on_disk: Vec<_> = walk(&up);
    assert_eq!(
        on_disk.len(),
        want.len() + 2,
        "only the approved files and the manifest: {on_disk:?}"
    );
    // A second export into the same folder is refused: uploads are never mixed.
    let o = p.factory(&["export", "out", "--approved", "upload"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    // By variant number (every file of the variant), and every distinct output at once.
    let o = review(&p, &["--reject", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in self::rows(&out).iter().filter(|r| r["variant"] == 1) {
        assert_eq!(r["review"]["decision"], "rejected", "{}", r["file"]);
    }
    let o = review(&p, &["--approve-all-distinct"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in self::rows(&out) {
        let distinct = r["status"] == "exported" && r["dedup"] == "distinct";
        assert_eq!(
            r["review"]["decision"] == "approved",
            distinct,
            "{}: {} {}",
            r["file"],
            r["status"],
            r["dedup"]
        );
    }

    // A rerun that reuses the outputs keeps the decisions.
    let before: Vec<(Value, Value)> = self::rows(&out)
        .iter()
        .map(|r| (r["file"].clone(), r["review"].clone()))
        .collect();
    assert!(before.iter().any(|(_, v)| v["by"] == "dana"));
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let after: Vec<(Value, Value)> = self::rows(&out)
        .iter()
        .map(|r| (r["file"].clone(), r["review"].clone()))
        .collect();
    assert_eq!(after, before);
}

/// `TEMPLATE` rendered with `--library lib.sqlite` (exit 1: the expired licence's outputs
/// fail).
fn rendered_into_a_library() -> Project {
    let p = Project::new();
    std::fs::copy(p.path("assets/product.png"), p.path("assets/old.png")).unwrap();
    p.write("t.toml", TEMPLATE);
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "out",
        "--progress",
        "plain",
        "--library",
        "lib.sqlite",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    p
}

#[test]
fn decisions_go_to_the_library_the_batch_was_rendered_with_as_a_history() {
    let p = rendered_into_a_library();
    let out = p.path("out");
    // The manifest says which library the run recorded its outputs in.
    assert_eq!(
        manifest(&out)["run"]["library"],
        p.path("lib.sqlite").to_str().unwrap()
    );
    let rows = rows(&out);
    let exported = files(&rows);
    let (a, b) = (exported[0], exported[1]);
    let a_file = a["file"].as_str().unwrap();
    let b_file = b["file"].as_str().unwrap();

    // No --library: the batch's own is used.
    let o = review(
        &p,
        &[
            "--approve",
            a_file,
            "--reject",
            b_file,
            "--note",
            "first pass",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("and the library "), "{}", stderr(&o));
    // A change of mind is another row, not an overwrite.
    let o = review(&p, &["--approve", b_file]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = p.factory(&["library", "--library", "lib.sqlite", "reviews", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let history: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let brief: Vec<(String, String, String, String)> = history
        .iter()
        .map(|h| {
            (
                h["file"].as_str().unwrap().to_string(),
                h["decision"].as_str().unwrap().to_string(),
                h["reviewer"].as_str().unwrap().to_string(),
                h["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let row = |f: &str, d: &str, n: &str| {
        (
            f.to_string(),
            d.to_string(),
            "dana".to_string(),
            n.to_string(),
        )
    };
    let mut first = vec![
        row(a_file, "approved", "first pass"),
        row(b_file, "rejected", "first pass"),
    ];
    first.sort();
    let mut got_first = brief[..2].to_vec();
    got_first.sort();
    assert_eq!(got_first, first);
    assert_eq!(brief[2..], [row(b_file, "approved", "")]);
    // Each decision names the bytes it was about and the batch.
    for h in &history {
        let m = rows.iter().find(|r| r["file"] == h["file"]).unwrap();
        assert_eq!(h["sha256"], m["sha256"]);
        assert_eq!(h["variant_id"], m["variant_id"]);
        assert_eq!(h["template"], "review me");
        assert!(h["at"].as_str().unwrap().ends_with('Z'));
    }

    // The batch's library gone: nothing is recorded anywhere, and the error says why.
    let before = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    std::fs::rename(p.path("lib.sqlite"), p.path("moved.sqlite")).unwrap();
    let o = review(&p, &["--reject", a_file]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("which is no longer there; give one with --library"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("manifest.json")).unwrap(),
        before
    );
    // Told where it went, it records there.
    let o = review(&p, &["--reject", a_file, "--library", "moved.sqlite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = p.factory(&[
        "library",
        "--library",
        "moved.sqlite",
        "reviews",
        "--variant",
        a["variant_id"].as_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = stdout(&o);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[1].contains(&format!(" rejected {a_file}  variant ")),
        "{listed}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            found.extend(walk(&e.path()));
        } else {
            found.push(e.path());
        }
    }
    found
}

#[test]
fn export_refuses_failed_held_back_and_expired_outputs_naming_each() {
    let p = rendered();
    let out = p.path("out");
    let rows = rows(&out);
    let failed = rows.iter().find(|r| r["status"] == "failed").unwrap();
    let held = rows.iter().find(|r| r["status"] == "rejected").unwrap();
    let good = rows.iter().find(|r| r["status"] == "exported").unwrap();
    let pick: Vec<&str> = [failed, held, good]
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    let o = review(&p, &["--approve", &pick.join(",")]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = p.factory(&["export", "out", "--approved", "upload"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("nothing was copied"), "{err}");
    assert!(
        err.contains(&format!("{}: it failed its checks (bad_input: ", pick[0])),
        "{err}"
    );
    assert!(
        err.contains("licence"),
        "the failure's message names the licence: {err}"
    );
    assert!(
        err.contains(&format!(
            "{}: it is a duplicate the gate held back (",
            pick[1]
        )),
        "{err}"
    );
    assert!(
        !err.contains(&format!("{}:", pick[2])),
        "the good output is not refused: {err}"
    );
    assert!(!p.path("upload").exists(), "nothing half-made is left");

    // A file changed after the render is refused too.
    let o = review(&p, &["--reject", &format!("{},{}", pick[0], pick[1])]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(out.join(pick[2]), b"edited").unwrap();
    let o = p.factory(&["export", "out", "--approved", "upload"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the file changed since it was rendered"),
        "{}",
        stderr(&o)
    );
    assert!(!p.path("upload").exists());
}

/// The review batch on its still preset only, without the background whose licence ended,
/// and with every output exported (policy `warn`): two backgrounds × two captions.
fn results_template() -> String {
    let mut t = TEMPLATE.to_string();
    for (from, to) in [
        ("kind = \"both\"\nduration = 1.0\nfps = 10", "kind = \"image\""),
        (
            "presets = [\"tiny-video\", \"tiny-post\"]",
            "presets = [\"tiny-post\"]",
        ),
        ("policy = \"reject\"", "policy = \"warn\""),
        (
            "[[background]]\nid = \"old\"\nimage = \"assets/old.png\"\nlicence = { holder = \"Stock Co\", id = \"SC-9\", expires = \"2001-01-01\" }\n\n",
            "",
        ),
    ] {
        assert!(t.contains(from), "TEMPLATE no longer has {from:?}");
        t = t.replace(from, to);
    }
    t
}

/// `<figure class="plot" …>` openings in a page or DOM.
fn figures(html: &str) -> Vec<&str> {
    html.split("<figure class=\"plot")
        .skip(1)
        .map(|f| f.split('>').next().unwrap())
        .collect()
}

#[test]
fn imported_results_show_on_the_page_with_plots_that_load_and_a_ctr_on_each_card() {
    let p = Project::new();
    p.write("t.toml", &results_template());
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "out",
        "--library",
        "lib.sqlite",
        "--progress",
        "plain",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = p.path("out");
    let rows = rows(&out);
    assert_eq!(count(&rows, "exported"), 4, "{rows:#?}");
    let page_path = out.join("report.html");
    let before = std::fs::read_to_string(&page_path).unwrap();
    assert!(
        !before.contains("id=\"results\""),
        "no results yet, no section"
    );

    // Nothing imported yet: the page is left as it was.
    let o = p.factory(&["report", "out", "--library", "lib.sqlite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("none of the batch's variants has results"),
        "{}",
        stderr(&o)
    );
    assert!(!std::fs::read_to_string(&page_path)
        .unwrap()
        .contains("id=\"results\""));

    // A Meta export: the variant id in the ad name; the photo background clicks twice as well.
    let mut csv = String::from("Reporting starts,Reporting ends,Ad name,Ad ID,Impressions,Link clicks,Results,Amount spent (USD)\n");
    let mut expect = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let id = r["variant_id"].as_str().unwrap();
        let photo = r["modules"]["background"] == "photo";
        let (imp, clk) = (
            40_000 + 1_000 * i as i64,
            if photo { 800 } else { 400 } + 10 * i as i64,
        );
        csv.push_str(&format!(
            "2026-11-01,2026-11-30,page test | {id},90{i},{imp},{clk},{},{}.00\n",
            clk / 20,
            imp / 250
        ));
        expect.push((r["file"].as_str().unwrap().to_string(), imp, clk));
    }
    p.write("meta.csv", &csv);
    let o = p.factory(&["results", "import", "--library", "lib.sqlite", "meta.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("4 joined to variants"),
        "{}",
        stdout(&o)
    );

    let o = p.factory(&["report", "out", "--library", "lib.sqlite"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("4 of the batch's variants have results"),
        "{}",
        stderr(&o)
    );
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(
        page.contains("<section id=\"results\">"),
        "the Results section"
    );
    assert!(
        page.contains("not randomized"),
        "the delivery warning travels with the numbers"
    );
    let srcs: Vec<String> = thumbnails(&page)
        .into_iter()
        .filter(|s| s.starts_with("report_files/results/"))
        .collect();
    assert_eq!(
        srcs,
        [
            "report_files/results/module-effects-ctr.svg",
            "report_files/results/module-effects-cvr.svg",
            "report_files/results/variant-rates.svg"
        ]
    );
    for s in &srcs {
        assert!(out.join(s).is_file(), "{s} is written");
    }
    // Each card: its CTR with interval and the counts it rests on.
    for chunk in page.split("<article class=\"card").skip(1) {
        let (file, imp, clk) = expect
            .iter()
            .find(|(f, _, _)| chunk.contains(&format!("<div class=\"name\">{f}</div>")))
            .expect("a card per exported output");
        assert!(
            chunk.contains(&format!("{clk} clicks of {imp} impressions")) && chunk.contains("CTR "),
            "{file}'s card shows its CTR: {chunk}"
        );
    }

    let loaded = dump_dom(&file_url(&page_path, ""));
    assert_eq!(
        page_errors(&loaded.log),
        Vec::<&str>::new(),
        "{}",
        loaded.log
    );
    let figs = figures(&loaded.dom);
    assert_eq!(figs.len(), 3, "{}", loaded.dom);
    for (f, src) in figs.iter().zip(&srcs) {
        // The script marks a plot with the size it decoded to (naturalWidth × naturalHeight).
        let svg = std::fs::read_to_string(out.join(src)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let size = format!(
            "data-loaded=\"{}x{}\"",
            doc.root_element().attribute("width").unwrap(),
            doc.root_element().attribute("height").unwrap()
        );
        assert!(
            f.contains(&size),
            "{src} did not load in chromium as {size}: {f}"
        );
        assert!(!f.contains("broken"), "{src}: {f}");
    }

    // A later rebuild without the library (as `factory review` and a rerun make) keeps them.
    let o = p.factory(&["review", "out", "--approve", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = std::fs::read_to_string(&page_path).unwrap();
    assert_eq!(figures(&again).len(), 3, "results survive a rebuild");
    assert!(again.contains("clicks of"), "cards keep their CTR");
}

/// A still exported into a library keeps its centre crops' hashes, which let a cropped copy
/// made elsewhere find it (the render gate measures them only when there is a library to
/// keep them), and they are those `factory dedup` measures on the file, a few bits apart.
#[test]
fn stills_exported_into_a_library_keep_their_crop_hashes() {
    use creative_factory::dedup::fingerprint::{Fingerprint, Masks, MediaKind};
    use creative_factory::dedup::Library;
    let p = rendered_into_a_library();
    let lib = Library::open(&p.path("lib.sqlite")).unwrap();
    let stills: Vec<_> = lib
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == MediaKind::Image)
        .collect();
    assert!(!stills.is_empty());
    for e in stills {
        let stored = &lib.frames(e.id).unwrap()[0].crops;
        let measured = Fingerprint::compute(&e.path, &Masks::default()).unwrap();
        assert_eq!(stored.len(), 2, "{}", e.path.display());
        for (s, m) in stored.iter().zip(&measured.frames[0].crops) {
            assert!(
                s.hamming(m) <= 24,
                "{}: {} bits",
                e.path.display(),
                s.hamming(m)
            );
        }
    }
}
