//! Subtitles: copy, timed lines, caption files and their style.

use super::*;

/// Copy as each written form gives it: (where it is written, locale → text).
type Copies = Vec<(Range<usize>, BTreeMap<String, String>)>;

/// What a subtitle says, before its look is judged.
struct SubtitleCopy {
    id: String,
    text: BTreeMap<String, String>,
    lines: Vec<TimedLine>,
    captions: BTreeMap<String, Vec<Cue>>,
    ad_text: BTreeMap<String, BTreeMap<String, String>>,
}

impl V<'_> {
    pub(super) fn subtitles(
        &mut self,
        pool: S<Vec<RawSubtitle>>,
        duration: f64,
        regions: &[Region],
        limits: &[(String, u32)],
    ) -> Vec<Subtitle> {
        let Some(ids) = self.pool_ids("subtitle", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (s, id) in pool.value.iter().zip(ids) {
            let mut copies = Copies::new();
            let text = self.subtitle_text(s, &id, limits, &mut copies);
            let lines = match &s.lines {
                Some(l) => self.timed_lines(l, &id, duration, limits, &mut copies),
                None => Vec::new(),
            };
            let captions = match &s.captions {
                Some(c) => self.captions(s, c, &id, duration, &mut copies),
                None => BTreeMap::new(),
            };
            self.check_copy(&id, &copies, regions);
            let ad_text = self.ad_text(s, &id, regions);
            out.push(self.styled(
                s,
                SubtitleCopy {
                    id,
                    text,
                    lines,
                    captions,
                    ad_text,
                },
            ));
        }
        out
    }

    /// The ad text keys: copy like `text` (locales, every region served), not drawn.
    fn ad_text(
        &mut self,
        s: &RawSubtitle,
        id: &str,
        regions: &[Region],
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        let written = [&s.title, &s.description, &s.headline, &s.long_headline];
        let mut out = BTreeMap::new();
        for (field, t) in crate::preset::AD_TEXT_FIELDS.iter().zip(written) {
            let Some(t) = t else { continue };
            let thing = format!("ad {}", field.replace('_', " "));
            let m = self.locale_map(t, &format!("the {thing} of subtitle `{id}`"));
            let what = Localised {
                option: "subtitle option",
                thing: &thing,
                example: "\"…\"",
            };
            self.check_locales(&what, id, &t.span, &m, regions);
            out.insert(field.to_string(), m);
        }
        out
    }

    /// `text`: copy shown throughout. It excludes `lines`; one of `text`, `lines` or
    /// `captions` is required.
    fn subtitle_text(
        &mut self,
        s: &RawSubtitle,
        id: &str,
        limits: &[(String, u32)],
        copies: &mut Copies,
    ) -> BTreeMap<String, String> {
        match (&s.text, &s.lines) {
            (Some(t), None) => {
                let m = self.locale_map(t, &format!("subtitle `{id}`"));
                self.copy_length(id, t, limits);
                copies.push((t.span.clone(), m.clone()));
                m
            }
            (Some(_), Some(l)) => {
                self.err(
                    &l.span,
                    format!("subtitle `{id}` sets both `text` and `lines`"),
                    Some(
                        "use `text` for copy shown throughout, or `lines` for timed copy"
                            .to_string(),
                    ),
                );
                BTreeMap::new()
            }
            (None, None) if s.captions.is_none() => {
                self.missing("text", &s.span, format!("subtitle `{id}` has no copy"), Some("add text = { en = \"…\" }, lines = [{ start = 0, end = 3, text = { en = \"…\" } }] or captions = { en = \"captions/en.srt\" }".to_string()));
                BTreeMap::new()
            }
            (None, _) => BTreeMap::new(),
        }
    }

    /// `lines`: copy with its own start and end.
    fn timed_lines(
        &mut self,
        l: &S<Vec<RawLine>>,
        id: &str,
        duration: f64,
        limits: &[(String, u32)],
        copies: &mut Copies,
    ) -> Vec<TimedLine> {
        if l.value.is_empty() {
            self.err(
                &l.span,
                format!("subtitle `{id}` has an empty `lines` list"),
                Some("add at least one { start, end, text } line".to_string()),
            );
        }
        let mut lines = Vec::new();
        for line in &l.value {
            let (start, end) = self.line_times(line, duration);
            let text = match &line.text {
                Some(t) => {
                    let m = self.locale_map(t, &format!("subtitle `{id}`"));
                    // Checked twice, so a long line warns twice: kept as it was when the
                    // validator was split up (see the T10 report).
                    self.copy_length(id, t, limits);
                    self.copy_length(id, t, limits);
                    copies.push((t.span.clone(), m.clone()));
                    m
                }
                None => {
                    self.missing(
                        "text",
                        &line.span,
                        "missing required key `text` in a subtitle line",
                        Some("add text = { en = \"…\" }".to_string()),
                    );
                    BTreeMap::new()
                }
            };
            lines.push(TimedLine { start, end, text });
        }
        lines
    }

    fn line_times(&mut self, line: &RawLine, duration: f64) -> (f64, f64) {
        let start = self.num(line.start(), "start", 0.0);
        let Some(e) = &line.end else {
            self.missing(
                "end",
                &line.span,
                "missing required key `end` in a subtitle line",
                Some("seconds at which the line disappears".to_string()),
            );
            return (start, start);
        };
        if e.value <= start {
            self.err(
                &e.span,
                format!(
                    "line ends at {} s, not after its start {} s",
                    fmt_secs(e.value),
                    fmt_secs(start)
                ),
                None,
            );
        } else if duration > 0.0 && e.value > duration + 1e-9 {
            self.err(
                &e.span,
                format!(
                    "line ends at {} s, after the video ends ({} s)",
                    fmt_secs(e.value),
                    fmt_secs(duration)
                ),
                Some("keep lines within [template] duration".to_string()),
            );
        }
        (start, e.value)
    }

    /// `captions`: a caption file per locale; its cues' text is the copy checked per region.
    fn captions(
        &mut self,
        s: &RawSubtitle,
        c: &S<LocaleText>,
        id: &str,
        duration: f64,
        copies: &mut Copies,
    ) -> BTreeMap<String, Vec<Cue>> {
        if s.text.is_some() || s.lines.is_some() {
            self.err(&c.span, format!("subtitle `{id}` sets `captions` together with `text` or `lines`"), Some("a caption file already says what shows when; remove `text`/`lines`, or make another [[subtitle]] option".to_string()));
        }
        let mut captions = BTreeMap::new();
        let mut joined = BTreeMap::new();
        for (loc, file) in &c.value {
            self.locale(loc, LOCALE_EXAMPLES);
            let Some(path) = self.asset(file) else {
                continue;
            };
            if let Some(cues) = self.caption_file(&path, file, id, duration) {
                let text: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
                joined.insert(loc.value.clone(), text.join("\n"));
                captions.insert(loc.value.clone(), cues);
            }
        }
        if !joined.is_empty() {
            copies.push((c.span.clone(), joined));
        }
        captions
    }

    /// The look of a subtitle: animation, font, size, colours, outline, shadow, box, position.
    fn styled(&mut self, s: &RawSubtitle, copy: SubtitleCopy) -> Subtitle {
        let animation = s
            .animation
            .as_ref()
            .and_then(|a| self.enum_val(a, "animation", Animation::NAMES))
            .unwrap_or(Animation::None);
        let animation_time = self.num(s.animation_time(), "animation_time", 0.3);
        let highlight = self.color(s.highlight.as_ref(), Rgba([0xff, 0xd5, 0x4f, 255]));
        let fonts = match &s.font {
            Some(f) if f.value.is_empty() => {
                self.err(
                    &f.span,
                    "font list is empty",
                    Some(
                        "name at least one family, or remove `font` for the default Noto set"
                            .to_string(),
                    ),
                );
                Vec::new()
            }
            Some(f) => f.value.iter().map(|x| x.value.clone()).collect(),
            None => DEFAULT_FONTS.iter().map(|s| s.to_string()).collect(),
        };
        let size = self.num(s.size(), "size", 0.06) as f32;
        let min_size = self.num(s.min_size(), "min_size", f64::from(size) / 2.0) as f32;
        if let Some(m) = s.min_size.as_ref().filter(|m| m.value as f32 > size) {
            self.err(
                &m.span,
                format!("min_size {} is larger than size {size}", m.value),
                Some("min_size is how far the fitter may shrink the text".to_string()),
            );
        }
        let color = self.color(s.color.as_ref(), Rgba::WHITE);
        let outline = s.outline.as_ref().map(|o| Outline {
            color: self.color(o.color.as_ref(), Rgba::BLACK),
            width: self.num(o.width(), "outline width", 2.0) as f32,
        });
        let shadow = self.shadow(s.shadow.as_ref());
        let background = s.box_style.as_ref().map(|b| BoxStyle {
            color: self.color(b.color.as_ref(), Rgba([0, 0, 0, 160])),
            padding: self.num(b.padding(), "padding", 0.3) as f32,
        });
        let position = s
            .position
            .as_ref()
            .and_then(|p| self.enum_val(p, "position", VPos::NAMES))
            .unwrap_or(VPos::Bottom);
        Subtitle {
            id: copy.id,
            text: copy.text,
            lines: copy.lines,
            captions: copy.captions,
            ad_text: copy.ad_text,
            animation,
            animation_time,
            highlight,
            fonts,
            size,
            min_size,
            color,
            outline,
            shadow,
            background,
            position,
        }
    }

    /// Reads and parses one caption file. Problems inside it name the file and its line;
    /// `file` (the template's reference) is where they sort.
    pub(super) fn caption_file(
        &mut self,
        path: &Path,
        file: &S<String>,
        id: &str,
        duration: f64,
    ) -> Option<Vec<Cue>> {
        // Diagnostics show the path as the template wrote it, joined to its directory.
        let shown = self.root.join(&file.value);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.err(
                    &file.span,
                    format!("cannot read caption file `{}`: {e}", file.value),
                    None,
                );
                return None;
            }
        };
        let cues = match parse_captions(path, bytes) {
            Ok(c) => c,
            Err((line, msg, hint)) => {
                let hint = Some(hint.to_string());
                self.dx
                    .in_file(Severity::Error, &shown, line, file.span.clone(), msg, hint);
                return None;
            }
        };
        let mut ok = self.check_cues(&cues, &shown, file, duration);
        for c in &cues {
            if let Some((at, ch)) = crate::display::forbidden_in_copy(&c.cue.text) {
                // The text starts on the line after the cue's timing.
                let line = c.line + 1 + c.cue.text[..at].matches('\n').count();
                let msg = format!(
                    "caption of subtitle `{id}` contains {}, an invisible control that makes the text show differently from how it reads",
                    crate::display::describe_char(ch)
                );
                let hint = Some(super::locale::HIDDEN_HINT.to_string());
                self.dx
                    .in_file(Severity::Error, &shown, line, file.span.clone(), msg, hint);
                ok = false;
            }
        }
        ok.then(|| cues.into_iter().map(|c| c.cue).collect())
    }

    /// Cues follow each other and end with the video (past it is a warning: the rest is
    /// cut). `false` when they overlap.
    fn check_cues(
        &mut self,
        cues: &[capfile::ParsedCue],
        shown: &Path,
        file: &S<String>,
        duration: f64,
    ) -> bool {
        let mut problems: Vec<(Severity, usize, String, &str)> = Vec::new();
        for pair in cues.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.cue.start < a.cue.end - 1e-9 {
                let msg = format!(
                    "cue starts at {} s, before the previous cue (line {}) ends at {} s",
                    fmt_secs(b.cue.start),
                    a.line,
                    fmt_secs(a.cue.end)
                );
                let hint =
                    "captions of one subtitle show one at a time; make cues follow each other";
                problems.push((Severity::Error, b.line, msg, hint));
            }
        }
        // Overlaps make the captions unusable; running past the video only loses the tail.
        let ok = problems.is_empty();
        for c in cues {
            if duration > 0.0 && c.cue.end > duration + 1e-9 {
                let (what, hint) = if c.cue.start >= duration {
                    ("never shows", "the cue starts after the video ends")
                } else {
                    (
                        "is cut short",
                        "the part after the end of the video is not shown",
                    )
                };
                let msg = format!(
                    "cue ends at {} s, after the video ends ({} s): it {what}",
                    fmt_secs(c.cue.end),
                    fmt_secs(duration)
                );
                problems.push((Severity::Warning, c.line, msg, hint));
            }
        }
        for (severity, line, msg, hint) in problems {
            let at = file.span.clone();
            self.dx
                .in_file(severity, shown, line, at, msg, Some(hint.to_string()));
        }
        ok
    }
}

