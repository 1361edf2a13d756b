//! Music, voice-over, ducking and sound effects.

use super::*;

impl V<'_> {
    /// One `[[audio]]` option.
    pub(super) fn audio(
        &mut self,
        a: &RawAudio,
        id: String,
        duration: f64,
        regions: &[Region],
    ) -> Audio {
        let source = a.source.as_ref().and_then(|s| self.asset(s));
        self.licence(
            a.licence.as_ref(),
            source.as_deref(),
            &format!("audio `{id}`"),
        );
        let volume = self.num(a.volume(), "volume", 1.0) as f32;
        let start = self.num(a.start(), "start", 0.0);
        let (fade_in, fade_out) = self.fades(
            a.fade_in(),
            a.fade_out(),
            duration,
            &format!("audio `{id}`"),
        );
        if a.source.is_none() {
            self.only_with(
                &[("start", span_of(&a.start)), ("loop", span_of(&a.looped))],
                |key| format!("`{key}` of audio `{id}` applies to music, and it has no `source`"),
                "add source = \"…\", or remove it",
            );
        }
        let voice = self.voiceover(a, &id, duration, regions);
        let sfx = a
            .sfx
            .iter()
            .flat_map(|l| &l.value)
            .filter_map(|e| self.sfx(e, &id, duration))
            .collect();
        let (voiceover, voiceover_start, voiceover_volume, duck) = voice;
        let looped = a.looped.as_ref().map(|l| l.value).unwrap_or(true);
        Audio {
            id,
            source,
            volume,
            start,
            fade_in,
            fade_out,
            looped,
            voiceover,
            voiceover_start,
            voiceover_volume,
            duck,
            sfx,
            ai_generated: flag(&a.ai_generated),
        }
    }

    /// A voice-over per locale, when to start it, how loud, and how far it ducks the music.
    fn voiceover(
        &mut self,
        a: &RawAudio,
        id: &str,
        duration: f64,
        regions: &[Region],
    ) -> (BTreeMap<String, PathBuf>, f64, f32, Option<Duck>) {
        let voiceover = self.voiceover_files(a, id, regions);
        let voiceover_start = self.num(a.voiceover_start(), "voiceover_start", 0.0);
        if let Some(s) = a
            .voiceover_start
            .as_ref()
            .filter(|_| duration > 0.0 && voiceover_start >= duration)
        {
            self.err(
                &s.span,
                format!(
                    "voice-over of audio `{id}` starts at {} s, when the video has ended ({} s)",
                    fmt_secs(voiceover_start),
                    fmt_secs(duration)
                ),
                None,
            );
        }
        let voiceover_volume = self.num(a.voiceover_volume(), "voiceover_volume", 1.0) as f32;
        let duck = if voiceover.is_empty() {
            None
        } else {
            self.duck(a.duck.as_ref())
        };
        (voiceover, voiceover_start, voiceover_volume, duck)
    }

    /// The voice-over file per locale; the keys that tune a voice-over are refused without one.
    fn voiceover_files(
        &mut self,
        a: &RawAudio,
        id: &str,
        regions: &[Region],
    ) -> BTreeMap<String, PathBuf> {
        let mut voiceover = BTreeMap::new();
        if let Some(vo) = &a.voiceover {
            for (loc, file) in &vo.value {
                self.locale(loc, LOCALE_EXAMPLES);
                if let Some(path) = self.asset(file) {
                    voiceover.insert(loc.value.clone(), path);
                }
            }
            if vo.value.is_empty() {
                self.err(&vo.span, format!("audio `{id}` has an empty `voiceover` table"), Some("name a file per locale, e.g. voiceover = { en = \"vo/en.wav\" }, or remove it".to_string()));
            }
            let what = Localised {
                option: "audio option",
                thing: "voice-over",
                example: "\"vo/….wav\"",
            };
            self.check_locales(&what, id, &vo.span, &voiceover, regions);
            for path in voiceover.values() {
                self.licence(
                    a.voiceover_licence.as_ref(),
                    Some(path),
                    &format!("the voice-over of audio `{id}`"),
                );
            }
        } else {
            self.licence(
                a.voiceover_licence.as_ref(),
                None,
                &format!("audio `{id}` (voiceover_licence)"),
            );
            let keys = [
                ("voiceover_start", span_of(&a.voiceover_start)),
                ("voiceover_volume", span_of(&a.voiceover_volume)),
                ("duck", a.duck.as_ref().map(|d| &d.span)),
            ];
            self.only_with(
                &keys,
                |key| format!("`{key}` of audio `{id}` applies to a voice-over, and it has none"),
                "add voiceover = { en = \"vo/en.wav\" }, or remove it",
            );
        }
        voiceover
    }

    /// How far the music ducks under a voice-over; `None` when it does not.
    fn duck(&mut self, d: Option<&RawDuck>) -> Option<Duck> {
        let dflt = Duck::default();
        let amount_db = self.num(
            d.map(RawDuck::amount_db),
            "amount_db",
            dflt.amount_db as f64,
        ) as f32;
        let attack = self.num(d.map(RawDuck::attack), "attack", dflt.attack as f64) as f32;
        let release = self.num(d.map(RawDuck::release), "release", dflt.release as f64) as f32;
        (amount_db < 0.0).then_some(Duck {
            amount_db,
            attack,
            release,
        })
    }

    fn sfx(&mut self, e: &RawSfx, id: &str, duration: f64) -> Option<Sfx> {
        let source = match &e.source {
            Some(s) => self.asset(s),
            None => {
                self.missing(
                    "source",
                    &e.span,
                    format!("a sound effect of audio `{id}` has no `source`"),
                    Some("e.g. { source = \"sfx/whoosh.wav\", at = 3.0 }".to_string()),
                );
                None
            }
        };
        self.licence(
            e.licence.as_ref(),
            source.as_deref(),
            &format!("a sound effect of audio `{id}`"),
        );
        let at = match &e.at {
            Some(t) if duration > 0.0 && t.value >= duration => {
                self.err(
                    &t.span,
                    format!(
                        "sound effect at {} s is after the video ends ({} s)",
                        fmt_secs(t.value),
                        fmt_secs(duration)
                    ),
                    Some("times are seconds from the start of the video".to_string()),
                );
                0.0
            }
            Some(_) => self.num(e.at(), "at", 0.0),
            None => {
                self.missing(
                    "at",
                    &e.span,
                    format!("a sound effect of audio `{id}` has no `at` time"),
                    Some("seconds into the video, e.g. at = 3.0".to_string()),
                );
                0.0
            }
        };
        let volume = self.num(e.volume(), "volume", 1.0) as f32;
        let scene = e.scene.as_ref().and_then(|s| {
            if self.scene_ids.contains(&s.value) {
                return Some(s.value.clone());
            }
            let hint = if self.scene_ids.is_empty() {
                "the template has no [[scene]]; use `at` alone (seconds of the video)".to_string()
            } else {
                let names: Vec<&str> = self.scene_ids.iter().map(String::as_str).collect();
                suggest(&s.value, &names, "scenes")
            };
            self.err(
                &s.span,
                format!(
                    "sound effect of audio `{id}` names unknown scene `{}`",
                    s.value
                ),
                Some(hint),
            );
            None
        });
        source.map(|source| Sfx {
            source,
            at,
            volume,
            scene,
        })
    }
}
