//! What a credential is, defined once for everything that guards against leaks: the context
//! guard, the Dockerfile lint, the image scan and the output masking.
//!
//! - [`userinfo`]: credentials in URLs (`scheme://user:pass@host`, `scheme://TOKEN@host`), with
//!   the placeholder rules that keep documentation examples quiet.

pub mod userinfo;
