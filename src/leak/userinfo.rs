//! Credentials in URLs: `scheme://user:password@host` and `scheme://TOKEN@host`.

use std::ops::Range;

/// A URL whose userinfo carries a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCredential {
    /// The userinfo's bytes in the text searched (`user:password` or `TOKEN`).
    pub range: Range<usize>,
}

/// The URLs in `text` whose userinfo holds a password or a token (placeholders aside).
pub fn find(text: &[u8]) -> impl Iterator<Item = UrlCredential> + '_ {
    memchr::memmem::find_iter(text, b"://").filter_map(move |at| {
        let start = at + 3;
        let rest = &text[start..];
        let end = rest.iter().position(|&b| {
            matches!(b, b'@' | b'/' | b'?' | b'#')
                || b.is_ascii_whitespace()
                || b == b'"'
                || b == b'\''
        })?;
        if rest[end] != b'@' || end == 0 {
            return None;
        }
        let info = &rest[..end];
        let real = match info.iter().position(|&b| b == b':') {
            Some(colon) => {
                let password = &info[colon + 1..];
                !super::shapes::is_placeholder(password) && !password.starts_with(b"$")
            }
            None => super::shapes::looks_random(info) && !super::shapes::is_placeholder(info),
        };
        real.then(|| UrlCredential {
            range: start..start + end,
        })
    })
}
