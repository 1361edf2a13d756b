//! Files the template reads or writes: relative, local, and inside the root.

use super::*;

/// `scheme:` with a scheme of 2+ letters (so `C:\…` stays a path), or `//host/…`.
pub(super) fn looks_like_url(s: &str) -> bool {
    if s.starts_with("//") || s.contains("://") {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() >= 2
                && scheme
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        }
        None => false,
    }
}

impl V<'_> {
    pub(super) fn reject_url(&mut self, v: &S<String>) -> bool {
        if looks_like_url(&v.value) {
            self.err(&v.span, format!("`{}` is a URL or stream, not a file", v.value), Some("download it next to the template and use a relative path; network inputs are not allowed".to_string()));
            return true;
        }
        false
    }

    /// An input file: relative to the template's directory, existing, a regular file, and
    /// (unless allowed) inside that directory after symlinks are resolved.
    pub(super) fn asset(&mut self, v: &S<String>) -> Option<PathBuf> {
        if self.reject_url(v) {
            return None;
        }
        if v.value.trim().is_empty() {
            self.err(
                &v.span,
                "empty path",
                Some("give a path relative to the template's directory".to_string()),
            );
            return None;
        }
        let path = self.root.join(&v.value);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => {
                self.err(
                    &v.span,
                    format!("missing asset `{}`", v.value),
                    Some(format!(
                        "looked for {}; paths are relative to the template's directory",
                        path.display()
                    )),
                );
                return None;
            }
        };
        if !meta.is_file() {
            self.err(
                &v.span,
                format!("asset `{}` is not a regular file", v.value),
                Some(format!("{} is a directory or device", path.display())),
            );
            return None;
        }
        let canon = path.canonicalize().unwrap_or(path);
        let resolves = format!("it resolves to {}; ", canon.display());
        if !self.inside_root(v, &canon, "asset", &resolves) {
            return None;
        }
        if !self.asset_refs.iter().any(|(p, _)| *p == canon) {
            self.asset_refs.push((canon.clone(), v.span.clone()));
        }
        Some(canon)
    }

    /// Whether `path` stays inside the root (or may leave it); otherwise "`what` `v` is outside
    /// the template's directory", with `lead` opening the hint.
    fn inside_root(&mut self, v: &S<String>, path: &Path, what: &str, lead: &str) -> bool {
        if self.opts.allow_outside_root || path.starts_with(&self.canon_root) {
            return true;
        }
        self.err(
            &v.span,
            format!("{what} `{}` is outside the template's directory", v.value),
            Some(format!(
                "{lead}move it under {} or pass --allow-outside-root",
                self.canon_root.display()
            )),
        );
        false
    }

    /// A file we will create (the dedup library): its directory must exist and stay inside root.
    pub(super) fn output_path(&mut self, v: &S<String>) -> Option<PathBuf> {
        if self.reject_url(v) {
            return None;
        }
        let path = self.root.join(&v.value);
        let Some(file_name) = path.file_name().map(|f| f.to_os_string()) else {
            self.err(
                &v.span,
                format!("`{}` does not name a file", v.value),
                Some("e.g. library = \"library.db\"".to_string()),
            );
            return None;
        };
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let Ok(canon_parent) = parent.canonicalize() else {
            self.err(
                &v.span,
                format!("the directory of `{}` does not exist", v.value),
                Some(format!("create {} first", parent.display())),
            );
            return None;
        };
        self.inside_root(v, &canon_parent, "library", "")
            .then(|| canon_parent.join(file_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_protocols_are_recognised() {
        for s in [
            "http://x/a.mp4",
            "rtmp://live/x",
            "concat:a.mp4|b.mp4",
            "pipe:0",
            "file:///etc/passwd",
            "//server/share/a.png",
        ] {
            assert!(looks_like_url(s), "{s}");
        }
        for s in ["samples/a.png", "C:\\media\\a.png", "../a.png", "a:b/c.png"] {
            // `a:b` has a one-letter scheme, like a drive letter, so it is a path.
            assert!(!looks_like_url(s), "{s}");
        }
    }
}
