//! XMP packets for stills: built and parsed here, embedded into JPEG/PNG/WebP byte streams
//! by hand so reading back does not depend on which library encoded the pixels.

use std::collections::BTreeMap;

/// Namespace of our properties; the prefix is `cf`.
pub(crate) const CF_NS: &str = "https://creative-factory.dev/ns/1.0/";
/// Namespace of the GB 45438-2025 implicit label (prefix `TC260`), as the TC260 practice
/// guide for the standard writes it in images: `<TC260:AIGC>{json}</TC260:AIGC>`.
pub(crate) const TC260_NS: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
const IPTC_EXT_NS: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
/// IPTC's term for a picture composed from parts some of which a model generated: our
/// outputs put generated assets among others, never a whole generated frame.
const COMPOSITE_WITH_AI: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";
const JPEG_XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const PNG_XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp";

/// Why a stamp could not be stored as XMP in a still.
#[derive(Debug, thiserror::Error)]
pub enum XmpError {
    #[error("stamp key `{0}` is not a plain ASCII identifier")]
    BadKey(String),
    #[error("stamp value for `{key}`: control character U+{code:04X} cannot be stored in XMP")]
    ControlCharacter { key: String, code: u32 },
    /// The image encoder's output is not the container we were told it is.
    #[error("encoder output is not a {0}")]
    NotContainer(&'static str),
    #[error("XMP packet of {0} bytes does not fit one JPEG APP1 segment (64 KB)")]
    TooLargeForJpeg(usize),
}

/// Stamp keys become XML element names and MP4 `mdta` keys, so they are restricted to
/// `[A-Za-z_][A-Za-z0-9_.-]*`.
pub(crate) fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `v` escaped for XML text, or the first character XMP cannot hold.
fn escape(v: &str) -> Result<String, char> {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            // Kept as references: XML parsers normalise literal CR/CRLF to LF.
            '\t' | '\n' | '\r' => s.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => return Err(c),
            c => s.push(c),
        }
    }
    Ok(s)
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let ent = &after[..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse::<u32>().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A complete XMP packet (with `<?xpacket?>` wrapper) holding one `cf:` property per entry,
/// except the GB 45438-2025 label (`AIGC`), which goes where readers of that standard look:
/// `TC260:AIGC`, with IPTC's digital source type beside it for readers outside China.
pub(crate) fn build_packet(props: &BTreeMap<String, String>) -> Result<String, XmpError> {
    let mut body = String::new();
    let mut namespaces = format!("xmlns:cf=\"{CF_NS}\"");
    for (k, v) in props {
        if !valid_key(k) {
            return Err(XmpError::BadKey(k.clone()));
        }
        let v = escape(v).map_err(|c| XmpError::ControlCharacter {
            key: k.clone(),
            code: c as u32,
        })?;
        if k == super::AIGC_KEY {
            namespaces.push_str(&format!(
                "\n    xmlns:TC260=\"{TC260_NS}\"\n    xmlns:Iptc4xmpExt=\"{IPTC_EXT_NS}\""
            ));
            body.push_str(&format!("   <TC260:{k}>{v}</TC260:{k}>\n"));
            body.push_str(&format!(
                "   <Iptc4xmpExt:DigitalSourceType>{COMPOSITE_WITH_AI}</Iptc4xmpExt:DigitalSourceType>\n"
            ));
        } else {
            body.push_str(&format!("   <cf:{k}>{v}</cf:{k}>\n"));
        }
    }
    Ok(format!(
        "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
         <rdf:Description rdf:about=\"\" {namespaces}>\n\
         {body}  </rdf:Description>\n \
         </rdf:RDF>\n\
         </x:xmpmeta>\n\
         <?xpacket end=\"w\"?>"
    ))
}

/// Reads our properties back from an XMP packet. Tolerant of rewrites by other tools: the
/// namespace may be bound to another prefix, and simple properties may be written either as
/// elements (`<cf:k>v</cf:k>`) or as attributes (`cf:k="v"`).
/// The GB 45438-2025 label (`TC260:AIGC`) reads back as the `AIGC` key, whoever wrote it.
pub(crate) fn parse_packet(xmp: &str) -> BTreeMap<String, String> {
    let mut out = properties(xmp, CF_NS);
    if let Some(label) = properties(xmp, TC260_NS).remove(super::AIGC_KEY) {
        out.insert(super::AIGC_KEY.to_string(), label);
    }
    out
}

/// Simple properties of namespace `ns`, by local name.
fn properties(xmp: &str, ns: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut prefixes = Vec::new();
    for q in ['"', '\''] {
        let needle = format!("={q}{ns}{q}");
        let mut from = 0;
        while let Some(i) = xmp[from..].find(&needle) {
            let at = from + i;
            let before = &xmp[..at];
            if let Some(j) = before.rfind("xmlns:") {
                let p = before[j + 6..].trim();
                if !p.is_empty() && valid_key(p) {
                    prefixes.push(p.to_string());
                }
            }
            from = at + needle.len();
        }
    }
    prefixes.sort();
    prefixes.dedup();
    for p in &prefixes {
        let open = format!("<{p}:");
        let mut from = 0;
        while let Some(i) = xmp[from..].find(&open) {
            let start = from + i + open.len();
            from = start;
            let name_len = xmp[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
                .unwrap_or(0);
            let name = &xmp[start..start + name_len];
            let rest = &xmp[start + name_len..];
            if name.is_empty() {
                continue;
            }
            let Some(gt) = rest.find('>') else { break };
            if rest[..gt].ends_with('/') {
                out.insert(name.to_string(), String::new());
                continue;
            }
            let close = format!("</{p}:{name}>");
            if let Some(end) = rest[gt + 1..].find(&close) {
                let value = &rest[gt + 1..gt + 1 + end];
                if !value.contains('<') {
                    out.insert(name.to_string(), unescape(value));
                }
            }
        }
        let attr = format!("{p}:");
        let mut from = 0;
        while let Some(i) = xmp[from..].find(&attr) {
            let at = from + i;
            from = at + attr.len();
            // Attribute form only: preceded by whitespace, followed by name="…".
            if !xmp[..at].ends_with(|c: char| c.is_whitespace()) {
                continue;
            }
            let rest = &xmp[from..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
                .unwrap_or(0);
            let name = &rest[..name_len];
            let after = rest[name_len..].trim_start();
            let Some(after) = after.strip_prefix('=') else {
                continue;
            };
            let after = after.trim_start();
            let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            if let Some(end) = after[1..].find(q) {
                if !name.is_empty() {
                    out.insert(name.to_string(), unescape(&after[1..1 + end]));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------- containers

pub(crate) fn jpeg_insert(jpeg: &[u8], xmp: &str) -> Result<Vec<u8>, XmpError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(XmpError::NotContainer("JPEG"));
    }
    let len = 2 + JPEG_XMP_HEADER.len() + xmp.len();
    if len > 0xFFFF {
        return Err(XmpError::TooLargeForJpeg(xmp.len()));
    }
    // JFIF requires its APP0 right after SOI, so XMP goes after it.
    let mut at = 2;
    if jpeg.len() > 4 && jpeg[2] == 0xFF && jpeg[3] == 0xE0 {
        at = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    }
    let mut out = Vec::with_capacity(jpeg.len() + len + 2);
    out.extend_from_slice(&jpeg[..at]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(JPEG_XMP_HEADER);
    out.extend_from_slice(xmp.as_bytes());
    out.extend_from_slice(&jpeg[at..]);
    Ok(out)
}

fn jpeg_extract(b: &[u8]) -> Option<String> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan: metadata segments come before it
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        let seg = b.get(i + 4..i + 2 + len)?;
        if marker == 0xE1 && seg.starts_with(JPEG_XMP_HEADER) {
            return String::from_utf8(seg[JPEG_XMP_HEADER.len()..].to_vec()).ok();
        }
        i += 2 + len;
    }
    None
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for p in parts {
        for &b in *p {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
    }
    !c
}

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(crate) fn png_insert(png: &[u8], xmp: &str) -> Result<Vec<u8>, XmpError> {
    if !png.starts_with(PNG_SIG) || png.len() < 33 {
        return Err(XmpError::NotContainer("PNG"));
    }
    // iTXt: keyword NUL, compression flag 0, method 0, empty language tag NUL, empty
    // translated keyword NUL, then the UTF-8 text uncompressed (as XMP readers expect).
    let mut data = Vec::with_capacity(xmp.len() + 24);
    data.extend_from_slice(PNG_XMP_KEYWORD);
    data.extend_from_slice(&[0, 0, 0, 0, 0]);
    data.extend_from_slice(xmp.as_bytes());
    // Right after IHDR (8-byte signature + 25-byte IHDR chunk): before any IDAT.
    let at = 33;
    let mut out = Vec::with_capacity(png.len() + data.len() + 12);
    out.extend_from_slice(&png[..at]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(b"iTXt");
    out.extend_from_slice(&data);
    out.extend_from_slice(&crc32(&[b"iTXt", &data]).to_be_bytes());
    out.extend_from_slice(&png[at..]);
    Ok(out)
}

fn png_extract(b: &[u8]) -> Option<String> {
    let mut i = PNG_SIG.len();
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes(b[i..i + 4].try_into().ok()?) as usize;
        let kind = &b[i + 4..i + 8];
        let data = b.get(i + 8..i + 8 + len)?;
        if kind == b"iTXt"
            && data.starts_with(PNG_XMP_KEYWORD)
            && data.get(PNG_XMP_KEYWORD.len()) == Some(&0)
        {
            let rest = &data[PNG_XMP_KEYWORD.len() + 1..];
            if rest.first() == Some(&0) {
                // Uncompressed: skip flag, method, language tag and translated keyword.
                let rest = &rest[2..];
                let lang_end = rest.iter().position(|&c| c == 0)?;
                let rest = &rest[lang_end + 1..];
                let tk_end = rest.iter().position(|&c| c == 0)?;
                return String::from_utf8(rest[tk_end + 1..].to_vec()).ok();
            }
            // Compressed iTXt is legal but we never write it; not supported on read.
            return None;
        }
        if kind == b"IEND" {
            return None;
        }
        i += 12 + len;
    }
    None
}

/// RIFF chunks of a WebP file: (fourcc, payload).
fn webp_chunks(b: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return None;
    }
    let end = (8 + u32::from_le_bytes(b[4..8].try_into().ok()?) as usize).min(b.len());
    let mut chunks = Vec::new();
    let mut i = 12;
    while i + 8 <= end {
        let fourcc: [u8; 4] = b[i..i + 4].try_into().ok()?;
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().ok()?) as usize;
        let data = b.get(i + 8..i + 8 + len)?;
        chunks.push((fourcc, data));
        i += 8 + len + (len & 1);
    }
    Some(chunks)
}

/// Rewrites a WebP file as an extended (VP8X) file with an `XMP ` chunk at the end, as the
/// container spec orders it. `width`/`height` fill the VP8X canvas when the input was simple.
pub(crate) fn webp_insert(
    webp: &[u8],
    xmp: &str,
    width: u32,
    height: u32,
    has_alpha: bool,
) -> Result<Vec<u8>, XmpError> {
    let chunks = webp_chunks(webp).ok_or(XmpError::NotContainer("WebP file"))?;
    let mut body: Vec<u8> = b"WEBP".to_vec();
    let push = |body: &mut Vec<u8>, fourcc: &[u8], data: &[u8]| {
        body.extend_from_slice(fourcc);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    };
    const XMP_FLAG: u8 = 0x04;
    const ALPHA_FLAG: u8 = 0x10;
    match chunks.first() {
        Some(([b'V', b'P', b'8', b'X'], d)) => {
            let mut vp8x = d.to_vec();
            vp8x[0] |= XMP_FLAG;
            push(&mut body, b"VP8X", &vp8x);
        }
        _ => {
            let mut vp8x = vec![0u8; 10];
            vp8x[0] = XMP_FLAG | if has_alpha { ALPHA_FLAG } else { 0 };
            vp8x[4..7].copy_from_slice(&(width - 1).to_le_bytes()[..3]);
            vp8x[7..10].copy_from_slice(&(height - 1).to_le_bytes()[..3]);
            push(&mut body, b"VP8X", &vp8x);
        }
    }
    for (f, d) in chunks.iter().filter(|(f, _)| f != b"VP8X" && f != b"XMP ") {
        push(&mut body, f, d);
    }
    push(&mut body, b"XMP ", xmp.as_bytes());
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn webp_extract(b: &[u8]) -> Option<String> {
    let (_, data) = webp_chunks(b)?.into_iter().find(|(f, _)| f == b"XMP ")?;
    String::from_utf8(data.to_vec()).ok()
}

/// The XMP packet of a JPEG, PNG or WebP file, found by walking the container's own
/// structure (APP1 segments, chunks), not by scanning pixel data.
pub(crate) fn extract(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_extract(bytes)
    } else if bytes.starts_with(PNG_SIG) {
        png_extract(bytes)
    } else if bytes.starts_with(b"RIFF") {
        webp_extract(bytes)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, String> {
        [
            ("variant_id", "v-01"),
            ("subtitle", "اركض بخفة"),
            ("copy_zh", "轻盈每一步"),
            (
                "tracking_url",
                "https://shop.example.com/p?utm_source=tiktok&utm_medium=paid_social",
            ),
            ("quirky", "<a> & \"b\" 'c'\nline2\tx\r"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn packet_round_trips_escapes_and_unicode() {
        let p = build_packet(&sample()).unwrap();
        assert!(p.contains("xmlns:cf=\"https://creative-factory.dev/ns/1.0/\""));
        assert!(p.contains("&amp;utm_medium"));
        assert_eq!(parse_packet(&p), sample());
    }

    #[test]
    fn aigc_label_is_written_as_tc260_and_read_back_as_aigc() {
        let mut m = sample();
        m.insert("AIGC".into(), r#"{"Label":"1","ProduceID":"v-01"}"#.into());
        let p = build_packet(&m).unwrap();
        assert!(p.contains(&format!("xmlns:TC260=\"{TC260_NS}\"")));
        assert!(p.contains("<TC260:AIGC>{&quot;Label&quot;:&quot;1&quot;"));
        assert!(!p.contains("<cf:AIGC>"));
        assert!(p.contains(COMPOSITE_WITH_AI));
        assert_eq!(parse_packet(&p), m);
        // Without the label, no trace of it.
        let plain = build_packet(&sample()).unwrap();
        assert!(!plain.contains("TC260") && !plain.contains("DigitalSourceType"));
    }

    #[test]
    fn parser_accepts_attribute_form_and_other_prefix() {
        let x = format!(
            "<x:xmpmeta><rdf:RDF><rdf:Description rdf:about='' xmlns:zz='{CF_NS}' zz:variant_id='a&amp;b' \
             zz:n=\"&#x4E2D;\"/><rdf:Description xmlns:other='urn:x' other:variant_id='no'/></rdf:RDF></x:xmpmeta>"
        );
        let m = parse_packet(&x);
        assert_eq!(m.get("variant_id").map(String::as_str), Some("a&b"));
        assert_eq!(m.get("n").map(String::as_str), Some("中"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn rejects_bad_keys_and_control_characters() {
        let mut m = BTreeMap::new();
        m.insert("bad key".to_string(), "x".to_string());
        assert!(build_packet(&m).is_err());
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "a\u{7}b".to_string());
        assert!(build_packet(&m).unwrap_err().to_string().contains("U+0007"));
    }

    #[test]
    fn crc_matches_png_reference() {
        // CRC of the IEND chunk type, fixed by the PNG spec.
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
    }

    #[test]
    fn unescape_leaves_unknown_entities_alone() {
        assert_eq!(unescape("a &foo; &amp; &#65; & b"), "a &foo; & A & b");
    }
}
