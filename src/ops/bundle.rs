//! `bundle`: read an application's source folder (asking `bundle::decide` about each path as
//! it walks, so ignored folders are never read), build the deterministic source bundle, and
//! optionally write it. Every refusal names the file.

use crate::bundle::zip::{Entry, EntryData};
use crate::bundle::{build, decide, Bundle, BundleProblem, Decision, Selection, MAX_BUNDLE_BYTES};
use std::path::{Path, PathBuf};

/// What to bundle.
#[derive(Debug, Clone)]
pub struct BundleRequest {
    /// The application's source folder.
    pub source: PathBuf,
    /// The WSGI entry point to look for when there is no Procfile, if the spec or a flag says
    /// (else the bundle's `.ebextensions`, else EB's default).
    pub wsgi_path: Option<String>,
    /// Where to write the zip, if anywhere.
    pub out: Option<PathBuf>,
    /// The environment whose settings its `.ebextensions` options join (they are checked as a
    /// deploy would check them, before anything is written or uploaded).
    pub environment: Option<crate::model::Environment>,
}

/// A bundle built, and what went in and what did not, with why.
#[derive(Debug, Clone)]
pub struct BundleReport {
    pub bundle: Bundle,
    /// Files in the bundle, with the rule that re-included them (empty when no rule did).
    pub included: Vec<(String, String)>,
    /// Paths left out (a folder stands for everything in it), with why.
    pub excluded: Vec<(String, String)>,
    /// `.ebignore` or `.gitignore`, if one was read.
    pub rules_file: Option<String>,
    /// What the bundle asks for that Beanpole does not carry out (keys, options, files,
    /// `cron.yaml`), each by file and key, with what to do instead: every command that builds
    /// a bundle prints them.
    pub warnings: Vec<crate::bundle::ebextensions::Unsupported>,
}

impl BundleReport {
    /// What went in (and why), what did not, the size, sha256, default label and what its
    /// `.ebextensions` carry: how `bundle` reports a bundle of `source` made at `now`.
    pub fn lines(&self, source: &Path, now: u64) -> Vec<String> {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut lines = vec![format!(
            "Bundle of {}{}:",
            source.display(),
            self.rules_file
                .as_deref()
                .map(|f| format!(" (ignore rules: {f})"))
                .unwrap_or_default()
        )];
        for (path, why) in &self.included {
            lines.push(match why.as_str() {
                "" => format!("  + {path}"),
                why => format!("  + {path}  ({why})"),
            });
        }
        lines.extend(
            self.excluded
                .iter()
                .map(|(p, why)| format!("  - {p}  ({why})")),
        );
        let (bundle, files) = (&self.bundle, self.bundle.paths.len());
        lines.push(format!(
            "{files} file{}, {} bytes zipped, sha256 {}",
            plural(files),
            bundle.bytes.len(),
            bundle.sha256
        ));
        lines.push(format!(
            "Default version label: {}",
            bundle.default_label(now)
        ));
        let ext = &bundle.ebextensions;
        let counts = [
            (ext.option_settings.len(), "option setting"),
            (ext.packages.len(), "package"),
            (ext.files.len(), "file"),
            (ext.commands.len(), "command"),
            (ext.container_commands.len(), "container command"),
        ];
        if counts.iter().any(|(n, _)| *n > 0) {
            let said: Vec<String> = counts
                .iter()
                .map(|(n, what)| format!("{n} {what}{}", plural(*n)))
                .collect();
            lines.push(format!(
                ".ebextensions: {}; WSGI path {}",
                said.join(", "),
                bundle.wsgi_path
            ));
        }
        lines
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0} is not a folder: give the application's source folder (`--source DIR`, or `source` in the spec's application block)")]
    NotAFolder(String),
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("the bundle of {source_dir} is refused: {} problem{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" })]
    Refused {
        source_dir: String,
        problems: Vec<BundleProblem>,
        /// What its `.ebextensions` ask for that would not be carried out (or would run and
        /// fail), when they could be read: said with the refusal, so one round of fixes
        /// covers both.
        warnings: Vec<crate::bundle::ebextensions::Unsupported>,
    },
    #[error("cannot write the bundle to {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

