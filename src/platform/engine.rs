//! The platform engine as shipped: the Python package in `src/platform/engine/` (its
//! `__main__.py` and the `beanpole_engine` modules; tests and caches left out), embedded in
//! the binary and packed into one deterministic zip that Python runs as it is
//! (`python3 engine.pyz deploy …`, a zipapp). One content address names all of it: the first
//! 16 hex digits of the archive's sha256. Pure.

use crate::bundle::zip::{write, Entry, EntryData};
use include_dir::{include_dir, Dir, DirEntry};
use std::sync::OnceLock;

static PACKAGE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/src/platform/engine");

/// The engine's archive and its content address.
#[derive(Debug)]
pub struct Archive {
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// The engine's files that ship, by path in the archive, sorted.
pub fn files() -> Vec<(String, &'static [u8])> {
    let mut found = Vec::new();
    collect(&PACKAGE, &mut found);
    found.sort();
    found
}

fn collect(dir: &'static Dir<'static>, found: &mut Vec<(String, &'static [u8])>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => {
                let name = sub.path().file_name().and_then(|n| n.to_str());
                if !matches!(name, Some("tests" | "__pycache__")) {
                    collect(sub, found);
                }
            }
            DirEntry::File(file) => {
                let path = file.path().to_string_lossy().replace('\\', "/");
                if path.ends_with(".py") {
                    found.push((path, file.contents()));
                }
            }
        }
    }
}

/// The archive Python runs, built once.
pub fn archive() -> &'static Archive {
    static ARCHIVE: OnceLock<Archive> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let entries: Vec<Entry> = files()
            .into_iter()
            .map(|(path, bytes)| Entry {
                path,
                data: EntryData::File {
                    mode: 0o644,
                    bytes: bytes.to_vec(),
                },
            })
            .collect();
        // Writing to memory cannot fail: the entries are a few small files.
        let bytes = write(&entries).unwrap_or_default();
        let mut digest = crate::bundle::sha256_hex(&bytes);
        digest.truncate(16);
        Archive { digest, bytes }
    })
}

/// The engine's content address.
pub fn digest() -> &'static str {
    &archive().digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_holds_the_package_and_its_entry_point_and_no_tests() {
        let files: Vec<String> = files().into_iter().map(|(p, _)| p).collect();
        assert!(files.contains(&"__main__.py".to_string()), "{files:?}");
        assert!(!files.iter().any(|f| f.starts_with("tests/")), "{files:?}");
        assert_eq!(archive().digest.len(), 16);
        assert_eq!(archive().bytes, archive().bytes.clone());
    }
}
