//! Helpers shared by the integration tests: running the binary with a clean environment,
//! snapshot blessing, and a small line diff for readable failures.

pub mod fleet;
pub mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A free port of 127.0.0.1, below the ephemeral range (as the local fleet picks them).
pub fn free_port() -> u16 {
    let port = beanpole::fleet::free_port();
    assert_ne!(port, 0, "no free port on 127.0.0.1");
    port
}

/// The folder of this crate.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when snapshots should be (re)written instead of compared: `BEANPOLE_BLESS=1`.
pub fn blessing() -> bool {
    std::env::var("BEANPOLE_BLESS").is_ok_and(|v| v == "1")
}

/// A `beanpole` command that runs in `dir`, without colours and without any `BEANPOLE_VAR_*`
/// inherited from the caller's environment.
pub fn beanpole(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beanpole"));
    command.current_dir(dir).env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BEANPOLE_VAR_") {
            command.env_remove(&key);
        }
    }
    command
}

/// Runs a command and returns its output, panicking only if it could not be started.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A command's status, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Sub-folders of `dir`, sorted by name.
pub fn sub_folders(dir: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
}

/// A unified-style line diff of `expected` → `actual` (`-` expected only, `+` actual only),
/// with a few lines of context around each change.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Longest common subsequence table, from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| *c != ' ')
        .map(|(k, _)| k)
        .collect();
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (k, (c, line)) in ops.iter().enumerate() {
        let near = changed.iter().any(|&x| x.abs_diff(k) <= CONTEXT);
        if !near {
            continue;
        }
        if last_shown.is_some_and(|l| l + 1 != k) {
            out.push_str("   ...\n");
        }
        out.push_str(&format!(" {c} {line}\n"));
        last_shown = Some(k);
    }
    if out.is_empty() && expected != actual {
        out.push_str(" (texts differ only in line endings or a trailing newline)\n");
    }
    out
}

/// A folder under the system temp dir, removed (with its contents) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "beanpole-test-{label}-{}-{nanos}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` (a relative path, parent folders created) inside the folder.
    pub fn write(&self, name: &str, text: &str) -> &TempDir {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
