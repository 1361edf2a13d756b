//! Music, voice-over, ducking and sound effects as written.

use super::schema::{within, Bound::In, SECONDS};

raw_table! {
    pub(crate) struct RawAudio {
        id: str,
        licence: table<super::RawLicence>,
        source: str,
        volume: num in within(In(0.0, 4.0), "a linear gain in {}"),
        start: num in SECONDS,
        fade_in: num in SECONDS,
        fade_out: num in SECONDS,
        looped: bool = "loop",
        /// Locale → voice-over file, in file order; like copy, a plain path means `en`.
        voiceover: text,
        /// Covers every voice-over file of the option (the talent's contract).
        voiceover_licence: table<super::RawLicence>,
        voiceover_start: num in SECONDS,
        voiceover_volume: num in within(In(0.0, 4.0), "a linear gain in {}"),
        duck: table<RawDuck>,
        sfx: list<RawSfx>,
        ai_generated: bool,
    }

    pub(crate) struct RawDuck {
        amount_db: num in within(In(-60.0, 0.0), "dB in {} (0 = no ducking)"),
        attack: num in within(In(0.001, 2.0), "seconds in {}"),
        release: num in within(In(0.001, 5.0), "seconds in {}"),
    }

    pub(crate) struct RawSfx {
        source: str,
        licence: table<super::RawLicence>,
        at: num in SECONDS,
        volume: num in within(In(0.0, 4.0), "a linear gain in {}"),
        scene: str,
    }
}
