//! Text stage, checked the way a user would: glyphs equal to HarfBuzz's own `hb-shape`,
//! visual order of mixed Arabic/Latin/digits, line breaks where a reader expects them,
//! fallback fonts, clear errors, and images that hold what they should.
//!
//! Uses the fonts of Debian's fonts-noto-core / fonts-noto-cjk and `hb-shape` from
//! libharfbuzz-bin; comparisons with hb-shape are skipped (with a note) when it is absent.

use std::path::Path;
use std::process::Command;

use creative_factory::template::{Direction, Rgba};
use creative_factory::text::breaking::NO_LINE_START;
use creative_factory::text::{
    layout_text, render_block, render_block_ex, Align, FontBook, Layout, TextError, TextStyle,
};

use crate::support::factory;

const NOTO: &str = "/usr/share/fonts/truetype/noto";
const CJK: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// Face indices in Debian's NotoSansCJK-Regular.ttc (fc-scan): 0 JP, 1 KR, 2 SC, 3 TC, 4 HK.
const CJK_JP: u32 = 0;
const CJK_SC: u32 = 2;

fn book() -> FontBook {
    FontBook::system()
}

fn has_hb_shape() -> bool {
    Command::new("hb-shape")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[derive(Debug, PartialEq)]
struct Glyph {
    g: u64,
    cl: u64,
    dx: i64,
    dy: i64,
    ax: i64,
    ay: i64,
}

fn parse_glyphs(json: &str) -> Vec<Glyph> {
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("{e}: {json}"));
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|o| Glyph {
            g: o["g"].as_u64().unwrap(),
            cl: o["cl"].as_u64().unwrap(),
            dx: o["dx"].as_i64().unwrap(),
            dy: o["dy"].as_i64().unwrap(),
            ax: o["ax"].as_i64().unwrap(),
            ay: o["ay"].as_i64().unwrap(),
        })
        .collect()
}

/// Our `factory text shape --json` and `hb-shape --output-format=json` for the same input.
fn both(font: &str, index: u32, text: &str, extra: &[&str]) -> (Vec<Glyph>, Vec<Glyph>) {
    let spec = if index == 0 {
        font.to_string()
    } else {
        format!("{font}#{index}")
    };
    let ours = factory()
        .args(["text", "shape", "--json", "--font", &spec])
        .args(extra)
        .arg(text)
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "factory failed: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let mut hb = Command::new("hb-shape");
    hb.args([
        "--output-format=json",
        "--no-glyph-names",
        &format!("--face-index={index}"),
    ]);
    for e in extra.chunks(2) {
        let flag = match e[0] {
            "--size" => "--font-size",
            other => other,
        };
        hb.arg(format!("{flag}={}", e[1]));
    }
    let theirs = hb.arg(font).arg(text).output().unwrap();
    assert!(
        theirs.status.success(),
        "hb-shape failed: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    (
        parse_glyphs(&String::from_utf8(ours.stdout).unwrap()),
        parse_glyphs(&String::from_utf8(theirs.stdout).unwrap()),
    )
}

#[test]
fn shaping_equals_hb_shape_for_every_script() {
    if !has_hb_shape() {
        eprintln!("hb-shape not installed; skipping the HarfBuzz comparison");
        return;
    }
    let cases: &[(&str, u32, &str)] = &[
        // Joining forms, lam-alef ligature, harakat as positioned marks.
        (
            &format!("{NOTO}/NotoSansArabic-Regular.ttf"),
            0,
            "اركض بخفة مع أحذيتنا الجديدة لا بِسْمِ",
        ),
        (
            &format!("{NOTO}/NotoSansHebrew-Regular.ttf"),
            0,
            "רוץ קל יותר עם נעליים חדשות שָׁלוֹם",
        ),
        // Stacked tone marks over upper vowels, SARA AM decomposition.
        (
            &format!("{NOTO}/NotoSansThai-Regular.ttf"),
            0,
            "วิ่งเบาขึ้นทุกวัน กี่น้ำ",
        ),
        // Reph, conjuncts, pre-base matra reordering.
        (
            &format!("{NOTO}/NotoSansDevanagari-Regular.ttf"),
            0,
            "हल्का दौड़ो क्षत्रिय र्क कि",
        ),
        (CJK, CJK_SC, "轻盈每一步，从今天开始。"),
        (CJK, CJK_JP, "毎日の一歩を、もっと軽く。ランニング！"),
        // Kerning pairs and the fi/ffl ligatures.
        (
            &format!("{NOTO}/NotoSans-Regular.ttf"),
            0,
            "AVAWAY office ffl Tŷ 2024",
        ),
    ];
    for (font, index, text) in cases {
        let (ours, theirs) = both(font, *index, text, &[]);
        assert!(!ours.is_empty());
        assert_eq!(ours, theirs, "{font}#{index} {text:?}");
    }
}

