//! Masking secret values in everything the progress renderers print.
//!
//! Build output is untrusted: pip, curl and friends echo index URLs with their credentials
//! (`Looking in indexes: https://user:TOKEN@host/simple`). The [`Redactor`] replaces every
//! occurrence of a known secret, in every form [`crate::leak::forms`] defines (the same forms the
//! image scan looks for), with `****`, and [`RedactingWriter`] applies it once more to the bytes
//! on their way to the terminal, as a last line of defence.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// What a secret is replaced with.
pub const MASK: &str = "****";

use crate::leak::forms::{self, FragmentIndex};

/// Replaces every occurrence of a set of secret values with [`MASK`].
///
/// Built once from the build's secrets and cloned cheaply into each renderer. It masks every
/// form of each secret ([`crate::leak::forms`]) and, line by line, every run of characters that
/// is a piece of a wrapped base64 or hex form, so a wrapped dump leaves no fragment printable.
/// Secrets shorter than [`forms::MIN_SECRET_LEN`] are ignored. Its `Debug` shows only how many
/// patterns it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    matcher: Option<Arc<AhoCorasick>>,
    fragments: Option<Arc<FragmentIndex>>,
    patterns: usize,
}

impl Redactor {
    /// A redactor that masks nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// A redactor for binary secrets, such as the contents of `--secret` files.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a SecretSlice<u8>>) -> Self {
        let mut builder = Self::builder();
        for secret in secrets {
            builder.bytes(secret);
        }
        builder.build()
    }

    /// A redactor for text secrets, such as tokens and passwords.
    pub fn from_strings<'a>(secrets: impl IntoIterator<Item = &'a SecretString>) -> Self {
        let mut builder = Self::builder();
        for secret in secrets {
            builder.text(secret);
        }
        builder.build()
    }

    /// A builder, for a mix of binary and text secrets.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Whether this redactor masks nothing.
    pub fn is_empty(&self) -> bool {
        self.patterns == 0
    }

    /// Masks every secret in `input`.
    pub fn redact_bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(matcher) = &self.matcher else {
            if self.patterns == MASK_ALL && !input.is_empty() {
                return Cow::Borrowed(MASK.as_bytes());
            }
            return Cow::Borrowed(input);
        };
        let ranges = self.covered_ranges(matcher, input);
        if ranges.is_empty() {
            return Cow::Borrowed(input);
        }
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for (start, end) in ranges {
            out.extend_from_slice(&input[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = end;
        }
        out.extend_from_slice(&input[at..]);
        Cow::Owned(out)
    }

    /// Masks every secret in `text`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // A secret that is valid UTF-8 always matches on character boundaries; one that is
            // not may cut a character in half, hence the lossy conversion.
            Cow::Owned(bytes) => Cow::Owned(match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
            }),
        }
    }

    /// The maximal byte ranges of `input` covered by secret occurrences and by pieces of wrapped
    /// forms, in order.
    fn covered_ranges(&self, matcher: &AhoCorasick, input: &[u8]) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = matcher
            .find_overlapping_iter(input)
            .map(|m| (m.start(), m.end()))
            .collect();
        if let Some(fragments) = &self.fragments {
            let mut at = 0;
            for line in input.split(|&b| b == b'\n') {
                ranges.extend(
                    fragments
                        .find(line)
                        .into_iter()
                        .map(|(s, e)| (at + s, at + e)),
                );
                at += line.len() + 1;
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// The largest `cut <= at` such that no secret occurrence in `input` spans it, so that
    /// `input[..cut]` can be masked and printed before the rest of the line has arrived.
    pub(crate) fn safe_split(&self, input: &[u8], at: usize) -> usize {
        let at = at.min(input.len());
        let Some(matcher) = &self.matcher else {
            return at;
        };
        let mut cut = at;
        for (start, end) in self.covered_ranges(matcher, input).into_iter().rev() {
            if start < cut && cut < end {
                cut = start;
            }
        }
        if cut == 0 { at } else { cut }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns)
            .finish_non_exhaustive()
    }
}

/// Collects secrets for a [`Redactor`]; its `Debug` shows only how many it holds.
#[derive(Default)]
pub struct RedactorBuilder {
    patterns: Vec<Vec<u8>>,
    fragments: FragmentIndex,
}

impl RedactorBuilder {
    /// Adds a binary secret; an empty one is ignored.
    pub fn bytes(&mut self, secret: &SecretSlice<u8>) -> &mut Self {
        self.add(secret.expose_secret(), None)
    }

    /// Adds a text secret; an empty one is ignored.
    pub fn text(&mut self, secret: &SecretString) -> &mut Self {
        self.add(secret.expose_secret().as_bytes(), None)
    }

    /// Adds a login: the password in all its forms, and `user:password` in base64 as HTTP basic
    /// auth and the docker config's `auth` field carry it.
    pub fn login(&mut self, username: &str, password: &SecretString) -> &mut Self {
        self.add(
            password.expose_secret().as_bytes(),
            Some(username.as_bytes()),
        )
    }

    fn add(&mut self, secret: &[u8], login: Option<&[u8]>) -> &mut Self {
        // A one- to three-byte "secret" would mask every `p` or `ab` in the output and make it
        // unreadable; values that short protect nothing anyway (`forms` gives none).
        let forms = forms::forms(secret, login);
        self.fragments.add(&forms);
        for form in &forms {
            self.patterns.push(form.bytes.clone());
            let needle = form.needle();
            if needle != form.bytes {
                self.patterns.push(needle);
            }
        }
        self
    }

