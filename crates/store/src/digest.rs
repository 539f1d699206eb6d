//! Content digests of config text.

use sha2::{Digest, Sha256};

/// The digest recorded with every version: `"sha256:"` followed by the lowercase hex SHA-256 of
/// the config text, exactly as given (no normalisation).
///
/// ```
/// assert_eq!(
///     switchyard_store::digest(""),
///     "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn digest(config: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(config.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn is_prefixed_lowercase_hex_of_sha256() {
        let d = digest("abc");
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(digest("abc\n"), d, "text is hashed as given");
    }
}