#[test]
fn shaping_options_match_hb_shape() {
    if !has_hb_shape() {
        eprintln!("hb-shape not installed; skipping the HarfBuzz comparison");
        return;
    }
    let arabic = format!("{NOTO}/NotoSansArabic-Regular.ttf");
    // Forced direction/script/language are passed through, not guessed.
    let (ours, theirs) = both(
        &arabic,
        0,
        "abc سلام",
        &["--direction", "rtl", "--script", "Arab", "--language", "ar"],
    );
    assert_eq!(ours, theirs);
    // At a pixel size HarfBuzz rounds advance and kerning separately; allow 1 px.
    let latin = format!("{NOTO}/NotoSans-Regular.ttf");
    let (ours, theirs) = both(&latin, 0, "AVAWAY Hello", &["--size", "37"]);
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!((a.g, a.cl), (b.g, b.cl));
        assert!((a.ax - b.ax).abs() <= 1, "{a:?} vs {b:?}");
    }
}

#[test]
fn shape_text_output_matches_hb_shape_syntax() {
    if !has_hb_shape() {
        eprintln!("hb-shape not installed; skipping the HarfBuzz comparison");
        return;
    }
    let font = format!("{NOTO}/NotoSansThai-Regular.ttf");
    let ours = factory()
        .args(["text", "shape", "--font", &font, "กี่น้ำ"])
        .output()
        .unwrap();
    let theirs = Command::new("hb-shape")
        .args(["--no-glyph-names", &font, "กี่น้ำ"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
}

#[test]
fn shape_reports_a_bad_font_path() {
    let out = factory()
        .args(["text", "shape", "--font", "/nonexistent/font.ttf", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/font.ttf"));
}

fn style(families: &[&str], size: f32) -> TextStyle {
    TextStyle::new(families, size)
}

/// The glyphs of one line, as (x, cluster) in visual order.
fn line_glyphs(layout: &Layout, line: usize) -> Vec<(f32, usize)> {
    let l = &layout.lines[line];
    layout.runs[l.runs.clone()]
        .iter()
        .flat_map(|r| {
            layout.glyphs[r.glyphs.clone()]
                .iter()
                .map(|g| (g.x, g.cluster))
        })
        .collect()
}

#[test]
fn arabic_sentence_with_brand_and_digits_is_in_visual_order() {
    // "Buy Nike Air for 299 riyals": Arabic reads right to left, the brand and the price
    // read left to right inside it.
    let text = "اشترِ Nike Air بسعر 299 ريال";
    let layout = layout_text(
        &book(),
        text,
        "ar",
        None,
        &style(&["Noto Sans Arabic", "Noto Sans"], 40.0),
        None,
    )
    .unwrap();
    assert_eq!(layout.lines.len(), 1);
    assert!(
        layout.lines[0].rtl,
        "an Arabic sentence is an RTL paragraph"
    );
    let glyphs = line_glyphs(&layout, 0);
    let xs: Vec<f32> = glyphs.iter().map(|g| g.0).collect();
    let pos = |needle: &str| {
        let at = text.find(needle).unwrap();
        let range = at..at + needle.len();
        let xs: Vec<f32> = glyphs
            .iter()
            .filter(|g| range.contains(&g.1))
            .map(|g| g.0)
            .collect();
        assert!(!xs.is_empty(), "{needle} has glyphs");
        (
            xs.iter().copied().fold(f32::MAX, f32::min),
            xs.iter().copied().fold(f32::MIN, f32::max),
        )
    };
    // Pen positions grow left to right.
    assert!(xs.windows(2).all(|w| w[0] <= w[1] + 40.0));
    // The first word (logically) is rightmost, the last word leftmost.
    let first = pos("اشترِ");
    let last = pos("ريال");
    let brand = pos("Nike Air");
    let price = pos("299");
    assert!(
        first.0 > brand.1 && brand.0 > price.1 && price.0 > last.1,
        "{first:?} {brand:?} {price:?} {last:?}"
    );
    // Inside the brand and the price, clusters increase left to right.
    for needle in ["Nike Air", "299"] {
        let at = text.find(needle).unwrap();
        let cl: Vec<usize> = glyphs
            .iter()
            .map(|g| g.1)
            .filter(|c| (at..at + needle.len()).contains(c))
            .collect();
        assert!(cl.windows(2).all(|w| w[0] < w[1]), "{needle}: {cl:?}");
    }
    // Inside an Arabic word, clusters decrease left to right.
    let at = text.find("بسعر").unwrap();
    let cl: Vec<usize> = glyphs
        .iter()
        .map(|g| g.1)
        .filter(|c| (at..at + "بسعر".len()).contains(c))
        .collect();
    assert!(cl.windows(2).all(|w| w[0] >= w[1]), "{cl:?}");
}

#[test]
fn forced_base_direction_changes_paragraph_order() {
    let text = "Nike اركض";
    let s = style(&["Noto Sans", "Noto Sans Arabic"], 40.0);
    let ltr = layout_text(&book(), text, "en", Some(Direction::Ltr), &s, None).unwrap();
    let rtl = layout_text(&book(), text, "en", Some(Direction::Rtl), &s, None).unwrap();
    let first_cluster = |l: &Layout| line_glyphs(l, 0)[0].1;
    assert_eq!(
        first_cluster(&ltr),
        0,
        "LTR paragraph starts with Nike on the left"
    );
    assert!(
        first_cluster(&rtl) > 0,
        "RTL paragraph puts Nike on the right"
    );
}

fn line_texts(layout: &Layout) -> Vec<&str> {
    layout
        .lines
        .iter()
        .map(|l| &layout.text[l.range.clone()])
        .collect()
}

#[test]
fn thai_wraps_between_words_only() {
    let words = [
        "วิ่ง",
        "เบา",
        "ขึ้น",
        "ทุก",
        "วัน",
        "ด้วย",
        "รองเท้า",
        "คู่",
        "ใหม่",
        "ของ",
        "เรา",
    ];
    let text: String = words.concat();
    let mut ends = vec![];
    let mut at = 0;
    for w in words {
        at += w.len();
        ends.push(at);
    }
    let s = style(&["Noto Sans Thai"], 40.0);
    let layout = layout_text(&book(), &text, "th", None, &s, Some(220.0)).unwrap();
    assert!(layout.lines.len() >= 3, "{:?}", line_texts(&layout));
    for line in &layout.lines {
        assert!(
            ends.contains(&line.range.end),
            "line ends inside a word: {:?}",
            line_texts(&layout)
        );
        assert!(line.width <= 220.5, "{} > 220", line.width);
    }
}

#[test]
fn cjk_wraps_per_character_with_kinsoku() {
    // Five ideographs fill the line exactly; the full stop after them must not start the
    // next line, so the fifth ideograph moves down with it.
    let s = style(&["Noto Sans CJK SC"], 40.0);
    let layout = layout_text(
        &book(),
        "一二三四五。六七",
        "zh-CN",
        None,
        &s,
        Some(5.0 * 40.0 + 1.0),
    )
    .unwrap();
    assert_eq!(line_texts(&layout), ["一二三四", "五。六七"]);

    let ja = "毎日の一歩を、もっと軽く。新しいランニングシューズ、登場！";
    let s = style(&["Noto Sans CJK JP"], 40.0);
    let layout = layout_text(&book(), ja, "ja", None, &s, Some(300.0)).unwrap();
    let lines = line_texts(&layout);
    assert!(lines.len() >= 4, "{lines:?}");
    for line in &lines[1..] {
        let c = line.chars().next().unwrap();
        assert!(
            !NO_LINE_START.contains(c),
            "line starts with {c:?}: {lines:?}"
        );
    }
    // Broken without spaces: some line ends between two ideographs or kana.
    assert!(layout.lines.iter().all(|l| l.width <= 300.5));
}

#[test]
fn latin_wraps_at_spaces() {
    let s = style(&["Noto Sans"], 40.0);
    let layout = layout_text(
        &book(),
        "Run lighter every single day",
        "en",
        None,
        &s,
        Some(260.0),
    )
    .unwrap();
    for line in line_texts(&layout) {
        assert!(!line.starts_with(' ') && !line.ends_with(' '), "{line:?}");
        for w in line.split(' ') {
            assert!(
                ["Run", "lighter", "every", "single", "day"].contains(&w),
                "split word {w:?}"
            );
        }
    }
}

#[test]
fn fallback_uses_the_first_family_with_the_glyph() {
    let s = style(&["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"], 48.0);
    let text = "Run lighter 轻盈每一步 اركض";
    let layout = layout_text(&book(), text, "en", None, &s, None).unwrap();
    let runs = layout.run_families();
    let family_of = |needle: &str| {
        runs.iter()
            .find(|(t, _)| t.contains(needle))
            .unwrap_or_else(|| panic!("no run holds {needle}: {runs:?}"))
            .1
    };
    assert_eq!(family_of("Run"), "Noto Sans");
    assert_eq!(family_of("轻盈"), "Noto Sans CJK SC");
    assert_eq!(family_of("اركض"), "Noto Sans Arabic");
    let img = render_block(&book(), text, "en", None, &s, 1080, 300).unwrap();
    assert!(img.pixels().filter(|p| p.0[3] > 128).count() > 1000);
}

#[test]
fn cjk_face_is_chosen_by_language() {
    // 直 has different shapes in Chinese and Japanese; the JP face must be used for ja.
    let s = style(&["Noto Sans CJK SC"], 48.0);
    let ja = layout_text(&book(), "直", "ja", None, &s, None).unwrap();
    let zh = layout_text(&book(), "直", "zh-CN", None, &s, None).unwrap();
    assert_eq!(ja.faces[0].family(), "Noto Sans CJK JP");
    assert_eq!(zh.faces[0].family(), "Noto Sans CJK SC");
    assert_ne!(ja.glyphs[0].glyph_id, zh.glyphs[0].glyph_id);
}

#[test]
fn missing_glyph_names_the_character_and_fonts() {
    let s = style(&["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"], 48.0);
    for (text, ch) in [("Sale ཀ today", 'ཀ'), ("Linear B 𐀀", '𐀀')] {
        match render_block(&book(), text, "en", None, &s, 1080, 300) {
            Err(e @ TextError::MissingGlyph { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(ch), "{msg}");
                assert!(msg.contains(text), "{msg}");
                for f in ["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"] {
                    assert!(msg.contains(f), "{msg}");
                }
            }
            other => panic!("expected MissingGlyph for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn unknown_families_are_skipped_unless_none_exists() {
    let s = style(&["Helvetica Neue Imaginary", "Noto Sans"], 40.0);
    assert!(render_block(&book(), "Hello", "en", None, &s, 500, 200).is_ok());
    let s = style(&["Noto Sanz Arabik"], 40.0);
    match render_block(&book(), "مرحبا", "ar", None, &s, 500, 200) {
        Err(TextError::UnknownFamily {
            family,
            suggestions,
        }) => {
            assert_eq!(family, "Noto Sanz Arabik");
            assert!(suggestions.contains("Noto Sans Arabic"), "{suggestions}");
        }
        other => panic!("expected UnknownFamily, got {other:?}"),
    }
}

#[test]
fn fitting_shrinks_then_gives_up() {
    let text = "Run lighter with the all-new sneaker, built for every single day of the week";
    let mut s = style(&["Noto Sans"], 80.0);
    s.min_size_px = 20.0;
    let r = render_block_ex(&book(), text, "en", None, &s, 500, 200).unwrap();
    assert!(
        r.layout.size_px < 80.0 && r.layout.size_px >= 20.0,
        "{}",
        r.layout.size_px
    );
    assert!(r.image.width() <= 500 && r.image.height() <= 200);

    match render_block(&book(), text, "en", None, &s, 200, 40) {
        Err(TextError::DoesNotFit {
            text: t, min_size, ..
        }) => {
            assert_eq!(t, text);
            assert_eq!(min_size, 20.0);
        }
        other => panic!("expected DoesNotFit, got {other:?}"),
    }
    // One word wider than the box even at the minimum size.
    match render_block(
        &book(),
        "Supercalifragilisticexpialidocious",
        "en",
        None,
        &s,
        150,
        500,
    ) {
        Err(TextError::DoesNotFit { .. }) => {}
        other => panic!("expected DoesNotFit, got {other:?}"),
    }
}

fn opaque_bbox(img: &image::RgbaImage) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[3] > 0 {
            b = Some(match b {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    b
}

#[test]
fn image_is_tight_and_ink_is_not_clipped() {
    // Thai stacked marks and Arabic descenders reach outside the line box.
    for (text, fam, lang) in [
        ("ปั่นน้ำใจ", "Noto Sans Thai", "th"),
        ("جيب يوم", "Noto Sans Arabic", "ar"),
        ("直す", "Noto Sans CJK JP", "ja"),
    ] {
        let img = render_block(&book(), text, lang, None, &style(&[fam], 64.0), 800, 300).unwrap();
        let (x0, y0, x1, y1) = opaque_bbox(&img).expect("ink");
        // Ink touches neither edge (nothing clipped) yet the margin is small (tight).
        assert!(
            x0 >= 1 && y0 >= 1 && x1 + 1 < img.width() && y1 + 1 < img.height(),
            "{text}: {:?} in {}×{}",
            (x0, y0, x1, y1),
            img.width(),
            img.height()
        );
        assert!(
            x0 <= 3 && y0 <= 3 && img.width() - x1 <= 4 && img.height() - y1 <= 4,
            "{text} not tight"
        );
        // Anti-aliased: partial coverage exists.
        assert!(img.pixels().any(|p| p.0[3] > 0 && p.0[3] < 255));
    }
}

#[test]
fn outline_and_shadow_make_the_text_bigger() {
    let plain = style(&["Noto Sans"], 64.0);
    let mut outlined = plain.clone();
    outlined.outline = Some((Rgba::BLACK, 4.0));
    let a = render_block(&book(), "Run", "en", None, &plain, 800, 300).unwrap();
    let b = render_block(&book(), "Run", "en", None, &outlined, 800, 300).unwrap();
    assert!(b.width() >= a.width() + 8 && b.height() >= a.height() + 8);
    let ink = |i: &image::RgbaImage| i.pixels().filter(|p| p.0[3] > 128).count();
    assert!(ink(&b) > ink(&a) * 3 / 2);
    // The stroke is the outline colour, the inside stays the fill colour.
    assert!(b.pixels().any(|p| p.0 == [0, 0, 0, 255]));
    assert!(b.pixels().any(|p| p.0 == [255, 255, 255, 255]));

    let mut shadowed = plain.clone();
    shadowed.shadow = Some((Rgba([0, 0, 0, 200]), (6.0, 6.0), 4.0));
    let c = render_block(&book(), "Run", "en", None, &shadowed, 800, 300).unwrap();
    assert!(c.width() > a.width() && c.height() > a.height());
}

#[test]
fn background_box_pads_the_block() {
    let mut s = style(&["Noto Sans"], 48.0);
    s.background = Some((Rgba([200, 0, 0, 255]), 20.0));
    let r = render_block_ex(&book(), "Sale", "en", None, &s, 800, 300).unwrap();
    assert_eq!(r.image.get_pixel(0, 0).0, [200, 0, 0, 255]);
    let (w, h) = r.image.dimensions();
    assert_eq!(r.image.get_pixel(w - 1, h - 1).0, [200, 0, 0, 255]);
    assert!(w as f32 >= r.layout.width + 40.0 - 1.0);
}

#[test]
fn rtl_paragraph_aligns_start_to_the_right() {
    // Two lines, the second shorter: with Align::Start an RTL paragraph is flush right.
    let text = "اركض بخفة مع أحذيتنا\nاليوم";
    let mut s = style(&["Noto Sans Arabic"], 48.0);
    s.align = Align::Start;
    let r = render_block_ex(&book(), text, "ar", None, &s, 420, 400).unwrap();
    let lines = &r.layout.lines;
    assert!(lines.len() >= 2);
    let last = lines.last().unwrap();
    assert!(
        last.width < r.layout.width - 20.0,
        "test needs a shorter last line"
    );
    assert!(
        (last.x + last.width - r.layout.width).abs() < 0.5,
        "flush right"
    );
    assert_eq!(r.h_align, creative_factory::text::HAlign::Right);
    // In pixels: the last line's ink ends near the image's right edge, and starts well
    // right of the left edge.
    let img = &r.image;
    let line_h = r.layout.line_height_px;
    let top = (last.baseline - r.origin.1 - line_h * 0.6).max(0.0) as u32;
    let bottom = ((last.baseline - r.origin.1 + line_h * 0.2) as u32).min(img.height());
    let (mut minx, mut maxx) = (u32::MAX, 0);
    for y in top..bottom {
        for x in 0..img.width() {
            if img.get_pixel(x, y).0[3] > 128 {
                minx = minx.min(x);
                maxx = maxx.max(x);
            }
        }
    }
    assert!(
        img.width() - maxx < 12,
        "right edge {maxx} of {}",
        img.width()
    );
    assert!(minx > 20, "left edge {minx}");

    // And the same text left-aligned with Align::End.
    s.align = Align::End;
    let r = render_block_ex(&book(), text, "ar", None, &s, 420, 400).unwrap();
    let last = r.layout.lines.last().unwrap();
    assert!(last.x.abs() < 0.5);
}

#[test]
fn cff_cjk_outlines_rasterize() {
    let img = render_block(
        &book(),
        "轻盈每一步",
        "zh-CN",
        None,
        &style(&["Noto Sans CJK SC"], 64.0),
        800,
        200,
    )
    .unwrap();
    let inked = img.pixels().filter(|p| p.0[3] > 128).count();
    assert!(inked > 64 * 64 / 2, "only {inked} inked pixels");
}

#[test]
fn cli_render_writes_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ar.png");
    let status = factory()
        .args([
            "text",
            "render",
            "--family",
            "Noto Sans Arabic",
            "--family",
            "Noto Sans",
            "--language",
            "ar",
        ])
        .args(["--size", "40", "--width", "300", "-o"])
        .arg(&out)
        .arg("اركض بخفة مع أحذيتنا الجديدة 2025")
        .status()
        .unwrap();
    assert!(status.success());
    let img = image::open(&out).unwrap().to_rgba8();
    assert!(
        img.width() <= 300 + 2 * 16 + 2 && img.height() > 80,
        "{}×{}",
        img.width(),
        img.height()
    );
    // Black text on white like hb-view.
    assert!(img.pixels().any(|p| p.0[0] < 50));
    assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255, 255]);

    let cjk = dir.path().join("ja.png");
    let font = format!("{CJK}#{CJK_JP}");
    let status = factory()
        .args(["text", "render", "--font", &font, "--language", "ja", "-o"])
        .arg(&cjk)
        .arg("毎日の一歩")
        .status()
        .unwrap();
    assert!(status.success() && Path::new(&cjk).exists());
}

#[test]
fn arabic_letters_join_and_brackets_mirror() {
    let face = FontBook::system().face("Noto Sans Arabic", "ar").unwrap();
    let ttf = rustybuzz::ttf_parser::Face::parse(face.data(), face.index()).unwrap();
    let nominal = |c: char| ttf.glyph_index(c).unwrap().0;
    let s = style(&["Noto Sans Arabic"], 40.0);
    // "بخفة": every letter joins, so no glyph is the isolated (cmap) form.
    let layout = layout_text(&book(), "بخفة", "ar", None, &s, None).unwrap();
    let ids: Vec<u16> = layout.glyphs.iter().map(|g| g.glyph_id).collect();
    for c in "بخفة".chars() {
        assert!(!ids.contains(&nominal(c)), "{c} drawn unjoined: {ids:?}");
    }
    // In an RTL run "(" is drawn with the ")" glyph so it still opens towards the text.
    // (Noto Sans Arabic has no ASCII brackets: they come from Noto Sans, still RTL.)
    let s = style(&["Noto Sans Arabic", "Noto Sans"], 40.0);
    let layout = layout_text(&book(), "(خصم)", "ar", None, &s, None).unwrap();
    let g = line_glyphs(&layout, 0);
    let rightmost = layout
        .glyphs
        .iter()
        .max_by(|a, b| a.x.total_cmp(&b.x))
        .unwrap();
    assert_eq!(
        rightmost.cluster, 0,
        "the logically first '(' is rightmost: {g:?}"
    );
    let bracket_face = &layout.faces[rightmost.font];
    let ttf =
        rustybuzz::ttf_parser::Face::parse(bracket_face.data(), bracket_face.index()).unwrap();
    assert_eq!(
        Some(rightmost.glyph_id),
        ttf.glyph_index(')').map(|g| g.0),
        "mirrored"
    );
}

#[test]
fn empty_and_blank_text_render_without_error() {
    let s = style(&["Noto Sans"], 40.0);
    let img = render_block(&book(), "", "en", None, &s, 500, 200).unwrap();
    assert_eq!(img.pixels().filter(|p| p.0[3] > 0).count(), 0);
    let r = render_block_ex(&book(), "Line one\n\nLine three", "en", None, &s, 500, 300).unwrap();
    assert_eq!(r.layout.lines.len(), 3, "a blank line keeps its height");
}

/// `cargo test --release --test it text_shaping::bench -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_two_line_caption_at_1080() {
    use std::time::Instant;
    let book = book();
    let mut s = style(
        &[
            "Noto Sans",
            "Noto Sans CJK SC",
            "Noto Sans Arabic",
            "Noto Sans Thai",
        ],
        72.0,
    );
    s.outline = Some((Rgba::BLACK, 4.0));
    s.shadow = Some((Rgba([0, 0, 0, 160]), (4.0, 4.0), 6.0));
    let cases = [
        (
            "en",
            "Run lighter with the all-new sneaker, built for every single day",
        ),
        ("zh-CN", "轻盈每一步，全新跑鞋今日上市，为每一天的奔跑而生"),
        (
            "ar",
            "اركض بخفة مع أحذيتنا الجديدة، خصم 50% على Nike Air اليوم فقط",
        ),
        ("th", "วิ่งเบาขึ้นทุกวันด้วยรองเท้าคู่ใหม่ของเรา ลดราคาวันนี้เท่านั้น"),
    ];
    for (lang, text) in cases {
        let r = render_block_ex(&book, text, lang, None, &s, 1080, 400).unwrap();
        let n = 20;
        let t = Instant::now();
        for _ in 0..n {
            layout_text(&book, text, lang, None, &s, Some(1080.0 - 12.0)).unwrap();
        }
        let layout_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            render_block(&book, text, lang, None, &s, 1080, 400).unwrap();
        }
        let total_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let cache = creative_factory::text::TextCache::default();
        cache
            .get_or_render(&book, text, lang, None, &s, 1080, 400)
            .unwrap();
        let t = Instant::now();
        for _ in 0..1000 {
            cache
                .get_or_render(&book, text, lang, None, &s, 1080, 400)
                .unwrap();
        }
        let hit_us = t.elapsed().as_secs_f64() * 1e6 / 1000.0;
        println!(
            "{lang}: {} lines at {} px, {}×{}: layout {layout_ms:.2} ms, layout+fit+raster {total_ms:.2} ms, cache hit {hit_us:.2} µs",
            r.layout.lines.len(),
            r.layout.size_px,
            r.image.width(),
            r.image.height()
        );
    }
}

#[test]
fn one_book_and_cache_serve_many_threads_with_identical_pixels() {
    use creative_factory::text::TextCache;
    let book = book();
    let cache = TextCache::default();
    let s = style(
        &[
            "Noto Sans",
            "Noto Sans CJK SC",
            "Noto Sans Arabic",
            "Noto Sans Thai",
        ],
        48.0,
    );
    let texts = [
        ("en", "Run lighter"),
        ("zh-CN", "轻盈每一步"),
        ("ar", "اركض بخفة"),
        ("th", "วิ่งเบาขึ้น"),
    ];
    // Rendered alone, without the cache: the reference pixels.
    let reference: Vec<Vec<u8>> = texts
        .iter()
        .map(|(l, t)| {
            render_block(&book, t, l, None, &s, 800, 200)
                .unwrap()
                .into_raw()
        })
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for (i, (l, t)) in texts.iter().enumerate() {
                    let fresh = render_block(&book.clone(), t, l, None, &s, 800, 200).unwrap();
                    assert_eq!(
                        fresh.as_raw(),
                        &reference[i],
                        "{t}: same input, same pixels"
                    );
                    let cached = cache
                        .get_or_render(&book, t, l, None, &s, 800, 200)
                        .unwrap();
                    assert_eq!(cached.image.as_raw(), &reference[i]);
                }
            });
        }
    });
    let stats = cache.stats();
    assert_eq!(stats.entries, texts.len());
    // Threads racing on a cold key may each render it, so only the totals are fixed.
    assert_eq!(stats.hits + stats.misses, 16, "{stats:?}");
}
