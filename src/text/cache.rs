//! Reusing rendered blocks across frames and variants.
//!
//! A subtitle is the same pixels on every frame it is shown and in every variant that
//! shares its copy, style and box; rendering it once per frame would cost a shaping and a
//! rasterization 30 times a second for nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Direction;
use super::{render_block_ex, Align, FontBook, TextError, TextRaster, TextStyle};

/// Everything the pixels depend on. Floats by bit pattern: styles come from the template,
/// so equal settings are bit-equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    text: String,
    lang: String,
    base: Option<bool>,
    families: Vec<String>,
    numbers: Vec<u32>,
    colors: Vec<[u8; 4]>,
    align: u8,
    max_w: u32,
    max_h: u32,
}

impl Key {
    fn new(
        text: &str,
        lang: &str,
        base: Option<Direction>,
        s: &TextStyle,
        max_w: u32,
        max_h: u32,
    ) -> Key {
        let mut numbers = vec![s.size_px, s.min_size_px, s.line_height];
        let mut colors = vec![s.color.0];
        // A tag per optional part keeps "no outline, shadow of 2" apart from "outline 2".
        match s.outline {
            Some((c, w)) => {
                numbers.extend([1.0, w]);
                colors.push(c.0);
            }
            None => numbers.push(0.0),
        }
        match s.shadow {
            Some((c, (dx, dy), blur)) => {
                numbers.extend([1.0, dx, dy, blur]);
                colors.push(c.0);
            }
            None => numbers.push(0.0),
        }
        match s.background {
            Some((c, pad)) => {
                numbers.extend([1.0, pad]);
                colors.push(c.0);
            }
            None => numbers.push(0.0),
        }
        Key {
            text: text.to_string(),
            lang: lang.to_string(),
            base: base.map(|d| d == Direction::Rtl),
            families: s.families.clone(),
            numbers: numbers.into_iter().map(f32::to_bits).collect(),
            colors,
            align: match s.align {
                Align::Start => 0,
                Align::Center => 1,
                Align::End => 2,
            },
            max_w,
            max_h,
        }
    }
}

struct Entry {
    raster: Arc<TextRaster>,
    last_used: u64,
    bytes: usize,
}

struct Inner {
    map: HashMap<Key, Entry>,
    clock: u64,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// A bounded, thread-safe cache of rendered blocks keyed by text + language + direction +
/// style + box. Share one (`Arc<TextCache>` or `&TextCache`) between render threads.
pub struct TextCache {
    inner: Mutex<Inner>,
    budget_bytes: usize,
}

/// Hit/miss counters, for the run report and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
}

impl TextCache {
    /// Keeps at most about `budget_bytes` of RGBA pixels, evicting the least recently used.
    pub(crate) fn new(budget_bytes: usize) -> TextCache {
        TextCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                clock: 0,
                bytes: 0,
                hits: 0,
                misses: 0,
            }),
            budget_bytes,
        }
    }

    /// The cached block, or renders it with [`render_block_ex`] and keeps it. Errors are not
    /// cached. Two threads missing the same key at once may both render it; the pixels are
    /// the same, and holding the lock while rendering would serialize every thread.
    #[allow(clippy::too_many_arguments)]
    pub fn get_or_render(
        &self,
        book: &FontBook,
        text: &str,
        lang: &str,
        base: Option<Direction>,
        style: &TextStyle,
        max_w: u32,
        max_h: u32,
    ) -> Result<Arc<TextRaster>, TextError> {
        let key = Key::new(text, lang, base.clone(), style, max_w, max_h);
        {
            let mut inner = self.inner.lock().expect("text cache poisoned");
            inner.clock += 1;
            let now = inner.clock;
            if let Some(e) = inner.map.get_mut(&key) {
                e.last_used = now;
                let r = e.raster.clone();
                inner.hits += 1;
                return Ok(r);
            }
            inner.misses += 1;
        }
        let raster = Arc::new(render_block_ex(
            book, text, lang, base, style, max_w, max_h,
        )?);
        let bytes = raster.image.as_raw().len();
        let mut inner = self.inner.lock().expect("text cache poisoned");
        inner.clock += 1;
        let now = inner.clock;
        if let Some(old) = inner.map.insert(
            key,
            Entry {
                raster: raster.clone(),
                last_used: now,
                bytes,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget_bytes && inner.map.len() > 1 {
            let oldest = inner
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
                .expect("non-empty");
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.bytes;
            }
        }
        Ok(raster)
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock().expect("text cache poisoned");
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            entries: inner.map.len(),
            bytes: inner.bytes,
        }
    }
}

impl Default for TextCache {
    /// 64 MB: a few hundred 1080-wide captions.
    fn default() -> TextCache {
        TextCache::new(64 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_request_is_a_hit_and_budget_evicts() {
        let book = FontBook::system();
        let cache = TextCache::new(1);
        let style = TextStyle::new(&["Noto Sans"], 40.0);
        let a = cache
            .get_or_render(&book, "Run", "en", None, &style, 500, 200)
            .unwrap();
        let b = cache
            .get_or_render(&book, "Run", "en", None, &style, 500, 200)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let mut red = style.clone();
        red.color = crate::color::Rgba([255, 0, 0, 255]);
        let c = cache
            .get_or_render(&book, "Run", "en", None, &red, 500, 200)
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "a colour change is a different block");
        let s = cache.stats();
        assert_eq!((s.hits, s.misses), (1, 2));
        // A 1-byte budget keeps only the newest entry.
        assert_eq!(s.entries, 1);
    }
}
