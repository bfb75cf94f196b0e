//! Fuzzes the netrc parser: any input, read as UTF-8 with invalid bytes replaced, gives entries
//! or an error, never a panic; and whatever parses survives a round trip through
//! `to_secret_text`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use shipimg::credentials::netrc::parse_netrc;

fn exposed(secret: &Option<SecretString>) -> Option<&str> {
    secret.as_ref().map(|s| s.expose_secret())
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(netrc) = parse_netrc(&text) else {
        return;
    };
    let written = netrc.to_secret_text();
    let again = parse_netrc(written.expose_secret()).expect("written netrc parses");
    assert_eq!(again.entries().len(), netrc.entries().len());
    for (a, b) in again.entries().iter().zip(netrc.entries()) {
        assert_eq!(a.machine, b.machine);
        assert_eq!(a.login, b.login);
        assert_eq!(exposed(&a.password), exposed(&b.password));
        assert_eq!(exposed(&a.account), exposed(&b.account));
    }
});
