//! Grading and finishing effects as written.

use super::schema::{within, Bound::In, SECONDS};

raw_table! {
    pub struct RawEffects {
        id: str = "id",
        grade: table<RawGrade> = "grade",
        lut: str = "lut",
        lut_strength: num = "lut_strength" in within(In(0.0, 1.0), "{} (1 = the LUT's full look)"),
        vignette: table<RawVignette> = "vignette",
        blur: table<RawBlur> = "blur",
        grain: table<RawGrain> = "grain",
        sharpen: table<RawSharpen> = "sharpen",
        fade_in: num = "fade_in" in SECONDS,
        fade_out: num = "fade_out" in SECONDS,
    }

    pub struct RawGrade {
        brightness: num = "brightness" in within(In(-1.0, 1.0), "{} (0 = unchanged)"),
        contrast: num = "contrast" in within(In(0.0, 4.0), "{} (1 = unchanged)"),
        saturation: num = "saturation" in within(In(0.0, 4.0), "{} (1 = unchanged, 0 = grey)"),
        temperature: num = "temperature"
            in within(In(-1.0, 1.0), "{} (0 = unchanged, positive = warmer)"),
        tint: num = "tint"
            in within(In(-1.0, 1.0), "{} (0 = unchanged, positive = magenta, negative = green)"),
    }

    pub struct RawVignette {
        strength: num = "strength" in within(In(0.0, 1.0), "{} (1 = black corners)"),
        radius: num = "radius" in within(In(0.1, 1.5), "{} (1 = the frame's corners)"),
        softness: num = "softness" in within(In(0.0, 1.0), "{} (0 = hard edge)"),
    }

    pub struct RawBlur {
        radius: num = "radius" in within(In(0.0, 0.1), "{} (a fraction of the canvas' shorter side)"),
        target: str = "target",
    }

    pub struct RawGrain {
        amount: num = "amount" in within(In(0.0, 1.0), "{}"),
        seed: int = "seed",
        size: num = "size" in within(In(0.5, 8.0), "{} (pixels at 1080 px width)"),
    }

    pub struct RawSharpen {
        amount: num = "amount" in within(In(0.0, 2.0), "{}"),
        radius: num = "radius" in within(In(0.5, 8.0), "{} (pixels at 1080 px width)"),
    }
}
