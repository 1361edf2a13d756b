//! Keypoints of the batch's earlier outputs, kept for geometric verification without
//! growing the gate's memory with the batch.

use std::borrow::Cow;

use super::geometry::Features;

/// An earlier output's keypoints: in memory, or written to the scorer's spill file.
pub(super) enum Kept {
    Held(Features),
    Spilled { at: u64, len: usize },
}

/// Keypoints of the batch's earlier outputs, in an unnamed temporary file (gone when the
/// run ends, or dies) instead of memory: ~28 KB per output made the gate's memory grow with
/// the batch (BENCHMARKS.md, *Main images at catalog scale*), while a new output reads only
/// its nearest few back, from the page cache. If the file cannot be made or written, the
/// keypoints stay in memory: more memory, the same verdicts.
#[derive(Default)]
pub(super) struct KeypointSpill {
    file: Option<std::fs::File>,
    len: u64,
    failed: bool,
}

impl KeypointSpill {
    pub(super) fn keep(&mut self, f: &Features) -> Kept {
        use std::io::Write;
        if self.file.is_none() && !self.failed {
            self.file = tempfile::tempfile().ok();
            self.failed = self.file.is_none();
        }
        let Some(file) = self.file.as_mut().filter(|_| !self.failed) else {
            return Kept::Held(f.clone());
        };
        let buf = super::geometry::encode(f);
        if file.write_all(&buf).is_err() {
            // A full disk: this and later keypoints stay in memory; what was written before
            // stays readable at its offsets (nothing is appended after a failed write).
            self.failed = true;
            return Kept::Held(f.clone());
        }
        let at = self.len;
        self.len += buf.len() as u64;
        Kept::Spilled { at, len: buf.len() }
    }

    fn read(&self, at: u64, len: usize) -> std::io::Result<Features> {
        use std::os::unix::fs::FileExt;
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no keypoint spill file"))?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, at)?;
        super::geometry::decode(&buf)
            .ok_or_else(|| std::io::Error::other("keypoint spill record unreadable"))
    }

    /// The keypoints as kept: borrowed when in memory, read back when spilled.
    pub(super) fn get<'a>(&self, kept: &'a Kept) -> std::io::Result<Cow<'a, Features>> {
        match kept {
            Kept::Held(f) => Ok(Cow::Borrowed(f)),
            Kept::Spilled { at, len } => self.read(*at, *len).map(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::geometry;

    #[test]
    fn spilled_keypoints_read_back_as_they_were_kept() {
        let img = image::RgbaImage::from_fn(300, 200, |x, y| {
            let v = ((x * 37 + y * 11) ^ (x * y)) as u8;
            image::Rgba([v, v.wrapping_mul(3), 255 - v, 255])
        });
        let a = geometry::extract(&img);
        let b = geometry::extract_mirrored(&img);
        assert!(!a.descriptors.is_empty());
        let mut spill = KeypointSpill::default();
        let (ka, kb, ke) = (
            spill.keep(&a),
            spill.keep(&b),
            spill.keep(&Features::default()),
        );
        for (kept, want) in [(ka, &a), (kb, &b), (ke, &Features::default())] {
            let Kept::Spilled { at, len } = kept else {
                panic!("kept in memory: the temporary file could not be written");
            };
            assert_eq!(&spill.read(at, len).unwrap(), want);
        }
    }

    #[test]
    fn after_a_failed_write_new_keypoints_stay_in_memory_and_spilled_ones_stay_readable() {
        let img = image::RgbaImage::from_fn(200, 150, |x, y| {
            image::Rgba([
                ((x * 7) ^ (y * 13)) as u8,
                (x + y) as u8,
                (x * y) as u8,
                255,
            ])
        });
        let a = geometry::extract(&img);
        let mut spill = KeypointSpill::default();
        let first = spill.keep(&a);
        // What a write error (full disk, file-size limit) leaves behind.
        spill.failed = true;
        assert!(matches!(spill.keep(&a), Kept::Held(ref f) if f == &a));
        let Kept::Spilled { at, len } = first else {
            panic!("the first keypoints were not spilled");
        };
        assert_eq!(spill.read(at, len).unwrap(), a);
    }
}
