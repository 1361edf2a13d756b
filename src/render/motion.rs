//! Motion: easing curves, product poses from keyframes, Ken Burns windows and scene
//! transitions. Every function is pure in time: the same frame gives the same pixels.

use image::RgbaImage;

use super::ops;
use crate::template::{Easing, Idle, KenBurns, Keyframe, Rgba, Side, TransitionKind};

/// Eased progress for `p` in 0..=1 (clamped).
pub(crate) fn ease(e: Easing, p: f32) -> f32 {
    let p = p.clamp(0.0, 1.0);
    match e {
        Easing::Linear => p,
        Easing::EaseIn => p * p * p,
        Easing::EaseOut => ease_out_cubic(p),
        Easing::EaseInOut => {
            if p < 0.5 {
                4.0 * p * p * p
            } else {
                1.0 - (-2.0 * p + 2.0).powi(3) / 2.0
            }
        }
        Easing::EaseOutBack => ease_out_back(p),
        Easing::Bezier([x1, y1, x2, y2]) => bezier(x1, y1, x2, y2, p),
    }
}

pub(crate) fn ease_out_cubic(p: f32) -> f32 {
    1.0 - (1.0 - p).powi(3)
}

/// Overshoots to about 1.1 before settling at 1 (the "back" easing of CSS/After Effects).
pub(crate) fn ease_out_back(p: f32) -> f32 {
    const C1: f32 = 1.70158;
    const C3: f32 = C1 + 1.0;
    let q = p - 1.0;
    1.0 + C3 * q * q * q + C1 * q * q
}

/// CSS `cubic-bezier`: solve x(s) = p for the curve parameter by Newton steps, falling
/// back to bisection where the slope is flat, then return y(s).
fn bezier(x1: f32, y1: f32, x2: f32, y2: f32, p: f32) -> f32 {
    let coord = |a: f32, b: f32, s: f32| {
        let m = 1.0 - s;
        3.0 * m * m * s * a + 3.0 * m * s * s * b + s * s * s
    };
    let slope = |a: f32, b: f32, s: f32| {
        let m = 1.0 - s;
        3.0 * m * m * a + 6.0 * m * s * (b - a) + 3.0 * s * s * (1.0 - b)
    };
    let mut s = p;
    for _ in 0..8 {
        let err = coord(x1, x2, s) - p;
        if err.abs() < 1e-5 {
            return coord(y1, y2, s);
        }
        let d = slope(x1, x2, s);
        if d.abs() < 1e-4 {
            break;
        }
        s = (s - err / d).clamp(0.0, 1.0);
    }
    let (mut lo, mut hi) = (0.0f32, 1.0f32);
    s = p;
    for _ in 0..40 {
        if coord(x1, x2, s) < p {
            lo = s;
        } else {
            hi = s;
        }
        s = (lo + hi) / 2.0;
    }
    coord(y1, y2, s)
}

/// Where the product is relative to its placement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    /// Fractions of the canvas.
    pub offset: (f32, f32),
    pub scale: f32,
    pub rotation: f32,
    pub opacity: f32,
}

impl Pose {
    pub(crate) const REST: Pose = Pose {
        offset: (0.0, 0.0),
        scale: 1.0,
        rotation: 0.0,
        opacity: 1.0,
    };
}

/// The pose at `t` seconds into the scene: keyframes interpolated with the easing of the
/// keyframe being approached, held before the first and after the last; idle drift added.
pub(crate) fn pose_at(keyframes: &[Keyframe], idle: Option<&Idle>, t: f32) -> Pose {
    let of = |k: &Keyframe| Pose {
        offset: k.offset,
        scale: k.scale,
        rotation: k.rotation,
        opacity: k.opacity,
    };
    let mut pose = match keyframes {
        [] => Pose::REST,
        [first, ..] if t <= first.t as f32 => of(first),
        [.., last] if t >= last.t as f32 => of(last),
        _ => {
            let i = keyframes
                .iter()
                .position(|k| k.t as f32 > t)
                .expect("t lies inside the keyframes");
            let (a, b) = (&keyframes[i - 1], &keyframes[i]);
            let p = ease(b.easing, (t - a.t as f32) / (b.t - a.t).max(1e-6) as f32);
            let lerp = |x: f32, y: f32| x + (y - x) * p;
            Pose {
                offset: (lerp(a.offset.0, b.offset.0), lerp(a.offset.1, b.offset.1)),
                scale: lerp(a.scale, b.scale).max(0.0),
                rotation: lerp(a.rotation, b.rotation),
                opacity: lerp(a.opacity, b.opacity).clamp(0.0, 1.0),
            }
        }
    };
    if let Some(idle) = idle {
        let phase = std::f32::consts::TAU * t / idle.period;
        // Both start at rest (0) and move up first (negative y is up).
        let dy = if idle.bounce {
            -phase.sin().abs() / 2.0
        } else {
            -phase.sin()
        } * idle.amplitude;
        pose.offset.1 += dy;
    }
    pose
}

