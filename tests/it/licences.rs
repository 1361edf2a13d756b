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
