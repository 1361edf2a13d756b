//! Asset licences: an expired licence, or one that does not cover the output's region,
//! fails exactly the outputs that show the asset (naming licence, asset, variant and
//! region); one ending soon is a warning; every output's row says when its first licence
//! ends. Records come from the template or from an `assets.toml` beside the media.

use crate::support::project::*;

/// The UTC day `days` from today, as `date` prints it.
fn day(days: i64) -> String {
    let o = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{days} days"), "+%F"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn template(photo_licence: &str) -> String {
    format!(
        r##"
[template]
name = "licensed"
kind = "image"

[output]
presets = ["tiny-post"]
regions = ["US", "SA"]

[[background]]
id = "photo"
image = "assets/photo.png"
{photo_licence}

[[background]]
id = "teal"
color = "#227777"

[[product]]
id = "disc"
source = "assets/product.png"
"##
    )
}

/// Each output as `("REGION OPTION", error or status)`, the option being `pool`'s.
fn outcomes(p: &Project, pool: &str) -> Vec<(String, String)> {
    rows(p)
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["region"].as_str().unwrap(),
                    r["modules"][pool].as_str().unwrap()
                ),
                r["error"]
                    .as_str()
                    .unwrap_or(r["status"].as_str().unwrap())
                    .to_string(),
            )
        })
        .collect()
}

fn rows(p: &Project) -> Vec<serde_json::Value> {
    manifest(&p.path("out"))["outputs"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_licence_fails_the_outputs_it_does_not_cover_and_dates_every_row() {
    let p = Project::new();
    let (photo_end, disc_end) = (day(200), day(10));
    p.write(
        "t.toml",
        &template(&format!(
            "licence = {{ holder = \"Stock Co\", id = \"SC-1\", expires = \"{photo_end}\", regions = [\"US\"] }}"
        )),
    );
    p.write(
        "assets/assets.toml",
        &format!(
            "# one record for every template using these files\n[[asset]]\nfile = \"product.png\"\nholder = \"Studio\"\nid = \"ST-9\"\nexpires = \"{disc_end}\"\nusage = \"paid social\"\n"
        ),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "warning: licence ST-9 (Studio, {}:2) of assets/product.png ends on {disc_end}, within 30 days: 4 output(s) show it",
            p.path("assets/assets.toml").canonicalize().unwrap().display()
        )),
        "{err}"
    );
    let got: Vec<(String, String, String, String)> = rows(&p)
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["region"].as_str().unwrap(),
                    r["modules"]["background"].as_str().unwrap()
                ),
                r["status"].as_str().unwrap().to_string(),
                r["licence_expires"].as_str().unwrap_or("").to_string(),
                r["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let sa_photo = &got.iter().find(|g| g.0 == "SA photo").unwrap().3;
    let line = template("X").lines().position(|l| l == "X").unwrap() + 1;
    assert_eq!(
        sa_photo,
        &format!(
            "variant 1 (SA/SA_Feed_Post_v1.png, tiny-post, SA): licence SC-1 (Stock Co, t.toml:{line}) of assets/photo.png covers US only, not SA"
        )
    );
    let brief: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(k, s, e, _)| (k.as_str(), s.as_str(), e.as_str()))
        .collect();
    assert_eq!(
        brief,
        [
            ("US photo", "exported", disc_end.as_str()),
            ("US teal", "exported", disc_end.as_str()),
            ("SA photo", "failed", disc_end.as_str()),
            ("SA teal", "exported", disc_end.as_str()),
        ]
    );
    assert_eq!(rows(&p)[2]["error_kind"], "bad_input");
    assert!(!p.path("out/SA/SA_Feed_Post_v1.png").exists());
}

