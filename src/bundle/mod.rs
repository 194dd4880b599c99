//! Source bundles, as Elastic Beanstalk takes them: a zip of the application's source folder
//! with no top folder, `.ebextensions/` and `.platform/` included, `.ebignore` (else
//! `.gitignore`) honoured, `.git/`, `.elasticbeanstalk/` and `.beanpole/` never included.
//! Deterministic: the same tree gives the same bytes and sha256. Refused before anything is
//! uploaded, naming the file, when EB would fail on it: over 512 MiB, a symlink leaving the
//! tree, no WSGI entry point, a bad `Procfile` line, a hook that is not executable, a
//! `requirements.txt` pip cannot read. Pure: the folder is read by `ops::bundle`, which asks
//! [`decide`] about each path as it walks.

pub mod cfn;
pub mod cron;
pub mod ebextensions;
pub mod ignore;
pub mod resources;
pub mod zip;

use ignore::IgnoreRules;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use zip::{Entry, EntryData};

/// Elastic Beanstalk's limit on a source bundle.
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

/// Folders never bundled: version control, the EB CLI's and Beanpole's own state.
pub const NEVER_BUNDLED: &[&str] = &[".git", ".elasticbeanstalk", ".beanpole"];

/// The WSGI entry point when the environment does not say: `application.py`'s `application`.
pub const DEFAULT_WSGI_PATH: &str = "application:application";

/// Whether a path of the source folder goes into the bundle, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Include(String),
    Exclude(String),
}

/// The rules that choose what goes in, from the folder's own ignore file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub rules: IgnoreRules,
    /// `.ebignore` or `.gitignore`, if the folder has one.
    pub rules_file: Option<String>,
}

impl Selection {
    /// `.ebignore` wins over `.gitignore`, as in the EB CLI.
    pub fn from_files(ebignore: Option<&str>, gitignore: Option<&str>) -> Selection {
        match (ebignore, gitignore) {
            (Some(text), _) => Selection {
                rules: IgnoreRules::parse(".ebignore", text),
                rules_file: Some(".ebignore".into()),
            },
            (None, Some(text)) => Selection {
                rules: IgnoreRules::parse(".gitignore", text),
                rules_file: Some(".gitignore".into()),
            },
            (None, None) => Selection::default(),
        }
    }
}

/// Whether `path` (relative, `/`-separated) goes into the bundle. A folder excluded here is not
/// walked into.
pub fn decide(selection: &Selection, path: &str, is_folder: bool) -> Decision {
    let top = path.split('/').next().unwrap_or(path);
    if NEVER_BUNDLED.contains(&top) {
        return Decision::Exclude(format!("`{top}/` is never bundled"));
    }
    match selection.rules.decide(path, is_folder) {
        Some(rule) if rule.pattern.starts_with('!') => Decision::Include(format!(
            "re-included by {} (`{}`)",
            rule.origin, rule.pattern
        )),
        Some(rule) => Decision::Exclude(format!("{} (`{}`)", rule.origin, rule.pattern)),
        None => Decision::Include(String::new()),
    }
}

/// A bundle refused, naming the file and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleProblem {
    #[error("the bundle is {size} bytes, over Elastic Beanstalk's limit of {limit} bytes: exclude what the application does not need (.ebignore), or fetch large data at start-up")]
    TooLarge { size: usize, limit: usize },
    #[error("the bundle's files are {size} bytes unpacked (at least), over the limit of {limit} bytes that every instance would unpack: exclude what the application does not need (.ebignore), or fetch large data at start-up")]
    UnpackedTooLarge { size: u64, limit: usize },
    #[error("{path} is a symbolic link to `{target}`, outside the source folder: an instance would not have that file; copy it into the folder or remove the link")]
    SymlinkLeavesTree { path: String, target: String },
    #[error("no WSGI entry point: there is no Procfile and no {module_file} for the WSGI path `{wsgi_path}`; add {module_file} defining `{callable}`, set `wsgi {{ path = \"MODULE:CALLABLE\" }}`, or add a Procfile with a `web:` line")]
    NoEntryPoint {
        wsgi_path: String,
        module_file: String,
        callable: String,
    },
    #[error("Procfile:{line}: `{text}` is not `name: command` (e.g. `web: gunicorn --bind 127.0.0.1:8000 application:application`)")]
    ProcfileLine { line: usize, text: String },
    #[error("{path} is a platform hook but is not executable, so Elastic Beanstalk's deployment would fail on it: run `chmod +x {path}`")]
    HookNotExecutable { path: String },
    #[error("{path} cannot be read by pip: {reason}; save it as UTF-8 (UTF-16 with a byte-order mark also works)")]
    UnreadableRequirements { path: String, reason: String },
    #[error("{path}: a file name that is not UTF-8; rename it")]
    NonUtf8Name { path: String },
    #[error("{0}; fix the file (Elastic Beanstalk would ignore all of it)")]
    EbExtensions(ebextensions::ConfigError),
    /// An `.ebextensions` option value a deploy would refuse (`platform::settings` says why).
    #[error("{0}")]
    Setting(String),
    /// `cron.yaml`, located by entry and key.
    #[error("{0}")]
    Cron(String),
    #[error("cannot write the zip: {0}")]
    Zip(String),
}

