//! The forms a held secret takes when a tool writes it somewhere: the one definition the image
//! scan ([`crate::scan`]) searches for and the output masking ([`crate::redact::Redactor`])
//! replaces.
//!
//! For each value: the value itself and its trimmed form (a `--secret` file usually ends in a
//! newline), each line of a multi-line value that is long enough and has no white space to be a
//! secret on its own (a key body line, a token), and for each of those:
//!
//! - percent-encoded as URL userinfo carries it: every reserved byte encoded (`quote(s, safe="")`),
//!   Python's `urllib.parse.quote` (keeps `/`), `quote_plus` (space as `+`) and JavaScript's
//!   `encodeURIComponent` (keeps `!~*'()`), in upper and lower case hex;
//! - JSON-escaped (`\"`, `\\`, `\n`, `\u00XX`; also with `\/`, and with non-ASCII as `\uXXXX`
//!   as Python's `json.dumps` writes it);
//! - base64 in the standard and URL-safe alphabets, padded or not, and the characters that depend
//!   only on the value at each of the three alignments it can have inside a longer base64 text;
//! - hex as `xxd -p` and `hexlify` write it (lower and upper case), and byte-separated as
//!   `od -An -tx1` and `hexdump -C` print it (` 73 65 63`);
//! - with a login, `base64(login:value)` as HTTP basic auth and a docker config `auth` carry it.
//!
//! Tools wrap base64 (`base64` at 76 columns, MIME at 76 with CRLF) and hex (`xxd -p` at 60, `od`
//! at 16 bytes a line), so every form is meant to be searched in text with its line breaks
//! removed: [`strip_line_breaks`] gives that view of a text, and [`Form::needle`] each form the
//! same way. Masking gets the raw forms and, for wrapped output, [`FragmentIndex`] finds a line
//! that is one piece of a wrapped form so the whole run is masked, tail included.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Values shorter than this are neither searched nor masked: they would match everywhere.
pub const MIN_SECRET_LEN: usize = 4;

/// A line of a multi-line value is a form of its own from this length, when it has no white
/// space (a key body line, a token on a line of its own); shorter lines and lines with spaces
/// (`machine host`, `-----END KEY-----`) would match unrelated text.
const MIN_LINE_FORM: usize = 16;

/// Shifted base64 cores shorter than this are left out: too short to mean anything.
const MIN_BASE64_CORE: usize = 6;

/// A line of output that is this long and a piece of a wrapped form is masked whole.
pub const MIN_FRAGMENT: usize = 16;

/// The last line of a wrapped form (its tail) is masked from this length.
pub const MIN_TAIL_FRAGMENT: usize = 8;

/// One way a secret can be written.
#[derive(Clone, PartialEq, Eq)]
pub struct Form {
    /// The bytes as the tool writes them (before any line wrapping).
    pub bytes: Vec<u8>,
    /// Whether tools wrap this form across lines (base64 and hex): masking then looks for its
    /// pieces line by line.
    pub wrappable: bool,
}

impl Form {
    /// The form as searched in a text whose line breaks were removed ([`strip_line_breaks`]).
    pub fn needle(&self) -> Vec<u8> {
        self.bytes
            .iter()
            .copied()
            .filter(|&b| b != b'\n' && b != b'\r')
            .collect()
    }
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("len", &self.bytes.len())
            .field("wrappable", &self.wrappable)
            .finish_non_exhaustive()
    }
}

impl Drop for Form {
    fn drop(&mut self) {
        self.bytes.fill(0);
    }
}

/// Every form of `value` (and of `login:value` in base64 when a login goes with it), without
/// duplicates. Empty when the value is shorter than [`MIN_SECRET_LEN`].
pub fn forms(value: &[u8], login: Option<&[u8]>) -> Vec<Form> {
    let mut out = Forms::default();
    if value.len() < MIN_SECRET_LEN {
        return out.0;
    }
    let trimmed = value.trim_ascii();
    let mut bases: Vec<&[u8]> = vec![value];
    if trimmed != value && trimmed.len() >= MIN_SECRET_LEN {
        bases.push(trimmed);
    }
    if trimmed.contains(&b'\n') {
        for line in trimmed.split(|&b| b == b'\n') {
            let line = line.trim_ascii();
            if line.len() >= MIN_LINE_FORM && !line.iter().any(u8::is_ascii_whitespace) {
                bases.push(line);
            }
        }
    }
    for base in &bases {
        out.add_all(base);
    }
    if let Some(login) = login {
        for base in [value, trimmed] {
            let mut pair = login.to_vec();
            pair.push(b':');
            pair.extend_from_slice(base);
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                out.push(engine.encode(&pair).into_bytes(), true);
            }
            pair.fill(0);
        }
    }
    out.0
}