    /// The redactor for the secrets added so far.
    pub fn build(&self) -> Redactor {
        let mut patterns = self.patterns.clone();
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return Redactor::none();
        }
        // Standard match semantics so that overlapping occurrences can all be found: masking
        // their union leaves no fragment of either secret behind. For occurrences that do not
        // overlap this is the same as leftmost-longest replacement.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns);
        let count = patterns.len();
        wipe(&mut patterns);
        let fragments = (!self.fragments.is_empty()).then(|| Arc::new(self.fragments.clone()));
        match matcher {
            Ok(matcher) => Redactor {
                matcher: Some(Arc::new(matcher)),
                fragments,
                patterns: count,
            },
            Err(err) => {
                // Only reachable with absurdly large secret sets. Printing nothing is better
                // than printing secrets, so mask every piece of text whole.
                tracing::warn!("cannot build the secret matcher: {err}");
                Redactor {
                    matcher: None,
                    fragments: None,
                    patterns: MASK_ALL,
                }
            }
        }
    }
}

impl Drop for RedactorBuilder {
    fn drop(&mut self) {
        wipe(&mut self.patterns);
    }
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

/// Overwrites our copies of the secrets (the matcher keeps its own; nothing to do about that).
fn wipe(patterns: &mut [Vec<u8>]) {
    for pattern in patterns {
        pattern.fill(0);
    }
}

/// The pattern count that marks a redactor which masks everything (see `build`).
const MASK_ALL: usize = usize::MAX;

/// A writer that masks secrets in everything written through it.
///
/// It buffers until [`flush`](Write::flush) (or a large complete-line chunk) so that a secret
/// split across two `write` calls is still caught; renderers flush after each update.
pub(crate) struct RedactingWriter<W: Write> {
    inner: W,
    redactor: Redactor,
    buf: Vec<u8>,
}

/// Above this many buffered bytes, complete lines are passed on before `flush`.
const WRITER_SPILL: usize = 64 * 1024;

impl<W: Write> RedactingWriter<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W, redactor: Redactor) -> Self {
        Self {
            inner,
            redactor,
            buf: Vec::new(),
        }
    }

    fn pass_on(&mut self, upto: usize) -> io::Result<()> {
        let chunk: Vec<u8> = self.buf.drain(..upto).collect();
        self.inner.write_all(&self.redactor.redact_bytes(&chunk))
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() > WRITER_SPILL
            && let Some(newline) = self.buf.iter().rposition(|&b| b == b'\n')
        {
            self.pass_on(newline + 1)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let all = self.buf.len();
        self.pass_on(all)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        let secrets: Vec<SecretString> = secrets.iter().map(|s| SecretString::from(*s)).collect();
        Redactor::from_strings(&secrets)
    }

    #[test]
    fn masks_every_occurrence() {
        let r = redactor(&["hunter2", "s3cr3t"]);
        assert_eq!(
            r.redact("a hunter2 b s3cr3t c hunter2"),
            "a **** b **** c ****"
        );
    }

    #[test]
    fn leaves_text_without_secrets_borrowed() {
        let r = redactor(&["hunter2"]);
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn empty_secrets_are_ignored() {
        let r = redactor(&["", ""]);
        assert!(r.is_empty());
        assert_eq!(r.redact("abc"), "abc");
    }

    #[test]
    fn prefers_the_longest_secret() {
        let r = redactor(&["toke", "token-123"]);
        assert_eq!(r.redact("x token-123 y toke"), "x **** y ****");
    }

    /// A "secret" of one to three bytes would turn every `p` of the output into `****`.
    #[test]
    fn very_short_secrets_are_not_masked() {
        let r = redactor(&["p", "ab", "xyz"]);
        assert!(r.is_empty());
        assert_eq!(r.redact("/tmp/pab/xyz"), "/tmp/pab/xyz");
    }

    #[test]
    fn overlapping_secrets_leave_no_fragment() {
        let r = redactor(&["abcd", "cdef"]);
        assert_eq!(r.redact("xabcdefx"), "x****x");
    }

    #[test]
    fn masks_percent_encoded_password_in_url() {
        let r = redactor(&["p@ss/w:rd"]);
        assert_eq!(
            r.redact("Looking in indexes: https://user:p%40ss%2Fw%3Ard@pypi.example.com/simple"),
            "Looking in indexes: https://user:****@pypi.example.com/simple"
        );
        assert_eq!(r.redact("x p%40ss%2fw%3ard y"), "x **** y");
    }

    #[test]
    fn masks_lines_of_multi_line_secrets() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----\n";
        let r = redactor(&[key]);
        assert_eq!(
            r.redact("got MIIEvQIBADANBgkqhkiG9w0B here"),
            "got **** here"
        );
    }

    #[test]
    fn binary_secrets() {
        let secret = SecretSlice::from(b"\xffbin\x00ary".to_vec());
        let r = Redactor::new([&secret]);
        assert_eq!(&*r.redact_bytes(b"a\xffbin\x00aryb"), b"a****b");
    }

    #[test]
    fn debug_does_not_show_values() {
        let r = redactor(&["hunter2"]);
        let debug = format!("{r:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn safe_split_never_cuts_a_secret() {
        let r = redactor(&["hunter2"]);
        let line = b"aaaa hunter2 bbbb";
        assert_eq!(r.safe_split(line, 8), 5);
        assert_eq!(r.safe_split(line, 3), 3);
        assert_eq!(r.safe_split(line, 14), 14);
    }

    #[test]
    fn writer_masks_secrets_split_across_writes() {
        let r = redactor(&["hunter2"]);
        let mut out = Vec::new();
        {
            let mut w = RedactingWriter::new(&mut out, r);
            w.write_all(b"pass=hun").unwrap();
            w.write_all(b"ter2\n").unwrap();
            w.flush().unwrap();
        }
        assert_eq!(out, b"pass=****\n");
    }
}
