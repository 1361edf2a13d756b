//! `factory text shape|render` (OWNER: text helper).
//!
//! `shape` prints exactly what `hb-shape --no-glyph-names` prints for the same font and
//! options (same text syntax, same JSON keys, clusters as character indices), so a
//! suspicious line can be diffed against HarfBuzz itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use creative_factory::template::{Direction, Rgba};
use creative_factory::text::{self, Align, FontBook, RunProps, TextStyle};

#[derive(Debug, clap::Args)]
pub struct TextArgs {
    #[command(subcommand)]
    pub command: TextCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TextCommand {
    /// Print the shaped glyphs of a text (like hb-shape).
    // Boxed: the render options would otherwise make every `factory` command this large.
    Shape(Box<ShapeArgs>),
    /// Render a text to a PNG for a quick look (like hb-view).
    Render(Box<RenderArgs>),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DirArg {
    Ltr,
    Rtl,
}

#[derive(Debug, clap::Args)]
pub struct ShapeArgs {
    /// Font file, `FILE#index` for a face of a collection (.ttc).
    #[arg(long)]
    pub font: String,
    /// Font size in px; without it values are in font units, like hb-shape's default.
    #[arg(long)]
    pub size: Option<f32>,
    #[arg(long, value_enum)]
    pub direction: Option<DirArg>,
    /// ISO 15924 script tag, e.g. Arab, Thai, Hani.
    #[arg(long)]
    pub script: Option<String>,
    /// BCP-47 language tag, e.g. ar, th, zh-CN.
    #[arg(long)]
    pub language: Option<String>,
    /// Print a JSON array (hb-shape's `--output-format=json` keys: g, cl, dx, dy, ax, ay).
    #[arg(long)]
    pub json: bool,
    /// Clusters as UTF-8 byte offsets instead of character indices.
    #[arg(long)]
    pub utf8_clusters: bool,
    pub text: String,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Font file(s) in fallback order, `FILE#index` for a face of a collection.
    #[arg(long, conflicts_with = "family")]
    pub font: Vec<String>,
    /// Installed family name(s) in fallback order.
    #[arg(long)]
    pub family: Vec<String>,
    #[arg(long, default_value_t = 48.0)]
    pub size: f32,
    /// Wrap at this width in px (the text's own width when absent).
    #[arg(long)]
    pub width: Option<f32>,
    #[arg(long, value_enum)]
    pub direction: Option<DirArg>,
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Text colour, #rrggbb[aa].
    #[arg(long, default_value = "#000000")]
    pub color: String,
    /// Background colour, #rrggbb[aa], or `none` for transparent.
    #[arg(long, default_value = "#ffffff")]
    pub background: String,
    /// Space around the text, px.
    #[arg(long, default_value_t = 16.0)]
    pub margin: f32,
    /// start | center | end
    #[arg(long, default_value = "start")]
    pub align: String,
    #[arg(short, long)]
    pub output: PathBuf,
    pub text: String,
}

pub fn run(args: TextArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TextCommand::Shape(a) => shape(*a),
        TextCommand::Render(a) => render(*a),
    }
}

fn shape(a: ShapeArgs) -> anyhow::Result<ExitCode> {
    let book = FontBook::empty();
    let face = book.face_from_file(&a.font)?;
    let shaper = rustybuzz::Face::from_slice(face.data(), face.index())
        .with_context(|| format!("{}: cannot be parsed for shaping", a.font))?;
    let script = match a.script.as_deref() {
        Some(s) => Some(RunProps::script_from_str(s).with_context(|| {
            format!("--script {s:?}: expected a 4-letter ISO 15924 tag such as Arab")
        })?),
        None => None,
    };
    let props = RunProps {
        direction: a.direction.map(|d| match d {
            DirArg::Ltr => text::Dir::Ltr,
            DirArg::Rtl => text::Dir::Rtl,
        }),
        script,
        language: a.language.clone(),
    };
    let glyphs = text::shape_run(&shaper, &a.text, &props, "", "");
    // hb-shape scales by size/upem and rounds each value to an integer.
    let scale = a.size.map_or(1.0, |s| s / face.units_per_em());
    let v = |x: i32| (x as f32 * scale).round() as i64;
    let cluster = |byte: u32| -> usize {
        if a.utf8_clusters {
            byte as usize
        } else {
            a.text[..byte as usize].chars().count()
        }
    };
    if a.json {
        // Written by hand to keep hb-shape's key order, so the two outputs diff cleanly.
        let items: Vec<String> = glyphs
            .iter()
            .map(|g| {
                format!(
                    r#"{{"g":{},"cl":{},"dx":{},"dy":{},"ax":{},"ay":{}}}"#,
                    g.glyph_id,
                    cluster(g.cluster),
                    v(g.x_offset),
                    v(g.y_offset),
                    v(g.x_advance),
                    v(g.y_advance)
                )
            })
            .collect();
        println!("[{}]", items.join(","));
    } else {
        let parts: Vec<String> = glyphs
            .iter()
            .map(|g| {
                let mut s = format!("{}={}", g.glyph_id, cluster(g.cluster));
                if g.x_offset != 0 || g.y_offset != 0 {
                    s += &format!("@{},{}", v(g.x_offset), v(g.y_offset));
                }
                s += &format!("+{}", v(g.x_advance));
                if g.y_advance != 0 {
                    s += &format!(",{}", v(g.y_advance));
                }
                s
            })
            .collect();
        println!("[{}]", parts.join("|"));
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_color(flag: &str, s: &str) -> anyhow::Result<Rgba> {
    Rgba::parse(s).with_context(|| format!("--{flag} {s:?}: expected #rgb, #rrggbb or #rrggbbaa"))
}

fn render(a: RenderArgs) -> anyhow::Result<ExitCode> {
    let mut style = TextStyle::new(&[], a.size);
    style.color = parse_color("color", &a.color)?;
    style.align = match a.align.as_str() {
        "start" => Align::Start,
        "center" => Align::Center,
        "end" => Align::End,
        other => anyhow::bail!("--align {other:?}: expected start, center or end"),
    };
    if a.background != "none" {
        style.background = Some((parse_color("background", &a.background)?, a.margin.max(0.0)));
    }
    let base = a.direction.map(|d| match d {
        DirArg::Ltr => Direction::Ltr,
        DirArg::Rtl => Direction::Rtl,
    });
    let layout = if a.font.is_empty() {
        if a.family.is_empty() {
            anyhow::bail!("give at least one --font FILE or --family NAME");
        }
        style.families = a.family.clone();
        text::layout_text(
            &FontBook::system(),
            &a.text,
            &a.language,
            base,
            &style,
            a.width,
        )?
    } else {
        // Explicit files: no need to index the system's fonts.
        let book = FontBook::empty();
        let faces = a
            .font
            .iter()
            .map(|spec| book.face_from_file(spec))
            .collect::<Result<Vec<_>, _>>()?;
        text::layout_with_faces(faces, &a.text, &a.language, base, &style, a.width)?
    };
    let img = text::rasterize_layout(&layout, &style)?;
    img.save(&a.output)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    eprintln!(
        "{}: {}×{} px, {} line(s) at {} px",
        a.output.display(),
        img.width(),
        img.height(),
        layout.lines.len(),
        layout.size_px
    );
    Ok(ExitCode::SUCCESS)
}
