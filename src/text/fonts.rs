//! Font discovery and face loading.
//!
//! `fontdb` indexes the installed fonts by family name; the bytes of a font file are read
//! once and shared (`Arc`) by every face of that file, so the 19 MB Noto CJK collection is
//! held once no matter how many of its faces (SC, JP, …) are in use or how many threads
//! render with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustybuzz::ttf_parser;

use super::TextError;

/// One face of one font file, parsed lazily by whoever needs it (`rustybuzz::Face`,
/// `ab_glyph::FontRef`, `ttf_parser::Face` all borrow `data()`).
pub struct FontFace {
    data: Arc<[u8]>,
    index: u32,
    family: String,
    path: PathBuf,
    units_per_em: f32,
    ascender: f32,
    descender: f32,
}

impl std::fmt::Debug for FontFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontFace")
            .field("family", &self.family)
            .field("path", &self.path)
            .field("index", &self.index)
            .finish()
    }
}

impl FontFace {
    /// Parses `data` far enough to know it is a usable face and to read its metrics.
    pub(crate) fn from_data(
        data: Arc<[u8]>,
        index: u32,
        path: &Path,
        family: Option<String>,
    ) -> Result<FontFace, TextError> {
        let face = ttf_parser::Face::parse(&data, index)
            .map_err(|e| TextError::bad_font(display_path(path, index), e))?;
        check_tables(&data, index, path)?;
        let family = family.unwrap_or_else(|| family_name_of(&face).unwrap_or_default());
        let units_per_em = f32::from(face.units_per_em());
        // Typographic metrics when the font asks for them (USE_TYPO_METRICS), else hhea:
        // the same choice browsers make, so line boxes match what designers saw in Figma.
        let (asc, desc) = match face.tables().os2 {
            Some(os2) if os2.use_typographic_metrics() => {
                (os2.typographic_ascender(), os2.typographic_descender())
            }
            _ => (face.ascender(), face.descender()),
        };
        Ok(FontFace {
            index,
            family,
            path: path.to_path_buf(),
            units_per_em,
            ascender: f32::from(asc),
            descender: f32::from(desc),
            data,
        })
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }
    pub fn index(&self) -> u32 {
        self.index
    }
    /// The family name the face was found under (its first name when loaded from a file).
    pub fn family(&self) -> &str {
        &self.family
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub fn units_per_em(&self) -> f32 {
        self.units_per_em
    }
    /// Ascender in font units (positive, above the baseline).
    pub(crate) fn ascender(&self) -> f32 {
        self.ascender
    }
    /// Descender in font units (negative, below the baseline).
    pub(crate) fn descender(&self) -> f32 {
        self.descender
    }
    /// `path` or `path#index` for collections, as users write it on the command line.
    pub(crate) fn display_name(&self) -> String {
        format!("{} ({})", self.family, display_path(&self.path, self.index))
    }
}

fn display_path(path: &Path, index: u32) -> String {
    if index == 0 {
        path.display().to_string()
    } else {
        format!("{}#{index}", path.display())
    }
}

/// Refuses a file whose table directory points past its end. ttf-parser treats such a table
/// as absent, so a font cut short after its header parses and draws every glyph as
/// nothing (`glyf` is the bulk of the file and often the part lost).
fn check_tables(data: &[u8], index: u32, path: &Path) -> Result<(), TextError> {
    let raw = ttf_parser::RawFace::parse(data, index)
        .map_err(|e| TextError::bad_font(display_path(path, index), e))?;
    // The directory is sorted by tag; the table the cut went through is the first one past
    // the end in file order.
    let end = |r: &ttf_parser::TableRecord| u64::from(r.offset) + u64::from(r.length);
    let cut = raw
        .table_records
        .into_iter()
        .filter(|r| end(r) > data.len() as u64)
        .min_by_key(|r| r.offset);
    match cut {
        None => Ok(()),
        Some(r) => Err(TextError::unusable_font(
            display_path(path, index),
            format!(
                "truncated: its `{}` table ends at byte {} but the file has {} bytes",
                String::from_utf8_lossy(&r.tag.to_bytes()).trim_end(),
                end(&r),
                data.len()
            ),
        )),
    }
}

fn family_name_of(face: &ttf_parser::Face<'_>) -> Option<String> {
    let names = face.names();
    let pick = |id: u16| {
        names
            .into_iter()
            .filter(|n| n.name_id == id && n.is_unicode())
            .find_map(|n| n.to_string())
    };
    pick(ttf_parser::name_id::TYPOGRAPHIC_FAMILY).or_else(|| pick(ttf_parser::name_id::FAMILY))
}

/// Parsed faces by (file, face index).
type FaceCache = HashMap<(PathBuf, u32), Arc<FontFace>>;

/// System fonts found by family name, plus any added files. Faces are parsed once and
/// shared; cheap to clone; `Send + Sync` so one book serves every render thread.
#[derive(Clone)]
pub struct FontBook {
    db: Arc<fontdb::Database>,
    /// Shared by clones: keyed by (path, index), not by fontdb id, because two clones that
    /// each `add_file` hand out the same fresh ids for different faces.
    faces: Arc<Mutex<FaceCache>>,
    files: Arc<Mutex<HashMap<PathBuf, Arc<[u8]>>>>,
}

impl std::fmt::Debug for FontBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontBook")
            .field("faces", &self.db.len())
            .finish()
    }
}

