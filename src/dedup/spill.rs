//! Keypoints (and video seconds' thumbnails) of the batch's earlier outputs, kept for
//! verification without growing the gate's memory with the batch.

use std::borrow::Cow;

use super::geometry::{self, Features, Thumb};

/// What the spill file can hold: written as bytes, read back whole.
pub(super) trait Spillable: Clone {
    fn to_spill(&self) -> Vec<u8>;
    fn from_spill(b: &[u8]) -> Option<Self>;
}

impl Spillable for Features {
    fn to_spill(&self) -> Vec<u8> {
        geometry::encode(self)
    }
    fn from_spill(b: &[u8]) -> Option<Self> {
        geometry::decode(b)
    }
}

/// A video's seconds: each one's time and thumbnail (`FrameHash::thumb`).
pub(super) type Seconds = Vec<(f32, Thumb)>;

impl Spillable for Seconds {
    /// Per second: the time (f32 LE), the thumbnail's length (u32 LE) and `Thumb::to_bytes`.
    fn to_spill(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for (t, th) in self {
            let b = th.to_bytes().unwrap_or_default();
            v.extend_from_slice(&t.to_le_bytes());
            v.extend_from_slice(&(b.len() as u32).to_le_bytes());
            v.extend_from_slice(&b);
        }
        v
    }
    fn from_spill(mut b: &[u8]) -> Option<Self> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let (t, rest) = b.split_at_checked(4)?;
            let (n, rest) = rest.split_at_checked(4)?;
            let n = u32::from_le_bytes(n.try_into().ok()?) as usize;
            let (th, rest) = rest.split_at_checked(n)?;
            out.push((
                f32::from_le_bytes(t.try_into().ok()?),
                Thumb::from_bytes(th),
            ));
            b = rest;
        }
        Some(out)
    }
}

/// An earlier output's keypoints (or seconds): in memory, or written to the scorer's spill
/// file.
pub(super) enum Kept<T = Features> {
    Held(T),
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
    pub(super) fn keep<T: Spillable>(&mut self, f: &T) -> Kept<T> {
        use std::io::Write;
        if self.file.is_none() && !self.failed {
            self.file = tempfile::tempfile().ok();
            self.failed = self.file.is_none();
        }
        let Some(file) = self.file.as_mut().filter(|_| !self.failed) else {
            return Kept::Held(f.clone());
        };
        let buf = f.to_spill();
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

    fn read<T: Spillable>(&self, at: u64, len: usize) -> std::io::Result<T> {
        use std::os::unix::fs::FileExt;
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no keypoint spill file"))?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, at)?;
        T::from_spill(&buf).ok_or_else(|| std::io::Error::other("spill record unreadable"))
    }

    /// The keypoints (or seconds) as kept: borrowed when in memory, read back when spilled.
    pub(super) fn get<'a, T: Spillable>(&self, kept: &'a Kept<T>) -> std::io::Result<Cow<'a, T>> {
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
            assert_eq!(&spill.read::<Features>(at, len).unwrap(), want);
        }
        // A video's seconds, one of them without a thumbnail (stored before schema 5).
        let seconds: Seconds = vec![
            (0.0, Thumb::default()),
            (
                1.0,
                Thumb {
                    width: 4,
                    height: 3,
                    luma: (0..12).collect(),
                },
            ),
        ];
        let kept = spill.keep(&seconds);
        assert_eq!(spill.get(&kept).unwrap().as_ref(), &seconds);
        assert!(matches!(kept, Kept::Spilled { .. }));
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
        assert_eq!(spill.read::<Features>(at, len).unwrap(), a);
    }
}
