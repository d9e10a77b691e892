//! Files that travel with a scenario (CA certificates, feeders): built with their SHA-256 on the
//! controller, checked on the agent before anything is written or used.

use crate::pb;
use std::path::{Component, Path};

/// Why an included file is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("included file {path:?}: checksum mismatch (the content was altered in transit)")]
    Checksum { path: String },
    #[error(
        "included file {path:?}: only relative paths inside the scenario's directory are allowed"
    )]
    UnsafePath { path: String },
}

/// An included file with its checksum. `path` is relative to the scenario file, '/'-separated.
pub fn included_file(path: &str, content: Vec<u8>) -> pb::IncludedFile {
    pb::IncludedFile {
        path: path.to_owned(),
        sha256: sha256(&content),
        content,
    }
}

/// Checks the checksum and that the path cannot escape the directory the agent unpacks into (no
/// absolute path, no `..`, no drive prefix).
pub fn verify_included_file(file: &pb::IncludedFile) -> Result<(), FileError> {
    verify_relative_path(&file.path)?;
    if sha256(&file.content) != file.sha256 {
        return Err(FileError::Checksum {
            path: file.path.clone(),
        });
    }
    Ok(())
}

/// Checks that `path` is relative, '/'-separated and cannot leave the directory it is joined to
/// (no absolute path, no `..`, no `.`, no drive prefix, no backslash).
pub fn verify_relative_path(path: &str) -> Result<(), FileError> {
    let safe = !path.is_empty()
        && !path.contains('\\')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if safe {
        Ok(())
    } else {
        Err(FileError::UnsafePath {
            path: path.to_owned(),
        })
    }
}

fn sha256(content: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, content)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_and_paths_are_checked() {
        let file = included_file("data/users.csv", b"id\n1\n".to_vec());
        assert_eq!(file.sha256.len(), 32);
        assert_eq!(verify_included_file(&file), Ok(()));
        let mut altered = file.clone();
        altered.content.push(b'2');
        assert!(matches!(
            verify_included_file(&altered),
            Err(FileError::Checksum { .. })
        ));
        for bad in ["/etc/passwd", "../x", "a/../../x", "", "a\\..\\x", "./a"] {
            let f = included_file(bad, Vec::new());
            assert!(
                matches!(verify_included_file(&f), Err(FileError::UnsafePath { .. })),
                "{bad}"
            );
        }
    }
}