impl FontBook {
    /// System font directories (fontconfig's usual places).
    pub fn system() -> FontBook {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        FontBook::from_db(db)
    }
    /// A book with no fonts; add some with [`FontBook::add_file`]. Tests and hermetic
    /// renders use this so results do not depend on what the machine has installed.
    pub fn empty() -> FontBook {
        FontBook::from_db(fontdb::Database::new())
    }

    fn from_db(db: fontdb::Database) -> FontBook {
        FontBook {
            db: Arc::new(db),
            faces: Arc::default(),
            files: Arc::default(),
        }
    }

    /// Adds every face of a font file (all faces of a `.ttc`). Returns their family names.
    pub(crate) fn add_file(&mut self, path: impl AsRef<Path>) -> Result<Vec<String>, TextError> {
        let path = path.as_ref();
        if let Err(e) = std::fs::metadata(path) {
            return Err(TextError::bad_font(path.display().to_string(), e));
        }
        let db = Arc::make_mut(&mut self.db);
        let ids = db.load_font_source(fontdb::Source::File(path.to_path_buf()));
        let mut families = Vec::new();
        for id in ids {
            let Some(info) = db.face(id) else { continue };
            for (name, _) in &info.families {
                if !families.contains(name) {
                    families.push(name.clone());
                }
            }
        }
        if families.is_empty() {
            return Err(TextError::unusable_font(
                path.display().to_string(),
                "no usable font face in the file",
            ));
        }
        Ok(families)
    }