/// Builds the bundle of `request.source` and writes it to `request.out` if given.
pub fn bundle(request: &BundleRequest) -> Result<BundleReport, BundleError> {
    let root = &request.source;
    if !root.is_dir() {
        return Err(BundleError::NotAFolder(root.display().to_string()));
    }
    let read_text = |name: &str| -> Result<Option<String>, BundleError> {
        let path = root.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(BundleError::Read {
                path: path.display().to_string(),
                error,
            }),
        }
    };
    let selection = Selection::from_files(
        read_text(".ebignore")?.as_deref(),
        read_text(".gitignore")?.as_deref(),
    );
    let mut walk = Walk {
        root,
        selection: &selection,
        entries: Vec::new(),
        included: Vec::new(),
        excluded: Vec::new(),
        problems: Vec::new(),
        unpacked: 0,
    };
    walk.folder(root, "")?;
    let Walk {
        entries,
        included,
        excluded,
        mut problems,
        ..
    } = walk;
    // Option values a deploy would refuse are refused here, before an upload, whatever else
    // is wrong with the bundle.
    let configs: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter(|e| e.path.starts_with(".ebextensions/"))
        .filter_map(|e| match &e.data {
            EntryData::File { bytes, .. } => Some((e.path.clone(), bytes.clone())),
            EntryData::Symlink { .. } => None,
        })
        .collect();
    // Read once: the settings' problems and a refusal's warnings both come from it (the build
    // names what is wrong with files that cannot be read).
    let ebextensions = {
        let files: Vec<(&str, &[u8])> = configs
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        crate::bundle::ebextensions::read(&files).ok()
    };
    let settings_problems = || -> Vec<BundleProblem> {
        let Some(ebextensions) = &ebextensions else {
            return Vec::new();
        };
        match crate::platform::settings::resolve(request.environment.as_ref(), ebextensions) {
            Ok(_) => Vec::new(),
            Err(settings) => settings
                .iter()
                .map(|p| BundleProblem::Setting(p.to_string()))
                .collect(),
        }
    };
    let built = match build(entries, request.wsgi_path.as_deref()) {
        Ok(bundle) => match settings_problems() {
            more if more.is_empty() => Ok(bundle),
            more => Err(more),
        },
        Err(mut problems) => {
            problems.extend(settings_problems());
            Err(problems)
        }
    };
    let refused = |problems| BundleError::Refused {
        source_dir: root.display().to_string(),
        problems,
        warnings: ebextensions
            .as_ref()
            .map(|e| e.unsupported.clone())
            .unwrap_or_default(),
    };
    let bundle = match built {
        Ok(bundle) if problems.is_empty() => bundle,
        Ok(_) => return Err(refused(problems)),
        Err(more) => {
            problems.extend(more);
            return Err(refused(problems));
        }
    };
    if let Some(out) = &request.out {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| BundleError::Write {
                path: out.display().to_string(),
                error,
            })?;
        }
        std::fs::write(out, &bundle.bytes).map_err(|error| BundleError::Write {
            path: out.display().to_string(),
            error,
        })?;
    }
    let warnings = warnings(&bundle, request.environment.as_ref());
    Ok(BundleReport {
        bundle,
        included,
        excluded,
        rules_file: selection.rules_file.clone(),
        warnings,
    })
}

/// The state of one walk of the source folder.
struct Walk<'a> {
    root: &'a Path,
    selection: &'a Selection,
    entries: Vec<Entry>,
    included: Vec<(String, String)>,
    excluded: Vec<(String, String)>,
    problems: Vec<BundleProblem>,
    /// Bytes of the files read so far: no file is read once the limit is passed (a sparse
    /// file or a huge data file is refused by its size, never loaded).
    unpacked: u64,
}

impl Walk<'_> {
    fn read_error(path: &Path, error: std::io::Error) -> BundleError {
        BundleError::Read {
            path: path.display().to_string(),
            error,
        }
    }

    /// Walks `dir` (whose path in the bundle is `prefix`), in name order.
    fn folder(&mut self, dir: &Path, prefix: &str) -> Result<(), BundleError> {
        let mut children: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
            .map_err(|e| Self::read_error(dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| Self::read_error(dir, e))?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let full = child.path();
            let Some(name) = child.file_name().to_str().map(str::to_string) else {
                self.problems.push(BundleProblem::NonUtf8Name {
                    path: full
                        .strip_prefix(self.root)
                        .unwrap_or(&full)
                        .to_string_lossy()
                        .into_owned(),
                });
                continue;
            };
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let meta = std::fs::symlink_metadata(&full).map_err(|e| Self::read_error(&full, e))?;
            let is_folder = meta.is_dir();
            match decide(self.selection, &path, is_folder) {
                Decision::Exclude(why) => {
                    let shown = if is_folder { format!("{path}/") } else { path };
                    self.excluded.push((shown, why));
                    continue;
                }
                Decision::Include(why) if is_folder => {
                    if !why.is_empty() {
                        self.included.push((format!("{path}/"), why));
                    }
                    self.folder(&full, &path)?;
                }
                Decision::Include(why) => {
                    let data = if meta.file_type().is_symlink() {
                        let target =
                            std::fs::read_link(&full).map_err(|e| Self::read_error(&full, e))?;
                        EntryData::Symlink {
                            target: target.to_string_lossy().into_owned(),
                        }
                    } else if meta.is_file() {
                        self.unpacked = self.unpacked.saturating_add(meta.len());
                        if self.unpacked > MAX_BUNDLE_BYTES as u64 {
                            if !self
                                .problems
                                .iter()
                                .any(|p| matches!(p, BundleProblem::UnpackedTooLarge { .. }))
                            {
                                self.problems.push(BundleProblem::UnpackedTooLarge {
                                    size: self.unpacked,
                                    limit: MAX_BUNDLE_BYTES,
                                });
                            }
                            continue;
                        }
                        EntryData::File {
                            mode: mode_of(&meta),
                            bytes: std::fs::read(&full).map_err(|e| Self::read_error(&full, e))?,
                        }
                    } else {
                        // Sockets, pipes, devices: nothing an application ships.
                        self.excluded
                            .push((path, "not a regular file, folder or link".into()));
                        continue;
                    };
                    self.included.push((path.clone(), why));
                    self.entries.push(Entry { path, data });
                }
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// What a bundle asks for that Beanpole does not carry out: its `.ebextensions`' keys and
/// files, and the options that `env`'s settings (or EB's defaults) leave without effect.
pub fn warnings(
    bundle: &crate::bundle::Bundle,
    env: Option<&crate::model::Environment>,
) -> Vec<crate::bundle::ebextensions::Unsupported> {
    let mut all = bundle.ebextensions.unsupported.clone();
    if let Ok((_, options)) = crate::platform::settings::resolve(env, &bundle.ebextensions) {
        all.extend(options);
    }
    all
}
