//! Sharded renders (`factory render --shard`) merged by `factory merge` into the batch a
//! single machine makes: same rows, ids, names and bytes, the duplicate gate run across
//! shards, the library written once, and missing parts named and made up later.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::support::project::*;

/// Three variants × a video and a still preset. Background `copy` is the same picture as
/// `photo` under another option, so variant 2 is a near-copy of variant 1 that the gate
/// (`reject`) holds back, whichever machine rendered either.
const TEMPLATE: &str = r##"
[template]
name = "shards"
version = 1
kind = "both"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video", "tiny-post"]
regions = ["US"]

[[background]]
id = "photo"
image = "assets/photo.png"

[[background]]
id = "copy"
image = "assets/copy.png"

[[background]]
id = "clip"
video = "assets/clip.mp4"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
size = 0.1
min_size = 0.05

[[audio]]
id = "tone"
source = "assets/music.m4a"

[dedup]
policy = "reject"
"##;

fn project() -> Project {
    let p = Project::new();
    std::fs::copy(p.path("assets/photo.png"), p.path("assets/copy.png")).unwrap();
    p.write("t.toml", TEMPLATE);
    p
}

/// Shard `i` of `n` as a Kubernetes Indexed Job's pod runs it (`--shard auto`).
fn spawn_shard(p: &Project, i: u32, n: u32) -> Child {
    crate::support::factory()
        .current_dir(p.dir.path())
        .args(["render", "t.toml", "--shard", "auto", "--progress", "plain"])
        .args(["--presets-dir", "presets", "--jobs", "1"])
        .args(["--out", &format!("parts/shard-{i}")])
        .env("JOB_COMPLETION_INDEX", i.to_string())
        .env("FACTORY_SHARD_COUNT", n.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The same batch on one machine, with its own library: what the merge must equal.
fn render_single(p: &Project) {
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "single",
        "--library",
        "single.sqlite",
        "--progress",
        "plain",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn shard_ok(child: Child) {
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The manifest's rows: everything a user would compare, bytes and sha256 included.
fn comparable_rows(dir: &Path) -> serde_json::Value {
    manifest(dir)["outputs"].take()
}

fn merge(p: &Project, extra: &[&str]) -> std::process::Output {
    p.factory(
        &[
            &[
                "merge",
                "merged",
                "--parts-under",
                "parts",
                "--progress",
                "plain",
            ][..],
            &["--library", "merged.sqlite"],
            extra,
        ]
        .concat(),
    )
}

/// The outputs in `dir`, each with its sha256.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        if rel.ends_with(".mp4") || rel.ends_with(".jpg") || rel.ends_with(".png") {
            out.insert(
                rel,
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                    std::fs::read(&e).unwrap(),
                )),
            );
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let hidden = path.file_name().unwrap().to_string_lossy().starts_with('.');
        if path.is_dir() && !hidden {
            v.extend(walk(&path));
        } else if path.is_file() {
            v.push(path);
        }
    }
    v
}