#[test]
fn an_expired_licence_renders_nothing_that_shows_the_asset() {
    let p = Project::new();
    let ended = day(-1);
    p.write(
        "t.toml",
        &template(&format!(
            "licence = {{ holder = \"Stock Co\", id = \"SC-1\", expires = \"{ended}\" }}"
        )),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let failed: Vec<String> = rows(&p)
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| {
            let e = r["error"].as_str().unwrap();
            assert!(
                e.ends_with(&format!(
                    "of assets/photo.png expired on {ended} (today is {}): renew it or drop the asset",
                    day(0)
                )),
                "{e}"
            );
            r["region"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        failed,
        ["US", "SA"],
        "every output over the photo, nothing else"
    );
}

#[test]
fn a_bad_licence_record_is_an_error_at_its_line() {
    let p = Project::new();
    let t =
        template("licence = { holder = \"Stock Co\", id = \"SC-1\", expires = \"2027-02-30\" }");
    p.write("t.toml", &t);
    p.write(
        "assets/assets.toml",
        "[[asset]]\nfile = \"product.png\"\nholder = \"Studio\"\nid = \"ST-9\"\nexpiry = \"2027-01-01\"\n\n[[asset]]\nfile = \"gone.png\"\nholder = \"Studio\"\nid = \"ST-10\"\n",
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let line = t.lines().position(|l| l.contains("2027-02-30")).unwrap() + 1;
    assert!(err.contains(&format!("t.toml:{line}:")), "{err}");
    assert!(
        err.contains("`expires` = \"2027-02-30\" is not a date"),
        "{err}"
    );
    assert!(err.contains("assets.toml:1\n"), "{err}");
    assert!(err.contains("unknown key `expiry` in [[asset]]"), "{err}");
    assert!(err.contains("assets.toml:7\n"), "{err}");
    assert!(
        err.contains("`gone.png` does not exist beside assets.toml"),
        "{err}"
    );
}

/// What `factory library expiring` prints, one line per licence, with the library's
/// absolute paths cut down to the output's name.
fn expiring(p: &Project, args: &[&str]) -> Vec<String> {
    let mut all = vec!["library", "--library", "lib.sqlite", "expiring"];
    all.extend_from_slice(args);
    let o = p.factory(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = p.path("out").canonicalize().unwrap();
    stdout(&o)
        .lines()
        .map(|l| {
            // Entry ids follow the order outputs finished in: `#N` stands for any.
            let l = l.replace(&format!("{}/", out.display()), "");
            match l.split_once("  #") {
                Some((head, rest)) if !l.starts_with("no licence") => {
                    let tail = rest.split_once(' ').map_or("", |(_, t)| t);
                    format!("{head}  #N {tail}")
                }
                _ => l,
            }
        })
        .collect()
}

#[test]
fn the_library_lists_exported_outputs_whose_licences_end_soon() {
    let p = Project::new();
    let (photo_end, disc_end) = (day(10), day(200));
    p.write(
        "t.toml",
        &format!(
            "{}\n[dedup]\npolicy = \"warn\"\nlibrary = \"lib.sqlite\"\n",
            template(&format!(
                "licence = {{ holder = \"Stock Co\", id = \"SC-1\", expires = \"{photo_end}\" }}"
            ))
        ),
    );
    p.write(
        "assets/assets.toml",
        &format!("[[asset]]\nfile = \"product.png\"\nholder = \"Studio\"\nid = \"ST-9\"\nexpires = \"{disc_end}\"\n"),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let vid = |region: &str, bg: &str| -> String {
        rows(&p)
            .iter()
            .find(|r| r["region"] == region && r["modules"]["background"] == bg)
            .unwrap()["variant_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Within the default 30 days: the photo's licence, on both outputs that show it.
    let mut soon = expiring(&p, &[]);
    soon.sort();
    let want: Vec<String> = ["SA", "US"]
        .iter()
        .map(|r| {
            format!(
                "expires {photo_end}  #N {r}/{r}_Feed_Post_v1.png  variant {}  licence SC-1 (Stock Co) of assets/photo.png",
                vid(r, "photo")
            )
        })
        .collect();
    assert_eq!(soon, want);
    // A year ahead: the product's licence too, on every output (it is in all four).
    let year = expiring(&p, &["--within", "365"]);
    assert_eq!(year.len(), 6, "{year:#?}");
    assert_eq!(
        year.iter()
            .filter(|l| l.starts_with(&format!("expires {disc_end} "))
                && l.ends_with("licence ST-9 (Studio) of assets/product.png"))
            .count(),
        4,
        "{year:#?}"
    );
    assert!(
        year[..2].iter().all(|l| l.contains("SC-1")),
        "soonest first: {year:#?}"
    );
    // And for a scheduler, the same as JSON.
    let o = p.factory(&["library", "--library", "lib.sqlite", "expiring", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(&str, &str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["variant_id"].as_str().unwrap(),
                e["licence"]["id"].as_str().unwrap(),
                e["licence"]["expires"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (vid("US", "photo"), "SC-1", photo_end.as_str()),
        (vid("SA", "photo"), "SC-1", photo_end.as_str()),
    ];
    want.sort();
    let mut got: Vec<(String, &str, &str)> = got
        .into_iter()
        .map(|(a, b, c)| (a.to_string(), b, c))
        .collect();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn an_expired_licence_in_the_library_is_listed_as_expired() {
    use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
    use creative_factory::dedup::{AssetLicence, Candidate, Library};
    let p = Project::new();
    let lib = Library::open(&p.path("lib.sqlite")).unwrap();
    let file = p.path("assets/photo.png");
    let fp = Fingerprint::compute(&file, &Masks::default()).unwrap();
    let mut c = Candidate::file(&file);
    c.variant_id = Some("v-old".into());
    let ended = day(-3);
    c.licences = vec![
        AssetLicence {
            asset: "music/song.m4a".into(),
            holder: "Label".into(),
            id: "L-7".into(),
            expires: Some(ended.clone()),
        },
        AssetLicence {
            asset: "fonts/brand.otf".into(),
            holder: "Foundry".into(),
            id: "F-1".into(),
            expires: None,
        },
    ];
    lib.add_candidate(&c, &fp).unwrap();
    drop(lib);
    std::fs::create_dir_all(p.path("out")).unwrap();
    assert_eq!(
        expiring(&p, &["--within", "0"]),
        [format!(
            "expired {ended}  #N {}  variant v-old  licence L-7 (Label) of music/song.m4a",
            file.canonicalize().unwrap().display()
        )],
        "a perpetual licence is never listed"
    );
}

#[test]
fn a_library_from_the_previous_version_is_upgraded_in_place() {
    let p = Project::new();
    // Written by the build before licences were recorded (schema version 1).
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/library/v1.sqlite"
        ),
        p.path("lib.sqlite"),
    )
    .unwrap();
    std::fs::create_dir_all(p.path("out")).unwrap();
    let o = p.factory(&["library", "--library", "lib.sqlite", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("#1     image /tmp/v1lib/bridge.jpg  1 frames"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        expiring(&p, &[]),
        [format!(
            "no licence in library {} expires by {} (within 30 days)",
            "lib.sqlite",
            day(30)
        )]
    );
    let db = rusqlite::Connection::open(p.path("lib.sqlite")).unwrap();
    let versions: Vec<i64> = db
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Upgraded straight to the current version (5: video seconds' thumbnails) in one
    // transaction.
    assert_eq!(versions, [1, 5]);
}

/// A real font under a family no machine has: DejaVu Sans with its family name patched in
/// place ("DejaVu Sans" → "Brandy Sans", same length in both name-table encodings), so a
/// render that draws "Brandy Sans" can only have found it through `[[font]]`.
fn brand_font(p: &Project, rel: &str) {
    let mut bytes = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        .expect("fonts-dejavu-core (make deps installs it)");
    let mut patched = 0;
    for (from, to) in [
        (
            "DejaVu Sans".as_bytes().to_vec(),
            "Brandy Sans".as_bytes().to_vec(),
        ),
        (utf16be("DejaVu Sans"), utf16be("Brandy Sans")),
    ] {
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if bytes[i..i + from.len()] == from[..] {
                bytes[i..i + from.len()].copy_from_slice(&to);
                patched += 1;
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    assert!(
        patched >= 2,
        "the family name was not found in DejaVuSans.ttf"
    );
    let path = p.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// An image batch for the US and Saudi Arabia over a plain teal background; `rest` adds
/// the pools under test.
fn teal_batch(name: &str, rest: &str) -> String {
    format!(
        "\n[template]\nname = \"{name}\"\nkind = \"image\"\n\n[output]\npresets = [\"tiny-post\"]\nregions = [\"US\", \"SA\"]\n\n[[background]]\nid = \"teal\"\ncolor = \"#227777\"\n{rest}"
    )
}

fn font_template(font_licence: &str) -> String {
    teal_batch(
        "branded",
        &format!(
            r##"
[[subtitle]]
id = "brand"
text = {{ en = "Fresh", ar = "طازج" }}
font = ["Brandy Sans", "Noto Sans Arabic"]

[[subtitle]]
id = "plain"
text = {{ en = "Fresh", ar = "طازج" }}

[[font]]
file = "fonts/brandy.ttf"
{font_licence}
"##
        ),
    )
}

#[test]
fn a_template_font_is_drawn_and_licensed_like_media() {
    let p = Project::new();
    brand_font(&p, "fonts/brandy.ttf");
    let t = font_template(
        "licence = { holder = \"Brandy Type\", id = \"BT-7\", expires = \"2099-12-31\", regions = [\"US\"] }",
    );
    p.write("t.toml", &t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = t.lines().position(|l| l.starts_with("licence")).unwrap() + 1;
    let got: Vec<(String, String, String, Vec<String>)> = rows(&p)
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["region"].as_str().unwrap(),
                    r["modules"]["subtitle"].as_str().unwrap()
                ),
                r["status"].as_str().unwrap().to_string(),
                r["error"].as_str().unwrap_or("").to_string(),
                r["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let find = |k: &str| got.iter().find(|g| g.0 == k).unwrap();
    // The US output is drawn with the template's font: the manifest names the family.
    let us = rows(&p)
        .iter()
        .find(|r| r["region"] == "US" && r["modules"]["subtitle"] == "brand")
        .unwrap()
        .clone();
    assert_eq!(us["status"], "exported");
    assert!(
        us["fonts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("Brandy Sans")),
        "{us}"
    );
    assert_eq!(find("US brand").3, ["fonts/brandy.ttf"]);
    // The licence covers the US only: the Saudi output that names the font fails, naming
    // licence, asset, variant and region; the one that does not name it renders.
    assert_eq!(find("SA brand").1, "failed");
    assert!(
        find("SA brand").2.ends_with(&format!(
            "licence BT-7 (Brandy Type, t.toml:{line}) of fonts/brandy.ttf covers US only, not SA"
        )),
        "{}",
        find("SA brand").2
    );
    assert_eq!(
        (find("SA plain").1.as_str(), find("SA plain").3.len()),
        ("exported", 0)
    );
    assert_eq!(find("US plain").1, "exported");
}

#[test]
fn a_font_record_in_assets_toml_covers_it_too() {
    let p = Project::new();
    brand_font(&p, "fonts/brandy.ttf");
    p.write("t.toml", &font_template(""));
    p.write(
        "fonts/assets.toml",
        &format!(
            "[[asset]]\nfile = \"brandy.ttf\"\nholder = \"Brandy Type\"\nid = \"BT-8\"\nexpires = \"{}\"\n",
            day(-1)
        ),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let failed: Vec<String> = rows(&p)
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| {
            assert!(
                r["error"]
                    .as_str()
                    .unwrap()
                    .contains("of fonts/brandy.ttf expired on"),
                "{r}"
            );
            format!(
                "{} {}",
                r["region"].as_str().unwrap(),
                r["modules"]["subtitle"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(failed, ["US brand", "SA brand"]);
}

#[test]
fn a_font_that_is_not_one_is_an_error_and_an_unused_one_a_warning() {
    let p = Project::new();
    brand_font(&p, "fonts/brandy.ttf");
    let t = font_template("").replace("font = [\"Brandy Sans\", \"Noto Sans Arabic\"]\n", "")
        + "\n[[font]]\nfile = \"assets/product.png\"\n";
    p.write("t.toml", &t);
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let at = |needle: &str| t.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!("t.toml:{}:", at("fonts/brandy.ttf"))),
        "{err}"
    );
    assert!(
        err.contains("warning: font `fonts/brandy.ttf` (Brandy Sans) is named by no subtitle, badge or end card"),
        "{err}"
    );
    assert!(
        err.contains("`assets/product.png` is not a usable font"),
        "{err}"
    );
    assert!(
        err.contains(&format!("t.toml:{}:", at("assets/product.png"))),
        "{err}"
    );
}

#[test]
fn a_lut_sound_effect_logo_and_voice_over_carry_licences_where_they_are_named() {
    let p = Project::new();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/samples/luts/golden-hour.cube"),
        p.path("assets/golden.cube"),
    )
    .unwrap();
    let t = &teal_batch(
        "looks",
        r##"
[[effects]]
id = "golden"
lut = "assets/golden.cube"
licence = { holder = "Look Lab", id = "LL-3", regions = ["US"] }

[[effects]]
id = "plain"
grade = { contrast = 1.1 }
"##,
    );
    p.write("t.toml", t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = t.lines().position(|l| l.contains("LL-3")).unwrap() + 1;
    let got: Vec<(String, String)> = outcomes(&p, "effects");
    assert_eq!(got.len(), 4, "{got:?}");
    for (k, status) in &got {
        if k == "SA golden" {
            assert!(
                status.ends_with(&format!(
                    "licence LL-3 (Look Lab, t.toml:{line}) of assets/golden.cube covers US only, not SA"
                )),
                "{status}"
            );
        } else {
            assert_eq!(status, "exported", "{k}");
        }
    }

    // A licence where there is no file for it to cover is an error at its line.
    let bad = t.replace("lut = \"assets/golden.cube\"\n", "")
        + "\n[[end_card]]\nid = \"card\"\nheadline = \"Hi\"\nlicence = { holder = \"Logo Co\", id = \"LC-1\" }\n";
    p.write("bad.toml", &bad);
    let o = p.factory(&["validate", "bad.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("effects `golden` (its lut) has a licence but no media file for it to cover"),
        "{err}"
    );
    assert!(
        err.contains("end card `card` (its logo) has a licence but no media file for it to cover"),
        "{err}"
    );
}

#[test]
fn a_voice_over_licence_covers_every_locale_file_and_a_sound_effect_carries_its_own() {
    let p = Project::new();
    std::fs::copy(p.path("assets/music.m4a"), p.path("assets/vo-en.m4a")).unwrap();
    std::fs::copy(p.path("assets/music.m4a"), p.path("assets/vo-ar.m4a")).unwrap();
    let ended = day(-1);
    let t = format!(
        r##"
[template]
name = "voices"
kind = "video"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video"]
regions = ["US", "SA"]

[[background]]
id = "teal"
color = "#227777"

[[audio]]
id = "vo"
voiceover = {{ en = "assets/vo-en.m4a", ar = "assets/vo-ar.m4a" }}
voiceover_licence = {{ holder = "Voice Co", id = "VC-1", regions = ["US"] }}

[[audio]]
id = "fx"
sfx = [{{ source = "assets/music.m4a", at = 0.2, licence = {{ holder = "FX Lib", id = "FX-2", expires = "{ended}" }} }}]
"##
    );
    p.write("t.toml", &t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut got: Vec<(String, String)> = outcomes(&p, "audio");
    got.sort();
    let vo_line = t.lines().position(|l| l.contains("VC-1")).unwrap() + 1;
    let fx_line = t.lines().position(|l| l.contains("FX-2")).unwrap() + 1;
    let fx = format!(
        "licence FX-2 (FX Lib, t.toml:{fx_line}) of assets/music.m4a expired on {ended} (today is {}): renew it or drop the asset",
        day(0)
    );
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got[0].0 == "SA fx" && got[0].1.ends_with(&fx), "{got:?}");
    assert!(
        got[1].0 == "SA vo"
            && got[1].1.ends_with(&format!(
                "licence VC-1 (Voice Co, t.toml:{vo_line}) of assets/vo-ar.m4a covers US only, not SA"
            )),
        "{got:?}"
    );
    assert!(got[2].0 == "US fx" && got[2].1.ends_with(&fx), "{got:?}");
    assert_eq!(got[3], ("US vo".to_string(), "exported".to_string()));
}
