//! Where spec text comes from: the [`SpecFs`] trait the compiler reads through (the disk at the
//! CLI edge, memory in tests and fuzzing), and the modules shipped inside the binary
//! (`source = "beanpole/blue-green"`). This is the only door to the outside the front end has.

use include_dir::{include_dir, Dir};
use std::io;
use std::path::{Path, PathBuf};

/// Read access to spec folders and files.
pub trait SpecFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// The `*.hcl` files directly inside `dir`, sorted by name. `NotFound` if `dir` is not a folder.
    fn hcl_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The real file system.
pub struct DiskFs;

impl SpecFs for DiskFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn hcl_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "hcl") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

/// An in-memory file system: (path, text) pairs. For tests, fuzzing and benchmarks.
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    pub files: Vec<(PathBuf, String)>,
}

impl MemoryFs {
    pub fn new() -> MemoryFs {
        MemoryFs::default()
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryFs {
        self.files.push((path.into(), text.into()));
        self
    }
}

impl SpecFs for MemoryFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let wanted = normalize(path);
        self.files
            .iter()
            .find(|(p, _)| normalize(p) == wanted)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn hcl_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let wanted = normalize(dir);
        let mut files: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "hcl"))
            .filter(|(p, _)| p.parent().map(normalize) == Some(wanted.clone()))
            .map(|(p, _)| p.clone())
            .collect();
        if files.is_empty()
            && !self
                .files
                .iter()
                .any(|(p, _)| normalize(p).starts_with(&wanted))
        {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such folder"));
        }
        files.sort();
        Ok(files)
    }
}

/// `a/./b/../c` → `a/c`, without touching a disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

static SHIPPED_MODULES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/modules");

/// The prefix that names a module shipped with Beanpole.
pub const SHIPPED_PREFIX: &str = "beanpole/";

/// Names of the modules shipped inside the binary (`blue-green`, …).
pub fn shipped_module_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SHIPPED_MODULES
        .dirs()
        .filter_map(|d| d.path().file_name().and_then(|n| n.to_str()))
        .collect();
    names.sort();
    names
}

/// The `.hcl` files of a shipped module, as (display name, text), sorted; `None` if unknown.
pub fn shipped_module(name: &str) -> Option<Vec<(String, String)>> {
    let dir = SHIPPED_MODULES.get_dir(name)?;
    let mut files: Vec<(String, String)> = dir
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "hcl"))
        .filter_map(|f| {
            let file_name = f.path().file_name()?.to_str()?;
            Some((
                format!("{SHIPPED_PREFIX}{name}/{file_name}"),
                f.contents_utf8()?.to_string(),
            ))
        })
        .collect();
    files.sort();
    (!files.is_empty()).then_some(files)
}
