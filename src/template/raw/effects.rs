//! Grading and finishing effects as written.

use super::schema::{within, Bound::In, SECONDS};

raw_table! {
    pub(crate) struct RawEffects {
        id: str,
        grade: table<RawGrade>,
        lut: str,
        /// Covers the LUT file.
        licence: table<super::RawLicence>,
        lut_strength: num in within(In(0.0, 1.0), "{} (1 = the LUT's full look)"),
        vignette: table<RawVignette>,
        blur: table<RawBlur>,
        grain: table<RawGrain>,
        sharpen: table<RawSharpen>,
        fade_in: num in SECONDS,
        fade_out: num in SECONDS,
    }

    pub(crate) struct RawGrade {
        brightness: num in within(In(-1.0, 1.0), "{} (0 = unchanged)"),
        contrast: num in within(In(0.0, 4.0), "{} (1 = unchanged)"),
        saturation: num in within(In(0.0, 4.0), "{} (1 = unchanged, 0 = grey)"),
        temperature: num in within(In(-1.0, 1.0), "{} (0 = unchanged, positive = warmer)"),
        tint: num
            in within(In(-1.0, 1.0), "{} (0 = unchanged, positive = magenta, negative = green)"),
    }

    pub(crate) struct RawVignette {
        strength: num in within(In(0.0, 1.0), "{} (1 = black corners)"),
        radius: num in within(In(0.1, 1.5), "{} (1 = the frame's corners)"),
        softness: num in within(In(0.0, 1.0), "{} (0 = hard edge)"),
    }

    pub(crate) struct RawBlur {
        radius: num in within(In(0.0, 0.1), "{} (a fraction of the canvas' shorter side)"),
        target: str,
    }

    pub(crate) struct RawGrain {
        amount: num in within(In(0.0, 1.0), "{}"),
        seed: int,
        size: num in within(In(0.5, 8.0), "{} (pixels at 1080 px width)"),
    }

    pub(crate) struct RawSharpen {
        amount: num in within(In(0.0, 2.0), "{}"),
        radius: num in within(In(0.5, 8.0), "{} (pixels at 1080 px width)"),
    }
}