#[derive(Default)]
struct Forms(Vec<Form>);

impl Forms {
    fn push(&mut self, bytes: Vec<u8>, wrappable: bool) {
        if bytes.len() < MIN_SECRET_LEN || self.0.iter().any(|f| f.bytes == bytes) {
            return;
        }
        self.0.push(Form { bytes, wrappable });
    }

    fn add_all(&mut self, value: &[u8]) {
        self.push(value.to_vec(), false);
        for style in [
            Percent::AllReserved,
            Percent::PythonQuote,
            Percent::PythonQuotePlus,
            Percent::UriComponent,
        ] {
            for upper in [true, false] {
                self.push(percent_encode(value, style, upper), false);
            }
        }
        for json in json_escapes(value) {
            self.push(json, false);
        }
        for engine in [&STANDARD, &URL_SAFE] {
            self.push(engine.encode(value).into_bytes(), true);
        }
        for shift in 0..3 {
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let core = base64_core(engine, value, shift);
                if core.len() >= MIN_BASE64_CORE {
                    self.push(core, true);
                }
            }
        }
        self.push(hex(value, false, ""), true);
        self.push(hex(value, true, ""), true);
        // `od -An -tx1` puts a space before each byte, `hexdump -C` after: the bytes joined by
        // single spaces is inside both (a `hexdump -C` line's middle double space aside).
        self.push(hex(value, false, " "), true);
    }
}

/// Percent-encoding rules: which bytes stay as they are.
#[derive(Clone, Copy)]
enum Percent {
    /// RFC 3986's unreserved set only (`quote(s, safe="")`, most URL builders).
    AllReserved,
    /// Python's `urllib.parse.quote(s)`: unreserved and `/`.
    PythonQuote,
    /// `quote_plus`: unreserved, and space as `+`.
    PythonQuotePlus,
    /// JavaScript's `encodeURIComponent`: unreserved and `!*'()`.
    UriComponent,
}

fn percent_encode(value: &[u8], style: Percent, upper: bool) -> Vec<u8> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || match style {
                Percent::AllReserved | Percent::PythonQuotePlus => false,
                Percent::PythonQuote => b == b'/',
                Percent::UriComponent => matches!(b, b'!' | b'*' | b'\'' | b'(' | b')'),
            };
        if keep {
            out.push(b);
        } else if b == b' ' && matches!(style, Percent::PythonQuotePlus) {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
    }
    out
}

/// The value as a JSON string's content, in the spellings JSON writers use.
fn json_escapes(value: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Vec::new();
    };
    let escape = |slash: bool, ascii: bool| {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if slash => out.push_str("\\/"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if ascii && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.into_bytes()
    };
    let mut out = Vec::new();
    for (slash, ascii) in [(false, false), (true, false), (false, true), (true, true)] {
        let escaped = escape(slash, ascii);
        if escaped != value && !out.contains(&escaped) {
            out.push(escaped);
        }
    }
    out
}

/// The base64 characters that depend only on `value` when it starts `shift` bytes into a
/// 3-byte group of a longer text.
fn base64_core(engine: &base64::engine::GeneralPurpose, value: &[u8], shift: usize) -> Vec<u8> {
    let mut padded = vec![0u8; shift];
    padded.extend_from_slice(value);
    let encoded = engine.encode(&padded).into_bytes();
    let first = (8 * shift).div_ceil(6);
    let end = (8 * (shift + value.len())) / 6;
    encoded.get(first..end).unwrap_or_default().to_vec()
}

fn hex(value: &[u8], upper: bool, separator: &str) -> Vec<u8> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = Vec::with_capacity(value.len() * (2 + separator.len()));
    for (i, &b) in value.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(separator.as_bytes());
        }
        out.extend_from_slice(&[digits[usize::from(b >> 4)], digits[usize::from(b & 15)]]);
    }
    out
}

/// `text` with every `\n` and `\r` removed: the view in which wrapped forms are contiguous.
/// Borrowed when there is nothing to remove.
pub fn strip_line_breaks<'a>(text: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
    if memchr::memchr2(b'\n', b'\r', text).is_none() {
        return text;
    }
    out.clear();
    let mut rest = text;
    while let Some(i) = memchr::memchr2(b'\n', b'\r', rest) {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out
}

/// Finds the pieces of wrapped forms in lines of output: a run of base64 or hex characters (or
/// `od`-style ` xx` bytes) that is part of a wrappable form is masked whole, the short last line
/// of a wrapped form too.
#[derive(Clone, Default)]
pub struct FragmentIndex {
    /// Every wrappable form, each followed by a `\n`; `od`-style forms in their contiguous hex.
    haystack: Vec<u8>,
}