/// A caption file's cues, or the line, message and hint of why it gives none.
fn parse_captions(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<Vec<capfile::ParsedCue>, (usize, String, &'static str)> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        let hint = "re-save it as UTF-8 (with or without BOM)";
        (line, "caption file is not UTF-8".to_string(), hint)
    })?;
    let cues = capfile::parse(&text, Format::detect(path, &text)).map_err(|e| {
        let hint = "fix the cue; timings are HH:MM:SS,mmm in .srt and [HH:]MM:SS.mmm in .vtt";
        (e.line, e.message, hint)
    })?;
    if cues.is_empty() {
        let hint = "add at least one timed cue";
        return Err((1, "caption file has no cues".to_string(), hint));
    }
    Ok(cues)
}

impl V<'_> {
    /// The `[[font]]` files: each must be a font (its family names are read from it, so a
    /// text's `font` list names them as it names system fonts), listed once, and may carry a
    /// licence. A font no text names is a warning: it is neither drawn nor licensed.
    pub(super) fn project_fonts(
        &mut self,
        raw: Option<S<Vec<RawFont>>>,
        named: &[&[String]],
    ) -> Vec<ProjectFont> {
        let Some(raw) = raw else { return Vec::new() };
        let mut out: Vec<ProjectFont> = Vec::new();
        let mut seen = Vec::new();
        for f in &raw.value {
            let Some(file) = &f.file else {
                self.missing(
                    "file",
                    &f.span,
                    "[[font]] needs `file`",
                    Some("the font file, e.g. file = \"fonts/BrandSans-Regular.otf\"".to_string()),
                );
                continue;
            };
            let Some(path) = self.asset(file) else {
                continue;
            };
            if !self.once(
                &mut seen,
                path.clone(),
                &file.span,
                || format!("font `{}` is listed twice", file.value),
                DUPLICATE,
            ) {
                continue;
            }
            let families = match crate::text::FontBook::empty().add_file(&path) {
                Ok(families) => families,
                Err(e) => {
                    self.err(
                        &file.span,
                        format!("`{}` is not a usable font: {e}", file.value),
                        Some("a TrueType or OpenType font (.ttf, .otf, .ttc)".to_string()),
                    );
                    continue;
                }
            };
            if !families.iter().any(|fam| {
                named
                    .iter()
                    .any(|l| l.iter().any(|n| n.eq_ignore_ascii_case(fam)))
            }) {
                self.dx.warning(
                    file.span.clone(),
                    format!(
                        "font `{}` ({}) is named by no subtitle, badge or end card",
                        file.value,
                        families.join(", ")
                    ),
                    Some(format!(
                        "add \"{}\" to a `font` list, or remove this [[font]]",
                        families[0]
                    )),
                );
            }
            self.licence(f.licence.as_ref(), Some(&path), "font");
            out.push(ProjectFont { path, families });
        }
        out
    }
}
