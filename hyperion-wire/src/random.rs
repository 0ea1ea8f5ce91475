//! Unpredictable identifiers and secrets from the operating system's
//! random generator.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base62 characters, each carrying log2(62) ≈ 5.95 bits of OS randomness.
///
/// Bytes of 248 or more are thrown away (248 = 4 × 62), so every character is
/// equally likely: no modulo bias.
pub fn base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if let Err(err) = getrandom::fill(&mut buf) {
            // Without an OS random source no key can be safe: refuse loudly.
            panic!("the operating system's random generator failed: {err}");
        }
        for byte in buf {
            if byte < 248 && out.len() < len {
                out.push(BASE62[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

/// `bytes` bytes of OS randomness as lowercase hex (2 × `bytes` characters).
pub fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if let Err(err) = getrandom::fill(&mut buf) {
        panic!("the operating system's random generator failed: {err}");
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether every character of `s` is base62.
pub fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_requested_length_and_alphabet() {
        for len in [0, 1, 43, 200] {
            let s = base62(len);
            assert_eq!(s.len(), len);
            assert!(is_base62(&s));
        }
    }

    #[test]
    fn uses_the_whole_alphabet_evenly() {
        let sample = base62(62 * 400);
        let mut counts = [0u32; 62];
        for b in sample.bytes() {
            let index = BASE62.iter().position(|c| *c == b).unwrap();
            counts[index] += 1;
        }
        // Expected 400 each; a biased generator (e.g. byte % 62) would starve
        // the last characters. These bounds are ~7 standard deviations wide.
        assert!(counts.iter().all(|c| (260..=540).contains(c)), "{counts:?}");
    }
}
