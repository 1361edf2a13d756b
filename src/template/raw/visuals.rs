//! Backgrounds, products and how they move, as written.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub(crate) struct RawGradient {
        from: str,
        to: str,
        angle: num in within(In(-360.0, 360.0), "degrees in {}"),
    }

    /// Who may use an asset, where and until when (`licence = { … }`).
    pub(crate) struct RawLicence {
        holder: str,
        id: str,
        expires: str,
        regions: str_list,
        usage: str,
    }

    pub(crate) struct RawBackground {
        id: str,
        licence: table<RawLicence>,
        color: str,
        gradient: table<RawGradient>,
        image: str,
        video: str,
        looped: bool = "loop",
        start: num in SECONDS,
        fit: str,
        pad: str,
        motion: table<RawKenBurns>,
        ai_generated: bool,
    }

    pub(crate) struct RawShadow {
        color: str,
        offset: pair,
        blur: num in within(In(0.0, 0.5), "a fraction of the shorter side, {}"),
    }

    pub(crate) struct RawProduct {
        id: str,
        licence: table<RawLicence>,
        source: str,
        anchor: str,
        scale: num in within(KeyAbove(0.0, 1.0), "{} (share of the safe area)"),
        offset: pair,
        rotation: num in within(In(-360.0, 360.0), "degrees in {}"),
        shadow: table<RawShadow>,
        motion: table<RawMotion>,
        keyframes: list<RawKeyframe>,
        parallax: num in within(In(0.0, 3.0), "{} (0 = fixed, 1 = moves with the background)"),
        ai_generated: bool,
    }

    /// A background's Ken Burns move.
    pub(crate) struct RawKenBurns {
        zoom: pair in within(In(1.0, 4.0), "start and end zoom in {} (1 = the fitted picture)"),
        from: pair in within(Abs(0.5), "pan offsets are fractions of the canvas, {}"),
        to: pair in within(Abs(0.5), "pan offsets are fractions of the canvas, {}"),
        easing: easing,
    }

    /// A product's entrance and idle motion.
    pub(crate) struct RawMotion {
        enter: str,
        enter_time: num in within(Above(0.0, 10.0), "seconds in {}"),
        delay: num in within(In(0.0, 60.0), "seconds in {}"),
        idle: str,
        amplitude: num in within(In(0.0, 0.2), "a fraction of the canvas height, {}"),
        period: num in within(Above(0.05, 60.0), "seconds in {}"),
        easing: easing,
    }

    pub(crate) struct RawKeyframe {
        t: num,
        offset: pair in within(Abs(2.0), "fractions of the canvas, {}"),
        scale: num in within(In(0.0, 10.0), "{} (1 = as placed)"),
        rotation: num in within(In(-3600.0, 3600.0), "degrees"),
        opacity: num in within(In(0.0, 1.0), "{}"),
        easing: easing,
    }
}