/// Ken Burns at progress `p` (0..=1 over the scene): the zoom and the pan (fractions of the
/// canvas) of the view.
pub(crate) fn ken_burns_at(kb: &KenBurns, p: f32) -> (f32, (f32, f32)) {
    let e = ease(kb.easing, p);
    let zoom = kb.zoom.0 + (kb.zoom.1 - kb.zoom.0) * e;
    let ((x0, y0), (x1, y1)) = kb.pan;
    (zoom, (x0 + (x1 - x0) * e, y0 + (y1 - y0) * e))
}

/// The source rectangle (x, y, w, h) of a `big` backdrop (the canvas fitted at the largest
/// zoom) that shows at `zoom` with the view centre moved by `pan`, kept inside the picture.
pub(crate) fn view_window(big: (u32, u32), zoom: f32, pan: (f32, f32)) -> (f64, f64, f64, f64) {
    let (bw, bh) = (big.0 as f64, big.1 as f64);
    // `big` is the canvas × max_zoom, so the canvas seen at `zoom` spans big / zoom; a pan is a
    // share of the picture, the same share of `big`.
    let (cw, ch) = (bw / zoom.max(1.0) as f64, bh / zoom.max(1.0) as f64);
    let cx = bw / 2.0 + pan.0 as f64 * bw;
    let cy = bh / 2.0 + pan.1 as f64 * bh;
    let x = (cx - cw / 2.0).clamp(0.0, (bw - cw).max(0.0));
    let y = (cy - ch / 2.0).clamp(0.0, (bh - ch).max(0.0));
    (x, y, cw.min(bw), ch.min(bh))
}

/// Mixes the outgoing frame `a` and the incoming `b` at eased progress `p` (0 = all `a`).
pub(crate) fn transition(kind: &TransitionKind, a: &RgbaImage, b: &RgbaImage, p: f32) -> RgbaImage {
    let (w, h) = a.dimensions();
    let p = p.clamp(0.0, 1.0);
    match kind {
        TransitionKind::Cut => if p < 0.5 { a } else { b }.clone(),
        TransitionKind::Crossfade => mix(a, b, p),
        TransitionKind::Fade(c) => {
            let solid = ops::solid(w, h, Rgba([c.0[0], c.0[1], c.0[2], 255]));
            if p < 0.5 {
                mix(a, &solid, p * 2.0)
            } else {
                mix(&solid, b, p * 2.0 - 1.0)
            }
        }
        TransitionKind::Slide(side) => {
            let mut out = a.clone();
            let (dx, dy) = side_offset(*side, w, h, 1.0 - p);
            paste(&mut out, b, -dx, -dy);
            out
        }
        TransitionKind::Push(side) => {
            let mut out = b.clone();
            let (ax, ay) = side_offset(*side, w, h, p);
            let (bx, by) = side_offset(*side, w, h, 1.0 - p);
            paste(&mut out, a, ax, ay);
            paste(&mut out, b, -bx, -by);
            out
        }
        TransitionKind::Wipe(side) => {
            let mut out = a.clone();
            let stride = w as usize * 4;
            out.chunks_mut(stride)
                .zip(b.chunks(stride))
                .enumerate()
                .for_each(|(y, (o, src))| {
                    // The edge moves toward `side`: pixels behind it show the new scene.
                    let (lo, hi) = match side {
                        Side::Left => (((1.0 - p) * w as f32) as usize, w as usize),
                        Side::Right => (0, (p * w as f32) as usize),
                        Side::Up => {
                            if (y as f32) >= (1.0 - p) * h as f32 {
                                (0, w as usize)
                            } else {
                                (0, 0)
                            }
                        }
                        Side::Down => {
                            if (y as f32) < p * h as f32 {
                                (0, w as usize)
                            } else {
                                (0, 0)
                            }
                        }
                    };
                    o[lo * 4..hi * 4].copy_from_slice(&src[lo * 4..hi * 4]);
                });
            out
        }
        TransitionKind::Zoom => {
            // The old scene rushes toward the viewer while the new one fades in behind it.
            let z = 1.0 + 0.6 * p as f64;
            let (cw, ch) = (w as f64 / z, h as f64 / z);
            let zoomed = ops::resize(
                a,
                w,
                h,
                Some(((w as f64 - cw) / 2.0, (h as f64 - ch) / 2.0, cw, ch)),
            );
            mix(&zoomed, b, p)
        }
    }
}

/// Offset (pixels) of a scene that has moved `k` (0..=1) of the way toward `side`.
fn side_offset(side: Side, w: u32, h: u32, k: f32) -> (i64, i64) {
    let (w, h) = (w as f32 * k, h as f32 * k);
    match side {
        Side::Left => (-w.round() as i64, 0),
        Side::Right => (w.round() as i64, 0),
        Side::Up => (0, -h.round() as i64),
        Side::Down => (0, h.round() as i64),
    }
}