impl FragmentIndex {
    /// Adds the wrappable forms of `forms`.
    pub fn add(&mut self, forms: &[Form]) {
        for form in forms.iter().filter(|f| f.wrappable) {
            if form.bytes.contains(&b' ') {
                // The spaced hex is found through its contiguous form.
                continue;
            }
            self.haystack.extend_from_slice(&form.bytes);
            self.haystack.push(b'\n');
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.haystack.is_empty()
    }

    /// The byte ranges of `line` that are pieces of a wrapped form, in order.
    pub fn find(&self, line: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if self.haystack.is_empty() {
            return out;
        }
        let mut at = 0;
        while at < line.len() {
            if let Some((start, end, piece)) = next_run(line, at) {
                if self.is_piece(&piece) {
                    out.push((start, end));
                }
                at = end.max(start + 1);
            } else {
                break;
            }
        }
        out
    }

    fn is_piece(&self, piece: &[u8]) -> bool {
        let core = trim_padding(piece);
        if core.len() >= MIN_FRAGMENT {
            return memchr::memmem::find(&self.haystack, core).is_some();
        }
        if core.len() >= MIN_TAIL_FRAGMENT {
            // A tail: the end of a form, its padding aside.
            return memchr::memmem::find_iter(&self.haystack, core).any(|i| {
                let after = &self.haystack[i + core.len()..];
                let padding = after.iter().take_while(|&&b| b == b'=').count();
                after.get(padding) == Some(&b'\n')
            });
        }
        false
    }
}

impl std::fmt::Debug for FragmentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentIndex")
            .field("bytes", &self.haystack.len())
            .finish_non_exhaustive()
    }
}