    /// Every family name known to the book, sorted, without duplicates.
    pub(crate) fn families(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .db
            .faces()
            .flat_map(|f| f.families.iter().map(|(n, _)| n.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The regular face of `family`, or [`TextError::UnknownFamily`] with near names.
    ///
    /// For the Noto/Source Han CJK families the face is chosen by `lang`: a Japanese text
    /// asked for in "Noto Sans CJK SC" gets the JP face, because the same code points have
    /// different glyph shapes per region and the wrong ones read as foreign.
    pub fn face(&self, family: &str, lang: &str) -> Result<Arc<FontFace>, TextError> {
        let wanted = cjk_family_for_lang(family, lang);
        let id = wanted
            .as_deref()
            .and_then(|w| self.find_family(w))
            .or_else(|| self.find_family(family))
            .ok_or_else(|| TextError::UnknownFamily {
                family: family.to_string(),
                suggestions: self.suggestions(family),
            })?;
        self.load_id(id)
    }

    /// A face straight from a file, `FILE` or `FILE#index` (the command line's `--font`).
    pub fn face_from_file(&self, spec: &str) -> Result<Arc<FontFace>, TextError> {
        let (path, index) = parse_font_spec(spec)?;
        self.load(&path, index, None)
    }

    fn find_family(&self, name: &str) -> Option<fontdb::ID> {
        let generic = match name.to_ascii_lowercase().as_str() {
            "sans-serif" | "sans" => Some(fontdb::Family::SansSerif),
            "serif" => Some(fontdb::Family::Serif),
            "monospace" => Some(fontdb::Family::Monospace),
            _ => None,
        };
        if let Some(g) = generic {
            let families = [g];
            return self.db.query(&fontdb::Query {
                families: &families,
                ..Default::default()
            });
        }
        // Case-insensitive, and the most "regular" face of the family: weight nearest 400,
        // upright, normal width.
        self.db
            .faces()
            .filter(|f| f.families.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
            .min_by_key(|f| {
                (
                    f.style != fontdb::Style::Normal,
                    f.weight.0.abs_diff(400),
                    f.stretch != fontdb::Stretch::Normal,
                    f.index,
                )
            })
            .map(|f| f.id)
    }

    /// Families sharing the most word prefixes with `name` ("Noto Sanz Arabik" →
    /// "Noto Sans Arabic"): typos keep the start of a word far more often than the end.
    fn suggestions(&self, name: &str) -> String {
        fn words(s: &str) -> Vec<String> {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        fn common_prefix(a: &str, b: &str) -> usize {
            a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
        }
        let query = words(name);
        let mut scored: Vec<(usize, String)> = self
            .families()
            .into_iter()
            .filter_map(|f| {
                let fw = words(&f);
                let score: usize = query
                    .iter()
                    .map(|q| {
                        let best = fw.iter().map(|w| common_prefix(q, w)).max().unwrap_or(0);
                        if best >= 3 || (best == q.len() && best > 0) {
                            best
                        } else {
                            0
                        }
                    })
                    .sum();
                (score > 0).then_some((score, f))
            })
            .collect();
        scored.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.len().cmp(&b.1.len()))
                .then(a.1.cmp(&b.1))
        });
        let list: Vec<String> = scored
            .into_iter()
            .take(5)
            .map(|(_, f)| format!("{f:?}"))
            .collect();
        if list.is_empty() {
            "none (see `fc-list : family`)".into()
        } else {
            list.join(", ")
        }
    }

    fn load_id(&self, id: fontdb::ID) -> Result<Arc<FontFace>, TextError> {
        let info = self.db.face(id).expect("id comes from this database");
        let family = info.families.first().map(|(n, _)| n.clone());
        let path = match &info.source {
            fontdb::Source::File(p) | fontdb::Source::SharedFile(p, _) => p.clone(),
            fontdb::Source::Binary(_) => PathBuf::from("<memory>"),
        };
        self.load(&path, info.index, family)
    }

    fn load(
        &self,
        path: &Path,
        index: u32,
        family: Option<String>,
    ) -> Result<Arc<FontFace>, TextError> {
        let key = (path.to_path_buf(), index);
        if let Some(face) = self.faces.lock().expect("font cache poisoned").get(&key) {
            return Ok(face.clone());
        }
        let data = self.file_data(path)?;
        let face = Arc::new(FontFace::from_data(data, index, path, family)?);
        self.faces
            .lock()
            .expect("font cache poisoned")
            .entry(key)
            .or_insert(face.clone());
        Ok(face)
    }

    fn file_data(&self, path: &Path) -> Result<Arc<[u8]>, TextError> {
        if let Some(d) = self.files.lock().expect("font cache poisoned").get(path) {
            return Ok(d.clone());
        }
        let data =
            read_shared(path).map_err(|e| TextError::bad_font(path.display().to_string(), e))?;
        Ok(self
            .files
            .lock()
            .expect("font cache poisoned")
            .entry(path.to_path_buf())
            .or_insert(data)
            .clone())
    }
}

/// A font file's bytes, read once per process while the file stays the same (length and
/// modification time): a render makes three books (the input probe, the layout lint, the
/// jobs), and each read the same files again — 2 % of a catalog batch's CPU (`perf`,
/// 2026-12-05), the 19 MB Noto CJK collection among them.
fn read_shared(path: &Path) -> std::io::Result<Arc<[u8]>> {
    type Files = HashMap<PathBuf, (u64, Option<std::time::SystemTime>, Arc<[u8]>)>;
    static FILES: std::sync::OnceLock<Mutex<Files>> = std::sync::OnceLock::new();
    let files = FILES.get_or_init(Mutex::default);
    let meta = std::fs::metadata(path)?;
    let stamp = (meta.len(), meta.modified().ok());
    // A panic never happens under the lock; the map is always whole.
    let lock = || files.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((len, modified, data)) = lock().get(path) {
        if (*len, *modified) == stamp {
            return Ok(data.clone());
        }
    }
    // Read outside the lock: a 20 MB collection must not stall other threads' lookups.
    let data: Arc<[u8]> = std::fs::read(path)?.into();
    lock().insert(path.to_path_buf(), (stamp.0, stamp.1, data.clone()));
    Ok(data)
}

/// `FILE#3` → (`FILE`, 3); `FILE` → (`FILE`, 0).
pub(crate) fn parse_font_spec(spec: &str) -> Result<(PathBuf, u32), TextError> {
    if let Some((p, i)) = spec.rsplit_once('#') {
        if let Ok(index) = i.parse::<u32>() {
            return Ok((PathBuf::from(p), index));
        }
        if !Path::new(spec).exists() {
            return Err(TextError::unusable_font(
                spec.to_string(),
                format!("face index {i:?} is not a number"),
            ));
        }
    }
    Ok((PathBuf::from(spec), 0))
}

/// "Noto Sans CJK SC" + `ja` → "Noto Sans CJK JP"; `None` when no swap applies.
fn cjk_family_for_lang(family: &str, lang: &str) -> Option<String> {
    let lang = lang.to_ascii_lowercase().replace('_', "-");
    let region = if lang == "ja" || lang.starts_with("ja-") {
        "JP"
    } else if lang == "ko" || lang.starts_with("ko-") {
        "KR"
    } else if lang.starts_with("zh-hk") || lang.starts_with("zh-hant-hk") || lang == "yue" {
        "HK"
    } else if lang.starts_with("zh-tw") || lang.starts_with("zh-hant") || lang.starts_with("zh-mo")
    {
        "TC"
    } else if lang == "zh" || lang.starts_with("zh-") {
        "SC"
    } else {
        // Not a CJK language: the bare "Noto Sans CJK" name still needs some face.
        "SC"
    };
    for stem in ["Noto Sans CJK", "Noto Serif CJK", "Noto Sans Mono CJK"] {
        let Some(rest) = family.strip_prefix(stem) else {
            continue;
        };
        let rest = rest.trim();
        let is_cjk_lang = ["ja", "ko", "zh", "yue"]
            .iter()
            .any(|p| lang == *p || lang.starts_with(&format!("{p}-")));
        if rest.is_empty() {
            return Some(format!("{stem} {region}"));
        }
        if ["SC", "TC", "HK", "JP", "KR"].contains(&rest) && is_cjk_lang {
            return Some(format!("{stem} {region}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_face_follows_language() {
        assert_eq!(
            cjk_family_for_lang("Noto Sans CJK SC", "ja").as_deref(),
            Some("Noto Sans CJK JP")
        );
        assert_eq!(
            cjk_family_for_lang("Noto Sans CJK SC", "zh-TW").as_deref(),
            Some("Noto Sans CJK TC")
        );
        assert_eq!(
            cjk_family_for_lang("Noto Sans CJK JP", "zh").as_deref(),
            Some("Noto Sans CJK SC")
        );
        assert_eq!(
            cjk_family_for_lang("Noto Sans CJK", "ko").as_deref(),
            Some("Noto Sans CJK KR")
        );
        // An English caption that lists the SC face keeps it.
        assert_eq!(cjk_family_for_lang("Noto Sans CJK SC", "en"), None);
        assert_eq!(cjk_family_for_lang("Noto Sans", "ja"), None);
    }

    #[test]
    fn font_spec_with_index() {
        assert_eq!(
            parse_font_spec("a.ttc#2").unwrap(),
            (PathBuf::from("a.ttc"), 2)
        );
        assert_eq!(
            parse_font_spec("a.ttf").unwrap(),
            (PathBuf::from("a.ttf"), 0)
        );
    }

    #[test]
    fn book_is_send_sync_and_finds_noto() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FontBook>();
        let book = FontBook::system();
        let face = book.face("noto sans", "en").unwrap();
        assert_eq!(face.family(), "Noto Sans");
        let jp = book.face("Noto Sans CJK SC", "ja").unwrap();
        assert_eq!(jp.family(), "Noto Sans CJK JP");
        match book.face("Noto Sanz Arabik", "ar") {
            Err(TextError::UnknownFamily { suggestions, .. }) => {
                assert!(suggestions.contains("Noto Sans Arabic"), "{suggestions}")
            }
            other => panic!("expected UnknownFamily, got {other:?}"),
        }
    }
}