/// Lowercase hex sha256 of `bytes`: how bundles, versions and the engine are addressed.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A built bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub bytes: Vec<u8>,
    /// Hex sha256 of `bytes`.
    pub sha256: String,
    /// The entries in it, in archive order.
    pub paths: Vec<String>,
    /// What its `.ebextensions` ask for.
    pub ebextensions: ebextensions::EbExtensions,
    /// The WSGI path it was checked against: the spec's, else its `.ebextensions`', else EB's
    /// default.
    pub wsgi_path: String,
}

impl Bundle {
    /// Elastic Beanstalk's default version label for it: `app-YYMMDD_HHMMSS-<sha7>`.
    pub fn default_label(&self, unix_now: u64) -> String {
        let (y, mo, d, h, mi, s) = crate::duration::civil(unix_now);
        format!(
            "app-{:02}{mo:02}{d:02}_{h:02}{mi:02}{s:02}-{}",
            y % 100,
            &self.sha256[..7]
        )
    }
}

/// Where a symlink at `path` pointing at `target` lands in the finished tree, relative to the
/// folder's top, following the bundle's other links as the file system would (a `..` after a
/// link applies to where the link leads); `None` when it leaves the folder (an absolute
/// target, a `..` past the top, anywhere along the way) or links loop. `links` maps each link
/// of the bundle to its target.
pub fn resolve_link(links: &BTreeMap<&str, &str>, path: &str, target: &str) -> Option<String> {
    let mut parent: Vec<String> = path.split('/').map(str::to_string).collect();
    parent.pop();
    let mut hops = 0;
    follow(links, parent, target, &mut hops).map(|parts| parts.join("/"))
}

/// The physical path `target` names from the folder `at` (its components from the top).
fn follow(
    links: &BTreeMap<&str, &str>,
    mut at: Vec<String>,
    target: &str,
    hops: &mut usize,
) -> Option<Vec<String>> {
    // As many links followed as Linux's own limit before a loop is a loop.
    const MAX_HOPS: usize = 40;
    if target.starts_with('/') {
        return None;
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                at.pop()?;
            }
            name => {
                at.push(name.to_string());
                if let Some(next) = links.get(at.join("/").as_str()) {
                    *hops += 1;
                    if *hops > MAX_HOPS {
                        return None;
                    }
                    at.pop();
                    at = follow(links, at, next, hops)?;
                }
            }
        }
    }
    Some(at)
}

/// The file a WSGI path's module is in: `application:application` → `application.py` (or
/// `application/__init__.py`), `mysite.wsgi:application` → `mysite/wsgi.py`.
fn module_files(wsgi_path: &str) -> (Vec<String>, String, String) {
    let (module, callable) = wsgi_path
        .split_once(':')
        .unwrap_or((wsgi_path, "application"));
    let base = module.replace('.', "/");
    (
        vec![format!("{base}.py"), format!("{base}/__init__.py")],
        format!("{base}.py"),
        callable.to_string(),
    )
}

