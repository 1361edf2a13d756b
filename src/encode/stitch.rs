//! Segments coded once and stitched into many MP4s (issue #14, "scenes encoded once").
//!
//! A `SegmentEncoder` codes a run of frames with a fresh libx264 opened exactly as the whole
//! video's (`video::open_x264`), so the segment starts with an IDR picture, keeps its GOPs
//! inside itself and carries the same extradata; its packets go to a file, not to memory,
//! so memory does not grow with the batch. `VideoWriter::push_segment` muxes them into an
//! output with their timestamps moved to where the segment plays.
//!
//! The file is ours and plain: per packet `pts`, `dts`, `duration` (i64 LE, encoder time
//! base 1/fps, counted from the segment's first frame), a key flag (u8), the payload's
//! length (u32 LE) and the payload. It lives for one run, in its staging directory.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use ffmpeg::{encoder, Packet};
use ffmpeg_next as ffmpeg;
use image::RgbaImage;

use super::video::{drained, extradata, open_x264, Pictures};
use super::{EncodeError, VideoSettings};
use crate::media::ffio;

/// A coded segment on disk and what stitching checks before using it.
#[derive(Debug, Clone)]
pub struct SegmentFile {
    pub path: PathBuf,
    pub frames: u32,
    /// The encoder's global header (`avcC`), which must equal the output's.
    pub extradata: Vec<u8>,
    /// Frames between the first packet's decoding and presentation times (x264's B-frame
    /// delay): every piece of one output must have the output encoder's.
    pub delay: i64,
}

/// Codes frames into a `SegmentFile`.
pub struct SegmentEncoder {
    path: PathBuf,
    out: BufWriter<File>,
    venc: encoder::Video,
    pics: Pictures,
    first_dts: Option<i64>,
}

// SAFETY: the encoder is owned by this value and only used through `&mut self`, as with
// `VideoWriter`; FFmpeg contexts are not tied to the thread that made them.
unsafe impl Send for SegmentEncoder {}

impl SegmentEncoder {
    /// A new encoder writing to `path` (created, truncated).
    pub fn create(path: &Path, settings: &VideoSettings) -> Result<SegmentEncoder, EncodeError> {
        ffio::init();
        // The same global-header flag as an MP4 muxer asks for: SPS/PPS in the extradata.
        let (_, venc) = open_x264(path, settings, true)?;
        let file = File::create(path).map_err(|source| EncodeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(SegmentEncoder {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            venc,
            pics: Pictures::new(settings.width, settings.height),
            first_dts: None,
        })
    }

    pub fn push(&mut self, frame: &RgbaImage) -> Result<(), EncodeError> {
        self.pics
            .send(&mut self.venc, frame, &self.path, "segment")?;
        self.drain()
    }

    /// Flushes the encoder; the file then holds every packet.
    pub fn finish(mut self) -> Result<SegmentFile, EncodeError> {
        self.venc
            .send_eof()
            .map_err(|e| EncodeError::ffmpeg(&self.path, "libx264 flush", e))?;
        self.drain()?;
        let io = |source| EncodeError::Io {
            path: self.path.clone(),
            source,
        };
        // No fsync: the file lives for one run, in staging, which a crash discards.
        self.out.flush().map_err(io)?;
        Ok(SegmentFile {
            path: self.path.clone(),
            frames: self.pics.count as u32,
            extradata: extradata(&self.venc),
            delay: -self.first_dts.unwrap_or(0),
        })
    }

    fn drain(&mut self) -> Result<(), EncodeError> {
        let mut pkt = Packet::empty();
        loop {
            match self.venc.receive_packet(&mut pkt) {
                Ok(()) => {}
                Err(e) if drained(&e) => return Ok(()),
                Err(e) => return Err(EncodeError::ffmpeg(&self.path, "libx264 failed", e)),
            }
            let (pts, dts) = (pkt.pts().unwrap_or(0), pkt.dts().unwrap_or(0));
            self.first_dts.get_or_insert(dts);
            let data = pkt.data().unwrap_or(&[]);
            let mut head = [0u8; 29];
            head[0..8].copy_from_slice(&pts.to_le_bytes());
            head[8..16].copy_from_slice(&dts.to_le_bytes());
            head[16..24].copy_from_slice(&pkt.duration().to_le_bytes());
            head[24] = u8::from(pkt.is_key());
            head[25..29].copy_from_slice(&(data.len() as u32).to_le_bytes());
            self.out
                .write_all(&head)
                .and_then(|()| self.out.write_all(data))
                .map_err(|source| EncodeError::Io {
                    path: self.path.clone(),
                    source,
                })?;
        }
    }
}

/// One packet read back from a segment file.
pub(super) struct SegmentPacket {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

/// The packets of a segment file, in decoding order.
pub(super) fn read_packets(
    path: &Path,
) -> Result<impl Iterator<Item = Result<SegmentPacket, EncodeError>>, EncodeError> {
    let io = |source| EncodeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut r = BufReader::new(File::open(path).map_err(io)?);
    let path = path.to_path_buf();
    Ok(std::iter::from_fn(move || {
        let mut head = [0u8; 29];
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(source) => {
                return Some(Err(EncodeError::Io {
                    path: path.clone(),
                    source,
                }))
            }
        }
        let word = |i: usize| i64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[25..29].try_into().expect("4 bytes")) as usize;
        let mut data = vec![0u8; len];
        if let Err(source) = r.read_exact(&mut data) {
            return Some(Err(EncodeError::Io {
                path: path.clone(),
                source,
            }));
        }
        Some(Ok(SegmentPacket {
            pts: word(0),
            dts: word(8),
            duration: word(16),
            key: head[24] != 0,
            data,
        }))
    }))
}