fn library_files(p: &Project, lib: &str) -> Vec<String> {
    let o = p.factory(&["library", "list", "--library", lib, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut files: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let path = e["path"].as_str().unwrap();
            path.rsplit('/').next().unwrap().to_string()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn three_shards_merge_into_the_single_machine_batch() {
    let p = project();
    render_single(&p);

    // Three shard processes at once, as an Indexed Job's pods would run.
    let children: Vec<Child> = (0..3).map(|i| spawn_shard(&p, i, 3)).collect();
    children.into_iter().for_each(shard_ok);
    // Shards leave the library to the merge.
    assert!(!p.path("merged.sqlite").exists());

    // The near-copy and its original were rendered by different shards.
    let owned = |i: u32| -> Vec<String> {
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(p.path(&format!("parts/shard-{i}/part.json"))).unwrap(),
        )
        .unwrap();
        info["owned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    let single = manifest(&p.path("single"));
    let rows = single["outputs"].as_array().unwrap();
    let held: Vec<&serde_json::Value> = rows.iter().filter(|r| r["status"] == "rejected").collect();
    // Variant 2 (the copy) is held back in both presets.
    let held_variants: Vec<(u64, &str)> = held
        .iter()
        .map(|r| (r["variant"].as_u64().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(held_variants, [(2, "video"), (2, "image")], "{rows:?}");
    let shard_of = |file: &str| {
        (0..3)
            .find(|i| owned(*i).iter().any(|f| f == file))
            .unwrap()
    };
    let original = |r: &serde_json::Value| {
        rows.iter()
            .find(|o| o["variant"] == 1 && o["preset"] == r["preset"])
            .unwrap()["file"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        held.iter()
            .any(|r| shard_of(r["file"].as_str().unwrap()) != shard_of(&original(r))),
        "a held-back output and its original come from different shards"
    );
    // Balanced by cost: every shard has one video (the costly kind) and one still.
    for i in 0..3 {
        let kinds: Vec<bool> = owned(i).iter().map(|f| f.ends_with(".mp4")).collect();
        assert_eq!(
            kinds.iter().filter(|v| **v).count(),
            1,
            "shard {i}: {kinds:?}"
        );
    }

    let o = merge(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        comparable_rows(&p.path("merged")),
        comparable_rows(&p.path("single")),
        "the same rows, in the same order"
    );
    assert_eq!(
        tree(&p.path("merged")),
        tree(&p.path("single")),
        "the same files, byte for byte"
    );
    // The library learned the batch once, as from the single run.
    assert_eq!(
        library_files(&p, "merged.sqlite"),
        library_files(&p, "single.sqlite")
    );

    // Safe to run again: nothing changes, everything reused.
    let o = merge(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        comparable_rows(&p.path("merged")),
        comparable_rows(&p.path("single"))
    );
    assert_eq!(
        library_files(&p, "merged.sqlite"),
        library_files(&p, "single.sqlite")
    );
}

#[test]
fn a_missing_part_is_named_and_merging_again_after_rendering_it_completes_the_batch() {
    let p = project();
    for i in [0, 2] {
        shard_ok(spawn_shard(&p, i, 3));
    }
    let o = merge(&p, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: shard 1/3 has no part among the directories given"),
        "{}",
        stderr(&o)
    );
    let m = manifest(&p.path("merged"));
    let failed: Vec<&serde_json::Value> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2, "shard 1's two outputs");
    for r in &failed {
        assert!(
            r["error"].as_str().unwrap().ends_with(
                "not merged: shard 1/3 has no part among the directories given; render it and \
                 merge again"
            ),
            "{r}"
        );
        assert!(!p.path("merged").join(r["file"].as_str().unwrap()).exists());
    }
    // The failed shard is rendered alone, then the merge is run again.
    shard_ok(spawn_shard(&p, 1, 3));
    let o = merge(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    render_single(&p);
    assert_eq!(
        comparable_rows(&p.path("merged")),
        comparable_rows(&p.path("single"))
    );
    assert_eq!(tree(&p.path("merged")), tree(&p.path("single")));
}

#[test]
fn parts_of_another_template_are_refused_by_name() {
    let p = project();
    shard_ok(spawn_shard(&p, 0, 2));
    p.write("t.toml", &TEMPLATE.replace("Run lighter.", "Run faster."));
    shard_ok(spawn_shard(&p, 1, 2));
    let o = merge(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "parts/shard-1 is shard 1/2 of another batch than parts/shard-0 (shard 0/2): the \
             template's sha256 differs"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!p.path("merged").exists());
}

#[test]
fn a_file_shared_by_several_variants_merges_with_every_variants_row() {
    let p = Project::new();
    // The main image hides the background: one file serves all three variants there.
    p.write(
        "t.toml",
        &TEMPLATE
            .replace(
                r#"presets = ["tiny-video", "tiny-post"]"#,
                r#"presets = ["tiny-image", "tiny-post"]"#,
            )
            .replace(
                "id = \"copy\"\nimage = \"assets/copy.png\"",
                "id = \"copy\"\ncolor = \"#336699\"",
            )
            .replace("policy = \"reject\"", "policy = \"warn\""),
    );
    let children: Vec<Child> = (0..2).map(|i| spawn_shard(&p, i, 2)).collect();
    for c in children {
        shard_ok(c);
    }
    render_single(&p);
    let o = merge(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = comparable_rows(&p.path("merged"));
    assert_eq!(merged, comparable_rows(&p.path("single")));
    assert_eq!(tree(&p.path("merged")), tree(&p.path("single")));
    let shared: Vec<&serde_json::Value> = merged
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["preset"] == "tiny-image")
        .collect();
    assert_eq!(shared.len(), 3, "a row per variant");
    assert!(shared.iter().all(|r| r["file"] == shared[0]["file"]
        && r["status"] == "exported"
        && r["sha256"] == shared[0]["sha256"]));
}
