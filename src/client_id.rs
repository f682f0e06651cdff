//! What a clientId may be. It becomes a path segment of the tenant's ingest
//! URL and a key in every store, so it stays short and URL-safe; anything else
//! is refused before it reaches a store.

pub const MAX_LEN: usize = 128;

pub fn is_valid(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= MAX_LEN
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

pub const RULE: &str = "must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '-', '.'";

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn url_safe_ids_only() {
        for ok in ["client_123", "a", "rest-42.branch_7", &"x".repeat(128)] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ü", "a\0b", "a%2Fb", &"x".repeat(129)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