/// Checks a `Procfile`: one `name: command` per line (blank lines and `#` comments allowed).
pub fn check_procfile(text: &str) -> Vec<BundleProblem> {
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let ok = match line.split_once(':') {
            Some((name, command)) => {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !command.trim().is_empty()
            }
            None => false,
        };
        if !ok {
            problems.push(BundleProblem::ProcfileLine {
                line: i + 1,
                text: line.to_string(),
            });
        }
    }
    problems
}

/// The text of a requirements file as pip would read it: UTF-8 (with or without a byte-order
/// mark) or UTF-16 with a byte-order mark.
pub fn decode_requirements(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |bytes: &[u8], little: bool| {
        if !bytes.len().is_multiple_of(2) {
            return Err("UTF-16 with an odd number of bytes".to_string());
        }
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| {
                if little {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| "invalid UTF-16".to_string())
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|e| format!("invalid UTF-8 after its byte-order mark ({e})")),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => match std::str::from_utf8(bytes) {
            // NUL is UTF-8, but no requirement holds one: UTF-16 without its byte-order mark.
            Ok(text) if text.contains('\0') => Err(
                "it holds NUL bytes (UTF-16 without a byte-order mark?), which pip reads as garbage"
                    .to_string(),
            ),
            Ok(text) => Ok(text.to_string()),
            Err(e) => Err(format!("not UTF-8 ({e}) and no UTF-16 byte-order mark")),
        },
    }
}

/// Builds the bundle from the selected entries (any order), or says every reason it is
/// refused. `spec_wsgi_path` is what the environment's spec says, if anything.
pub fn build(
    entries: Vec<Entry>,
    spec_wsgi_path: Option<&str>,
) -> Result<Bundle, Vec<BundleProblem>> {
    build_within(entries, spec_wsgi_path, MAX_BUNDLE_BYTES)
}

