//! Randomness, from the operating system (`getrandom`): ids the engine and the files we write
//! need to be fresh (session and build ids, temporary names, heredoc delimiters), and the
//! jitter between push retries.

/// `len` random base-36 characters (`0-9a-z`), as the docker CLI's session ids look at 25.
///
/// Panics only when the operating system has no randomness to give, which `getrandom` treats
/// as unrecoverable too.
pub fn id(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; len];
    fill(&mut bytes);
    // 252 is the largest multiple of 36 below 256: rejecting above it keeps the characters
    // uniform. A rejected byte is redrawn.
    bytes
        .into_iter()
        .map(|mut b| {
            while b >= 252 {
                let mut one = [0u8; 1];
                fill(&mut one);
                b = one[0];
            }
            ALPHABET[usize::from(b % 36)] as char
        })
        .collect()
}

/// A session or build id: 25 base-36 characters, like the docker CLI's.
pub fn session_id() -> String {
    id(25)
}

/// A number in [0, 1), uniform, for retry jitter.
pub fn unit() -> f64 {
    let mut bytes = [0u8; 8];
    fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

fn fill(bytes: &mut [u8]) {
    getrandom::fill(bytes).expect("the operating system gives no randomness (getrandom failed)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_well_formed() {
        let a = session_id();
        let b = session_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 25);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
        assert_eq!(id(7).len(), 7);
    }

    #[test]
    fn units_are_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }
}
