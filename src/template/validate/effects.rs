//! Grading and finishing effects, fades and LUT files.

use super::*;

impl V<'_> {
    pub(super) fn fades(
        &mut self,
        fade_in: Ranged<'_, f64>,
        fade_out: Ranged<'_, f64>,
        duration: f64,
        what: &str,
    ) -> (f64, f64) {
        let a = self.num(fade_in, "fade_in", 0.0);
        let b = self.num(fade_out, "fade_out", 0.0);
        if duration > 0.0 && a + b > duration + 1e-9 {
            let span = fade_out
                .value
                .or(fade_in.value)
                .map(|s| s.span.clone())
                .unwrap_or_default();
            self.err(
                &span,
                format!(
                    "{what}: fade_in + fade_out ({} s) is longer than the video ({} s)",
                    fmt_secs(a + b),
                    fmt_secs(duration)
                ),
                Some("shorten the fades".to_string()),
            );
        }
        (a, b)
    }

    /// One `[[effects]]` option.
    pub(super) fn effect(&mut self, e: &RawEffects, id: String, duration: f64) -> Effects {
        let grade = e.grade.as_ref().map(|g| Grade {
            brightness: self.num(g.brightness(), "brightness", 0.0) as f32,
            contrast: self.num(g.contrast(), "contrast", 1.0) as f32,
            saturation: self.num(g.saturation(), "saturation", 1.0) as f32,
            temperature: self.num(g.temperature(), "temperature", 0.0) as f32,
            tint: self.num(g.tint(), "tint", 0.0) as f32,
        });
        let lut = e.lut.as_ref().and_then(|l| self.lut(l));
        self.licence(
            e.licence.as_ref(),
            lut.as_ref().map(|l| l.path.as_path()),
            &format!("effects `{id}` (its lut)"),
        );
        let lut_strength = self.num(e.lut_strength(), "lut_strength", 1.0) as f32;
        if let (Some(s), None) = (&e.lut_strength, &e.lut) {
            self.err(
                &s.span,
                format!("effects `{id}`: lut_strength without a lut"),
                Some("add lut = \"looks/name.cube\", or remove lut_strength".to_string()),
            );
        }
        let vignette = e.vignette.as_ref().map(|v| self.vignette(v));
        let blur = e.blur.as_ref().map(|b| self.blur(b));
        let grain = e.grain.as_ref().map(|g| self.grain(g));
        let sharpen = e.sharpen.as_ref().map(|s| self.sharpen(s));
        let (fade_in, fade_out) = self.fades(
            e.fade_in(),
            e.fade_out(),
            duration,
            &format!("effects `{id}`"),
        );
        Effects {
            id,
            grade,
            lut,
            lut_strength,
            vignette,
            blur,
            grain,
            sharpen,
            fade_in,
            fade_out,
        }
    }

    /// A `.cube` file, parsed once per run however many options and overrides use it.
    /// Problems inside it name the file and its line; `file` is where they sort.
    pub(super) fn lut(&mut self, file: &S<String>) -> Option<Arc<Lut>> {
        let path = self.asset(file)?;
        if let Some(l) = self.luts.get(&path) {
            return Some(l.clone());
        }
        match Lut::load(&path) {
            Ok(l) => {
                let l = Arc::new(l);
                self.luts.insert(path, l.clone());
                Some(l)
            }
            Err(e) => {
                let shown = self.root.join(&file.value);
                self.dx.in_file(
                    Severity::Error,
                    &shown,
                    e.line,
                    file.span.clone(),
                    format!("LUT: {}", e.message),
                    Some(e.hint),
                );
                None
            }
        }
    }

    fn vignette(&mut self, v: &RawVignette) -> Vignette {
        self.required(v.strength(), &v.span, "vignette", "0.4");
        Vignette {
            strength: self.num(v.strength(), "vignette strength", 0.0) as f32,
            radius: self.num(v.radius(), "vignette radius", 0.75) as f32,
            softness: self.num(v.softness(), "vignette softness", 0.5) as f32,
        }
    }

    fn blur(&mut self, b: &RawBlur) -> Blur {
        self.required(b.radius(), &b.span, "blur", "0.02");
        Blur {
            radius: self.num(b.radius(), "blur radius", 0.0) as f32,
            target: self.pick(
                b.target.as_ref(),
                "blur target",
                BlurTarget::NAMES,
                BlurTarget::Background,
            ),
        }
    }

    fn grain(&mut self, g: &RawGrain) -> Grain {
        self.required(g.amount(), &g.span, "grain", "0.3");
        let seed = self.whole(
            g.seed.as_ref(),
            |s| s >= 0,
            |s| format!("grain seed {s} is negative"),
            Some("expected an integer ≥ 0"),
        );
        Grain {
            amount: self.num(g.amount(), "grain amount", 0.0) as f32,
            seed: seed.unwrap_or(0) as u64,
            size: self.num(g.size(), "grain size", 1.0) as f32,
        }
    }

    fn sharpen(&mut self, s: &RawSharpen) -> Sharpen {
        self.required(s.amount(), &s.span, "sharpen", "0.5");
        Sharpen {
            amount: self.num(s.amount(), "sharpen amount", 0.0) as f32,
            radius: self.num(s.radius(), "sharpen radius", 1.0) as f32,
        }
    }
}
