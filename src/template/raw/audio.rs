//! Music, voice-over, ducking and sound effects as written.

use super::schema::{within, Bound::In, SECONDS};

raw_table! {
    pub struct RawAudio {
        id: str = "id",
        source: str = "source",
        volume: num = "volume" in within(In(0.0, 4.0), "a linear gain in {}"),
        start: num = "start" in SECONDS,
        fade_in: num = "fade_in" in SECONDS,
        fade_out: num = "fade_out" in SECONDS,
        looped: bool = "loop",
        /// Locale → voice-over file, in file order; like copy, a plain path means `en`.
        voiceover: text = "voiceover",
        voiceover_start: num = "voiceover_start" in SECONDS,
        voiceover_volume: num = "voiceover_volume" in within(In(0.0, 4.0), "a linear gain in {}"),
        duck: table<RawDuck> = "duck",
        sfx: list<RawSfx> = "sfx",
    }

    pub struct RawDuck {
        amount_db: num = "amount_db" in within(In(-60.0, 0.0), "dB in {} (0 = no ducking)"),
        attack: num = "attack" in within(In(0.001, 2.0), "seconds in {}"),
        release: num = "release" in within(In(0.001, 5.0), "seconds in {}"),
    }

    pub struct RawSfx {
        source: str = "source",
        at: num = "at" in SECONDS,
        volume: num = "volume" in within(In(0.0, 4.0), "a linear gain in {}"),
        scene: str = "scene",
    }
}
