//! What a credential is, defined once for everything that guards against leaks: the context
//! guard, the Dockerfile lint, the image scan and the output masking.
//!
//! - [`forms`]: the forms a held secret takes when tools write it (trimmed, percent-encoded,
//!   JSON-escaped, base64 and hex, wrapped or not), for the scan and the masking alike.
//! - [`names`]: which variable names hold secrets (`GITHUB_TOKEN`, not `TOKEN_FILE`).
//! - [`placeholder`]: what is not a credential though it stands where one would (`changeme`,
//!   `${TOKEN}`, `SAS_KEY`), and what tells a random token from words.
//! - [`shapes`]: what makes content a credential whoever's it is (netrc, docker config, Google
//!   keys, private keys, `.env` files, URLs with passwords, token formats), for the context guard
//!   and the scan alike.
//! - [`userinfo`]: credentials in URLs (`scheme://user:pass@host`, `scheme://TOKEN@host`), with
//!   the placeholder rules that keep documentation examples quiet.

pub mod forms;
pub mod names;
pub mod placeholder;
pub mod shapes;
pub mod userinfo;