fn trim_padding(piece: &[u8]) -> &[u8] {
    let end = piece.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    &piece[..end]
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// The next run at or after `at`: a maximal run of base64 / hex characters, or of `od`-style
/// ` xx` bytes (returned as contiguous hex). `(start, end, the run's characters)`.
fn next_run(line: &[u8], at: usize) -> Option<(usize, usize, Vec<u8>)> {
    let start = at + line[at..].iter().position(|&b| is_run_byte(b))?;
    if let Some((end, hex)) = spaced_hex(line, start) {
        return Some((start, end, hex));
    }
    let end = start
        + line[start..]
            .iter()
            .take_while(|&&b| is_run_byte(b))
            .count();
    Some((start, end, line[start..end].to_vec()))
}

/// `od` / `hexdump -C` bytes at `start` (`xx xx xx`, single spaces between), at least
/// [`MIN_TAIL_FRAGMENT`] / 2 of them: where they end, and their contiguous hex.
fn spaced_hex(line: &[u8], start: usize) -> Option<(usize, Vec<u8>)> {
    let is_byte = |at: usize| {
        line.get(at..at + 2)
            .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit))
            && line.get(at + 2).is_none_or(|&b| b == b' ')
    };
    let mut hex = Vec::new();
    let mut end = start;
    while is_byte(end) {
        hex.extend_from_slice(&line[end..end + 2]);
        end += 2;
        if !is_byte(end + 1) {
            break;
        }
        end += 1;
    }
    (hex.len() >= MIN_TAIL_FRAGMENT).then_some((end, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(value: &str, login: Option<&str>) -> Vec<Vec<u8>> {
        forms(value.as_bytes(), login.map(str::as_bytes))
            .iter()
            .map(Form::needle)
            .collect()
    }

    /// Whether `written`, with its line breaks removed, contains a form of `value`.
    fn found(value: &str, written: &[u8]) -> bool {
        let mut buf = Vec::new();
        let view = strip_line_breaks(written, &mut buf);
        needles(value, None)
            .iter()
            .any(|n| memchr::memmem::find(view, n).is_some())
    }

    #[test]
    fn short_values_have_no_forms() {
        assert!(forms(b"abc", None).is_empty());
        assert!(forms(b"  \n", None).is_empty());
    }

    #[test]
    fn trimmed_form_of_a_secret_file_with_a_newline() {
        assert!(found("s3cr3t-token\n", b"export TOKEN=s3cr3t-token;"));
        assert!(found("s3cr3t-token\r\n", b"s3cr3t-token"));
    }

    #[test]
    fn base64_wrapped_at_any_width() {
        let value = "machine idx login acme password Zq8-very-long-password-0123456789\n";
        let encoded = STANDARD.encode(value);
        for width in [60, 64, 76] {
            let wrapped: Vec<u8> = encoded
                .as_bytes()
                .chunks(width)
                .flat_map(|c| c.iter().copied().chain(*b"\n"))
                .collect();
            assert!(found(value, &wrapped), "width {width}");
            let crlf: Vec<u8> = encoded
                .as_bytes()
                .chunks(width)
                .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
                .collect();
            assert!(found(value, &crlf), "width {width} crlf");
        }
    }

    #[test]
    fn base64_inside_a_longer_text_at_every_alignment() {
        let value = "hunter2-secret";
        for prefix in ["", "a", "ab", "abc"] {
            let encoded = STANDARD_NO_PAD.encode(format!("{prefix}{value}xyz"));
            assert!(found(value, encoded.as_bytes()), "prefix {prefix:?}");
        }
    }

    #[test]
    fn percent_encodings_real_tools_write() {
        let value = "p@ss/w rd!(x)";
        for written in [
            "p%40ss%2Fw%20rd%21%28x%29", // quote(safe="")
            "p%40ss/w%20rd%21%28x%29",   // urllib.parse.quote
            "p%40ss%2Fw+rd%21%28x%29",   // quote_plus
            "p%40ss%2Fw%20rd!(x)",       // encodeURIComponent
            "p%40ss%2fw%20rd%21%28x%29", // lower case
        ] {
            assert!(found(value, written.as_bytes()), "{written}");
        }
    }

    #[test]
    fn hex_as_xxd_od_and_hexdump_print_it() {
        let value = "a-secret-of-forty-bytes-to-wrap-the-dump";
        let hex_lower: String = value.bytes().map(|b| format!("{b:02x}")).collect();
        // xxd -p: 60 columns.
        let xxd: Vec<u8> = hex_lower
            .as_bytes()
            .chunks(60)
            .flat_map(|c| c.iter().copied().chain(*b"\n"))
            .collect();
        assert!(found(value, &xxd));
        assert!(found(value, hex_lower.to_uppercase().as_bytes()));
        // od -An -tx1: 16 bytes a line, each byte after a space.
        let od: String = value
            .as_bytes()
            .chunks(16)
            .map(|c| c.iter().map(|b| format!(" {b:02x}")).collect::<String>() + "\n")
            .collect();
        assert!(found(value, od.as_bytes()));
    }

    #[test]
    fn json_escaped() {
        let value = "pa\"ss\\wo/rd\n";
        assert!(found(value, br#"{"password": "pa\"ss\\wo/rd"}"#));
        assert!(found(value, br#"{"password": "pa\"ss\\wo\/rd\n"}"#));
        assert!(found("pässwörd", br#""p\u00e4ssw\u00f6rd""#));
    }

    #[test]
    fn login_pair_in_base64() {
        let auth = STANDARD.encode("acme:hunter2-pw");
        let n = needles("hunter2-pw", Some("acme"));
        assert!(n.contains(&auth.into_bytes()));
    }

    #[test]
    fn key_body_lines_are_forms_of_their_own() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
        assert!(found(key, b"x MIIEvQIBADANBgkqhkiG9w0BAQEFAASC y"));
        // Framing and short lines are not.
        let n = needles(key, None);
        assert!(!n.contains(&b"-----END PRIVATE KEY-----".to_vec()));
        let netrc = "machine pypi.example.com\nlogin acme\npassword hunter2-pw\n";
        assert!(!needles(netrc, None).contains(&b"machine pypi.example.com".to_vec()));
    }

    #[test]
    fn fragments_of_wrapped_base64_are_found_whole_tail_included() {
        let value = "machine idx login acme password Zq8-very-long-password-0123456789\n";
        let mut index = FragmentIndex::default();
        index.add(&forms(value.as_bytes(), None));
        let encoded = STANDARD.encode(value);
        let lines: Vec<&[u8]> = encoded.as_bytes().chunks(40).collect();
        for line in &lines {
            let text = [b"  ", *line, b" "].concat();
            let found = index.find(&text);
            assert_eq!(
                found,
                vec![(2, 2 + line.len())],
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(index.find(b"Successfully installed flask-3.0.0").is_empty());
        assert!(
            index
                .find(b"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
                .is_empty()
        );
    }

    #[test]
    fn fragments_of_od_output() {
        let value = "a-secret-of-forty-bytes-to-wrap-the-dump";
        let mut index = FragmentIndex::default();
        index.add(&forms(value.as_bytes(), None));
        let line: String = value.as_bytes()[16..32]
            .iter()
            .map(|b| format!(" {b:02x}"))
            .collect();
        let found = index.find(line.as_bytes());
        assert_eq!(found, vec![(1, line.len())]);
    }
}