/// [`build`] with another size limit (for tests).
pub fn build_within(
    mut entries: Vec<Entry>,
    spec_wsgi_path: Option<&str>,
    limit: usize,
) -> Result<Bundle, Vec<BundleProblem>> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut problems = Vec::new();
    let file = |path: &str| {
        entries.iter().find_map(|e| match &e.data {
            EntryData::File { bytes, .. } if e.path == path => Some(bytes.as_slice()),
            _ => None,
        })
    };
    let config_files: Vec<(&str, &[u8])> = entries
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::File { bytes, .. } => Some((e.path.as_str(), bytes.as_slice())),
            _ => None,
        })
        .collect();
    let mut ebextensions = match ebextensions::read(&config_files) {
        Ok(ext) => ext,
        Err(errors) => {
            problems.extend(errors.into_iter().map(BundleProblem::EbExtensions));
            ebextensions::EbExtensions::default()
        }
    };
    if let Some(text) = file(cron::FILE) {
        match cron::read(text) {
            Ok(tasks) => ebextensions.cron = tasks,
            Err(errors) => problems.extend(errors.into_iter().map(BundleProblem::Cron)),
        }
    }
    let wsgi_path = spec_wsgi_path
        .map(str::to_string)
        .or_else(|| {
            ebextensions
                .option_settings
                .iter()
                .rev()
                .find(|o| {
                    o.namespace == "aws:elasticbeanstalk:container:python" && o.option == "WSGIPath"
                })
                .map(|o| o.value.clone())
        })
        .unwrap_or_else(|| DEFAULT_WSGI_PATH.to_string());
    let wsgi_path = wsgi_path.as_str();
    // Links are judged on the finished tree: each one followed through the others.
    let links: BTreeMap<&str, &str> = entries
        .iter()
        .filter_map(|e| match &e.data {
            EntryData::Symlink { target } => Some((e.path.as_str(), target.as_str())),
            EntryData::File { .. } => None,
        })
        .collect();
    for entry in &entries {
        match &entry.data {
            EntryData::Symlink { target }
                if resolve_link(&links, &entry.path, target).is_none() =>
            {
                problems.push(BundleProblem::SymlinkLeavesTree {
                    path: entry.path.clone(),
                    target: target.clone(),
                });
            }
            EntryData::File { mode, .. }
                if (entry.path.starts_with(".platform/hooks/")
                    || entry.path.starts_with(".platform/confighooks/"))
                    && mode & 0o111 == 0 =>
            {
                problems.push(BundleProblem::HookNotExecutable {
                    path: entry.path.clone(),
                });
            }
            _ => {}
        }
    }
    match file("Procfile") {
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => problems.extend(check_procfile(text)),
            Err(_) => problems.push(BundleProblem::ProcfileLine {
                line: 1,
                text: "(not UTF-8 text)".into(),
            }),
        },
        // A WSGI path that is not `module:callable` names no file: the settings' check says so.
        None if crate::spec::checks::wsgi_path(wsgi_path).is_err() => {}
        None => {
            let (candidates, module_file, callable) = module_files(wsgi_path);
            if !candidates.iter().any(|c| file(c).is_some()) {
                problems.push(BundleProblem::NoEntryPoint {
                    wsgi_path: wsgi_path.to_string(),
                    module_file,
                    callable,
                });
            }
        }
    }
    if let Some(bytes) = file("requirements.txt") {
        if let Err(reason) = decode_requirements(bytes) {
            problems.push(BundleProblem::UnreadableRequirements {
                path: "requirements.txt".into(),
                reason,
            });
        }
    }
    let unpacked: u64 = entries
        .iter()
        .map(|e| match &e.data {
            EntryData::File { bytes, .. } => bytes.len() as u64,
            EntryData::Symlink { target } => target.len() as u64,
        })
        .sum();
    if unpacked > limit as u64 {
        problems.push(BundleProblem::UnpackedTooLarge {
            size: unpacked,
            limit,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let bytes = zip::write(&entries).map_err(|e| vec![BundleProblem::Zip(e.to_string())])?;
    if bytes.len() > limit {
        return Err(vec![BundleProblem::TooLarge {
            size: bytes.len(),
            limit,
        }]);
    }
    let sha256 = sha256_hex(&bytes);
    Ok(Bundle {
        sha256,
        paths: entries.into_iter().map(|e| e.path).collect(),
        bytes,
        ebextensions,
        wsgi_path: wsgi_path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, mode: u32, text: &str) -> Entry {
        Entry {
            path: path.into(),
            data: EntryData::File {
                mode,
                bytes: text.as_bytes().to_vec(),
            },
        }
    }

    fn app() -> Vec<Entry> {
        vec![
            file("application.py", 0o644, "application = object()\n"),
            file("requirements.txt", 0o644, "flask\n"),
            file(".platform/hooks/predeploy/01.sh", 0o755, "#!/bin/sh\n"),
        ]
    }

    #[test]
    fn the_same_entries_in_any_order_give_the_same_bytes() {
        let a = build(app(), None).unwrap();
        let mut reversed = app();
        reversed.reverse();
        let b = build(reversed, None).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(
            a.paths,
            vec![
                ".platform/hooks/predeploy/01.sh",
                "application.py",
                "requirements.txt"
            ]
        );
        let label = a.default_label(1_796_043_600);
        assert_eq!(label, format!("app-261130_130000-{}", &a.sha256[..7]));
    }

    #[test]
    fn each_refusal_names_the_file() {
        let mut entries = app();
        entries.push(file(".platform/hooks/prebuild/02.sh", 0o644, "#!/bin/sh\n"));
        entries.push(Entry {
            path: "data/link".into(),
            data: EntryData::Symlink {
                target: "../../etc/passwd".into(),
            },
        });
        entries.push(file(
            "Procfile",
            0o644,
            "web: gunicorn app:app\nworker python w.py\n",
        ));
        let problems = build(entries, None).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("chmod +x .platform/hooks/prebuild/02.sh")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("data/link is a symbolic link")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("Procfile:2: `worker python w.py`")),
            "{text:?}"
        );
        let invalid_utf16 = build(
            vec![
                file("application.py", 0o644, "x"),
                Entry {
                    path: "requirements.txt".into(),
                    data: EntryData::File {
                        mode: 0o644,
                        bytes: vec![0xFF, 0xFE, 0x00],
                    },
                },
            ],
            None,
        )
        .unwrap_err();
        assert!(invalid_utf16[0]
            .to_string()
            .starts_with("requirements.txt cannot be read by pip"));
        let no_entry = build(vec![file("main.py", 0o644, "")], None).unwrap_err();
        assert!(
            no_entry[0].to_string().contains("no application.py"),
            "{no_entry:?}"
        );
        // A dotted WSGI path names a module in a package.
        assert!(build(
            vec![file("mysite/wsgi.py", 0o644, "")],
            Some("mysite.wsgi:application")
        )
        .is_ok());
    }

    #[test]
    fn a_bundle_over_the_limit_is_refused() {
        let problems = build_within(app(), None, 100).unwrap_err();
        assert!(matches!(
            problems[0],
            BundleProblem::TooLarge { limit: 100, .. }
        ));
        assert!(problems[0]
            .to_string()
            .contains("over Elastic Beanstalk's limit"));
    }

    #[test]
    fn requirements_in_utf8_or_utf16_with_a_byte_order_mark_are_read() {
        assert_eq!(decode_requirements(b"flask\n").unwrap(), "flask\n");
        assert_eq!(
            decode_requirements(b"\xEF\xBB\xBFflask\n").unwrap(),
            "flask\n"
        );
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("flask\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode_requirements(&utf16le).unwrap(), "flask\n");
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("flask\n".encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        assert_eq!(decode_requirements(&utf16be).unwrap(), "flask\n");
        assert!(decode_requirements(b"fl\xFFask").is_err());
        // UTF-16LE without its byte-order mark: valid UTF-8 full of NULs, still refused.
        let bare: Vec<u8> = "flask\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(decode_requirements(&bare).unwrap_err().contains("NUL"));
    }

    #[test]
    fn links_inside_the_folder_stay_and_those_leaving_it_are_found() {
        let none = BTreeMap::new();
        assert_eq!(resolve_link(&none, "a/b", "c"), Some("a/c".into()));
        assert_eq!(resolve_link(&none, "a/b", "../c"), Some("c".into()));
        assert_eq!(resolve_link(&none, "a/b", "../../c"), None);
        assert_eq!(resolve_link(&none, "a", "/etc/passwd"), None);
    }

    #[test]
    fn a_chain_of_links_is_followed_as_the_file_system_would() {
        // `static` goes down to a link, then climbs from where that link leads: out.
        let deep = "z1/z2/z3/z4/z5/z6/z7/z8/z9/z10";
        let escape = format!("{deep}/D/{}etc", "../".repeat(11));
        let back = format!("{}x", "../".repeat(10));
        let d = format!("{deep}/D");
        let links = BTreeMap::from([("static", escape.as_str()), (d.as_str(), back.as_str())]);
        assert_eq!(resolve_link(&links, &d, &back), Some("x".into()));
        assert_eq!(resolve_link(&links, "static", &escape), None);
        // Read lexically, the same target stays inside.
        assert!(resolve_link(&BTreeMap::new(), "static", &escape).is_some());
        // A link to a link inside is fine; links that loop are refused.
        let inside = BTreeMap::from([("a", "b"), ("b", "assets")]);
        assert_eq!(resolve_link(&inside, "a", "b"), Some("assets".into()));
        let looped = BTreeMap::from([("a", "b"), ("b", "a")]);
        assert_eq!(resolve_link(&looped, "a", "b"), None);
    }

    #[test]
    fn never_bundled_folders_and_ignore_rules_decide_with_a_reason() {
        let selection = Selection::from_files(None, Some("*.pyc\n!keep.pyc\n"));
        assert!(matches!(
            decide(&selection, ".git", true),
            Decision::Exclude(_)
        ));
        assert!(matches!(
            decide(&selection, ".beanpole", true),
            Decision::Exclude(_)
        ));
        assert_eq!(
            decide(&selection, "a/x.pyc", false),
            Decision::Exclude(".gitignore:1 (`*.pyc`)".into())
        );
        assert!(
            matches!(decide(&selection, "keep.pyc", false), Decision::Include(r) if r.contains("re-included"))
        );
        assert_eq!(
            decide(&selection, ".ebextensions", true),
            Decision::Include(String::new())
        );
        // .ebignore wins over .gitignore.
        let eb = Selection::from_files(Some("secret.txt\n"), Some("*.pyc\n"));
        assert!(matches!(decide(&eb, "a.pyc", false), Decision::Include(_)));
        assert!(matches!(
            decide(&eb, "secret.txt", false),
            Decision::Exclude(_)
        ));
    }
}