// Transitions and pastes run on the composing thread: per-frame work is handed to rayon only
// where it is heavy, since x264 keeps both cores busy while frames are drawn.

/// Copies opaque `src` onto `dst` shifted by (dx, dy), clipped.
fn paste(dst: &mut RgbaImage, src: &RgbaImage, dx: i64, dy: i64) {
    let (w, h) = (dst.width() as i64, dst.height() as i64);
    let (x0, x1) = (dx.max(0), (w + dx).min(w));
    if x0 >= x1 {
        return;
    }
    let stride = w as usize * 4;
    let src_raw = src.as_raw();
    dst.chunks_mut(stride).enumerate().for_each(|(y, row)| {
        let sy = y as i64 - dy;
        if sy < 0 || sy >= h {
            return;
        }
        let srow = &src_raw[sy as usize * stride..(sy as usize + 1) * stride];
        let sx0 = (x0 - dx) as usize;
        row[x0 as usize * 4..x1 as usize * 4]
            .copy_from_slice(&srow[sx0 * 4..sx0 * 4 + (x1 - x0) as usize * 4]);
    });
}

/// `a × (1 − p) + b × p` per channel.
fn mix(a: &RgbaImage, b: &RgbaImage, p: f32) -> RgbaImage {
    let k = (p.clamp(0.0, 1.0) * 256.0).round() as u32;
    let mut out = a.clone();
    out.chunks_mut(4096).zip(b.chunks(4096)).for_each(|(o, s)| {
        for (d, &v) in o.iter_mut().zip(s) {
            *d = ((*d as u32 * (256 - k) + v as u32 * k + 128) >> 8) as u8;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easings_start_at_0_and_end_at_1() {
        for e in [
            Easing::Linear,
            Easing::EaseIn,
            Easing::EaseOut,
            Easing::EaseInOut,
            Easing::EaseOutBack,
            Easing::Bezier([0.25, 0.1, 0.25, 1.0]),
        ] {
            assert!(ease(e, 0.0).abs() < 1e-3, "{e:?}");
            assert!((ease(e, 1.0) - 1.0).abs() < 1e-3, "{e:?}");
        }
        // ease-out-back overshoots; CSS `ease` is ahead of linear at the middle.
        assert!((0.5..1.0).any_over(|p| ease(Easing::EaseOutBack, p) > 1.05));
        let css_ease = ease(Easing::Bezier([0.25, 0.1, 0.25, 1.0]), 0.5);
        assert!(
            (css_ease - 0.8024).abs() < 0.01,
            "cubic-bezier(.25,.1,.25,1) at 0.5 = {css_ease}"
        );
    }

    trait AnyOver {
        fn any_over(self, f: impl Fn(f32) -> bool) -> bool;
    }
    impl AnyOver for std::ops::Range<f64> {
        fn any_over(self, f: impl Fn(f32) -> bool) -> bool {
            (0..100)
                .map(|i| self.start + (self.end - self.start) * i as f64 / 100.0)
                .any(|p| f(p as f32))
        }
    }

    #[test]
    fn keyframes_interpolate_and_hold() {
        let k = |t: f64, x: f32| Keyframe {
            t,
            offset: (x, 0.0),
            scale: 1.0,
            rotation: 0.0,
            opacity: 1.0,
            easing: Easing::Linear,
        };
        let kf = [k(1.0, -1.0), k(2.0, 0.0)];
        assert_eq!(pose_at(&kf, None, 0.0).offset.0, -1.0);
        assert!((pose_at(&kf, None, 1.5).offset.0 + 0.5).abs() < 1e-6);
        assert_eq!(pose_at(&kf, None, 9.0).offset.0, 0.0);
    }

    #[test]
    fn crossfade_middle_is_the_average() {
        let a = RgbaImage::from_pixel(4, 4, image::Rgba([200, 0, 0, 255]));
        let b = RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 200, 255]));
        let m = transition(&TransitionKind::Crossfade, &a, &b, 0.5);
        assert_eq!(m.get_pixel(1, 1).0, [100, 0, 100, 255]);
        let w = transition(&TransitionKind::Wipe(Side::Left), &a, &b, 0.5);
        assert_eq!(w.get_pixel(0, 0).0, [200, 0, 0, 255]);
        assert_eq!(w.get_pixel(3, 0).0, [0, 0, 200, 255]);
    }

    #[test]
    fn view_window_zooms_about_the_centre() {
        let (x, y, w, h) = view_window((1200, 2400), 1.2, (0.0, 0.0));
        assert!((w - 1000.0).abs() < 1e-3 && (h - 2000.0).abs() < 1e-3);
        assert!((x - 100.0).abs() < 1e-3 && (y - 200.0).abs() < 1e-3);
        let (x, _, w, _) = view_window((1200, 2400), 1.0, (0.0, 0.0));
        assert!(x.abs() < 1e-6 && (w - 1200.0).abs() < 1e-6);
    }
}
