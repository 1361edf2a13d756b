//! Backgrounds, products and how they move, as written.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub struct RawGradient {
        from: str = "from",
        to: str = "to",
        angle: num = "angle" in within(In(-360.0, 360.0), "degrees in {}"),
    }

    pub struct RawBackground {
        id: str = "id",
        color: str = "color",
        gradient: table<RawGradient> = "gradient",
        image: str = "image",
        video: str = "video",
        looped: bool = "loop",
        start: num = "start" in SECONDS,
        fit: str = "fit",
        pad: str = "pad",
        motion: table<RawKenBurns> = "motion",
    }

    pub struct RawShadow {
        color: str = "color",
        offset: pair = "offset",
        blur: num = "blur" in within(In(0.0, 0.5), "a fraction of the shorter side, {}"),
    }

    pub struct RawProduct {
        id: str = "id",
        source: str = "source",
        anchor: str = "anchor",
        scale: num = "scale" in within(KeyAbove(0.0, 1.0), "{} (share of the safe area)"),
        offset: pair = "offset",
        rotation: num = "rotation" in within(In(-360.0, 360.0), "degrees in {}"),
        shadow: table<RawShadow> = "shadow",
        motion: table<RawMotion> = "motion",
        keyframes: list<RawKeyframe> = "keyframes",
        parallax: num = "parallax"
            in within(In(0.0, 3.0), "{} (0 = fixed, 1 = moves with the background)"),
    }

    /// A background's Ken Burns move.
    pub struct RawKenBurns {
        zoom: pair = "zoom",
        from: pair = "from",
        to: pair = "to",
        easing: easing = "easing",
    }

    /// A product's entrance and idle motion.
    pub struct RawMotion {
        enter: str = "enter",
        enter_time: num = "enter_time" in within(Above(0.0, 10.0), "seconds in {}"),
        delay: num = "delay" in within(In(0.0, 60.0), "seconds in {}"),
        idle: str = "idle",
        amplitude: num = "amplitude" in within(In(0.0, 0.2), "a fraction of the canvas height, {}"),
        period: num = "period" in within(Above(0.05, 60.0), "seconds in {}"),
        easing: easing = "easing",
    }

    pub struct RawKeyframe {
        t: num = "t",
        offset: pair = "offset",
        scale: num = "scale" in within(In(0.0, 10.0), "{} (1 = as placed)"),
        rotation: num = "rotation" in within(In(-3600.0, 3600.0), "degrees"),
        opacity: num = "opacity" in within(In(0.0, 1.0), "{}"),
        easing: easing = "easing",
    }
}
