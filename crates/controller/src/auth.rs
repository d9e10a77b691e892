//! Agent tokens: loading them from a file, and checking a presented bearer token in constant time.
//!
//! Why constant time, and why hash first: a byte-by-byte comparison that stops at the first
//! difference lets an attacker who can time responses recover a token one byte at a time. Both
//! the stored and the presented token are hashed with SHA-256 and the 32-byte digests are compared
//! with `subtle::ConstantTimeEq`, which examines every byte with no data-dependent branch (and is
//! written so the optimiser cannot add one back). Hashing first also hides the token's *length*,
//! which a plain slice comparison would reveal by returning early on a length mismatch. Every
//! configured token is compared, with no early exit, so the position of a match does not show
//! either. SHA-256 comes from `ring`, already in the build for TLS.
//!
//! A token file holds one token per line (several allow rotating without downtime); blank lines
//! and lines starting with `#` are ignored.

use ring::digest::{SHA256, digest};
use std::path::Path;
use subtle::ConstantTimeEq;

/// Shortest token accepted: 16 characters. `openssl rand -hex 32` makes a good one.
pub const MIN_TOKEN_LEN: usize = 16;

/// A problem with the token configuration or with a presented token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the token file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the token file {path} holds no token: write one token per line")]
    Empty { path: String },
    #[error(
        "{location}: the token is {len} characters long, at least {MIN_TOKEN_LEN} are required \
         (generate one with `openssl rand -hex 32`)"
    )]
    TooShort { location: String, len: usize },
    #[error("{location}: the token contains whitespace or control characters")]
    BadCharacters { location: String },
    #[error("missing `authorization: Bearer <token>` metadata")]
    Missing,
    #[error("the `authorization` metadata must be `Bearer <token>`")]
    Malformed,
    #[error("invalid token")]
    Invalid,
}

/// The accepted tokens, kept only as SHA-256 digests (`Debug` shows how many, never a token).
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.digests.len())
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

fn check(token: &str, location: String) -> Result<(), AuthError> {
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthError::BadCharacters { location });
    }
    if token.chars().count() < MIN_TOKEN_LEN {
        return Err(AuthError::TooShort {
            location,
            len: token.chars().count(),
        });
    }
    Ok(())
}

impl Tokens {
    /// Tokens given directly (e.g. from an environment variable). Each is checked like a line of a
    /// token file.
    pub fn new<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Result<Tokens, AuthError> {
        let mut digests = Vec::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let token = token.as_ref();
            check(token, format!("token {}", i + 1))?;
            digests.push(sha256(token.as_bytes()));
        }
        if digests.is_empty() {
            return Err(AuthError::Empty {
                path: "(given directly)".into(),
            });
        }
        Ok(Tokens { digests })
    }

    /// Reads a token file (see the module docs for the format).
    pub fn from_file(path: &Path) -> Result<Tokens, AuthError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses the text of a token file; `name` is used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Tokens, AuthError> {
        let mut digests = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            check(token, format!("{name}:{}", i + 1))?;
            digests.push(sha256(token.as_bytes()));
        }
        if digests.is_empty() {
            return Err(AuthError::Empty { path: name.into() });
        }
        Ok(Tokens { digests })
    }

    /// True when `presented` is one of the tokens. Constant time in the token's content and length
    /// and in which token matches.
    pub fn verify(&self, presented: &str) -> bool {
        let candidate = sha256(presented.as_bytes());
        let mut matched = subtle::Choice::from(0);
        for d in &self.digests {
            matched |= d.ct_eq(&candidate);
        }
        matched.into()
    }

    /// Checks an `authorization` metadata value of the form `Bearer <token>` (the scheme is
    /// case-insensitive, as in HTTP).
    pub fn verify_bearer(&self, header: Option<&str>) -> Result<(), AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        if self.verify(token.trim()) {
            Ok(())
        } else {
            Err(AuthError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123";

    #[test]
    fn tokens_verify_and_others_do_not() {
        let tokens = Tokens::new([GOOD, "another-long-token-value"]).unwrap();
        assert!(tokens.verify(GOOD));
        assert!(tokens.verify("another-long-token-value"));
        for wrong in ["", "0123456789abcdef012", "0123456789abcdef01234", "x"] {
            assert!(!tokens.verify(wrong), "{wrong:?}");
        }
        assert_eq!(
            tokens.verify_bearer(Some(&format!("Bearer {GOOD}"))),
            Ok(())
        );
        assert_eq!(
            tokens.verify_bearer(Some(&format!("bearer {GOOD}"))),
            Ok(())
        );
        assert_eq!(tokens.verify_bearer(None), Err(AuthError::Missing));
        assert_eq!(tokens.verify_bearer(Some(GOOD)), Err(AuthError::Malformed));
        assert_eq!(
            tokens.verify_bearer(Some(&format!("Basic {GOOD}"))),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            tokens.verify_bearer(Some("Bearer wrong-token-of-length")),
            Err(AuthError::Invalid)
        );
        assert_eq!(format!("{tokens:?}"), "Tokens(2 configured)");
    }

    #[test]
    fn token_files_skip_comments_and_report_bad_lines() {
        let text = format!("# agents of the eu pool\n\n  {GOOD}  \nshort\n");
        let err = Tokens::parse(&text, "tokens.txt").unwrap_err();
        assert_eq!(
            err,
            AuthError::TooShort {
                location: "tokens.txt:4".into(),
                len: 5
            }
        );
        assert!(err.to_string().contains("openssl rand -hex 32"));
        let tokens = Tokens::parse(&format!("# c\n{GOOD}\n"), "t").unwrap();
        assert!(tokens.verify(GOOD));
        let err = Tokens::parse("# only a comment\n\n", "tokens.txt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the token file tokens.txt holds no token: write one token per line"
        );
        let err = Tokens::parse("abc\u{7}defghijklmnopq\n", "t").unwrap_err();
        assert!(matches!(err, AuthError::BadCharacters { .. }));
    }

    #[test]
    fn token_files_are_read_from_disk_with_clear_errors() {
        let dir = std::env::temp_dir().join(format!("stampede-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens");
        std::fs::write(&path, format!("{GOOD}\n")).unwrap();
        assert!(Tokens::from_file(&path).unwrap().verify(GOOD));
        let missing = dir.join("absent");
        let err = Tokens::from_file(&missing).unwrap_err().to_string();
        assert!(err.starts_with("cannot read the token file"), "{err}");
        assert!(err.contains("absent"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
