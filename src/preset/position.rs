//! Byte offset → editor position, for preset issues and template diagnostics alike.
//!
//! It lives here, the lower layer, so that `template` may use `preset` and never the other
//! way round.

/// 1-based (line, column) of a byte offset; the column counts characters, as editors do.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, source[line_start..offset].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let s = "a = 1\nπ = \"x\"\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        // `=` after the two-byte `π` and a space is the third character.
        assert_eq!(line_col(s, 9), (2, 3));
        // Inside `π`: the column of `π` itself.
        assert_eq!(line_col(s, 7), (2, 1));
    }
}
