//! An instance's private filesystem view. The local fleet and `local run` play EC2 instances
//! on this machine; each runs its engine (and so every hook, `commands`, `container_commands`,
//! `files` entry and the application) in a Linux mount namespace where Elastic Beanstalk's
//! folders ([`PRIVATE`]: `/var/app`, `/var/log`, `/opt/elasticbeanstalk`, `/etc/nginx`, …) are
//! that instance's own folders on this machine and everything else of the host is read-only.
//! Scripts then run with the exact paths they have on an instance, several instances each see
//! their own `/var/app/current`, and none can change the host.
//!
//! The mechanism is bubblewrap (`bwrap`, Debian's `bubblewrap` package): it builds such views
//! as root and, where the kernel allows unprivileged user namespaces, as any user, and its
//! setup (mount order, read-only remounts, the user namespace's identity maps) is Flatpak's,
//! reviewed and maintained, where `unshare(2)`/`mount(2)` called from a forked child of this
//! multi-threaded program would be Beanpole's own unsafe code. Where it is missing or a view
//! cannot be made (not Linux, user namespaces disabled), instances keep their paths under their
//! folder ([`Isolation::Rooted`]) and the fleet says so once at start.
//!
//! A folder such as `/var/app` does not exist on this machine, and a mount needs a folder to
//! mount on; the view therefore replaces its nearest existing ancestor (`/var`) with an empty
//! file system holding read-only mounts of the host's entries there, the new mount point, and
//! nothing writable ([`arguments`], computed from a [`Host`] so it is tested without one).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// An instance's own folders in its view: EB's paths, and Beanpole's (`/opt/beanpole`, the
/// engine; `/var/lib/beanpole`, its state; `/var/pids`, `/run`, its processes').
pub const PRIVATE: &[&str] = &[
    "/var/app",
    "/var/log",
    "/var/pids",
    "/var/lib/beanpole",
    "/opt/elasticbeanstalk",
    "/opt/beanpole",
    "/etc/nginx",
    "/etc/httpd",
    "/etc/cron.d",
    "/etc/aws-sqsd.d",
    "/home/webapp",
    "/tmp",
    "/run",
];

/// The environment variable that tells the engine it plays an instance in a view (EB's paths,
/// but a developer's machine: no dnf, no systemd, no metadata service, the fleet's ports).
pub const VIEW_VARIABLE: &str = "BEANPOLE_INSTANCE_VIEW";

/// How this machine plays instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Each in its own view, made by this `bwrap`.
    View { bwrap: PathBuf },
    /// Under its folder, with this reason.
    Rooted { why: String },
}

impl Isolation {
    /// What differs from an instance when views are not available (said once at start).
    pub fn warning(&self) -> Option<String> {
        match self {
            Isolation::View { .. } => None,
            Isolation::Rooted { why } => Some(format!(
                "instances run without a private filesystem view ({why}): their paths are under their folder (FOLDER/var/app/current, not /var/app/current), so scripts that name EB's paths fail, and `.ebextensions` commands and hooks run on this machine itself; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) to give each instance EB's paths"
            )),
        }
    }
}

/// How this machine plays instances, found out once (`BEANPOLE_INSTANCE_VIEW=off` asks for
/// rooted paths).
pub fn isolation() -> &'static Isolation {
    static FOUND: OnceLock<Isolation> = OnceLock::new();
    FOUND.get_or_init(detect)
}

fn detect() -> Isolation {
    if std::env::var(VIEW_VARIABLE).is_ok_and(|v| v == "off") {
        return Isolation::Rooted {
            why: format!("{VIEW_VARIABLE}=off"),
        };
    }
    if !cfg!(target_os = "linux") {
        return Isolation::Rooted {
            why: "mount namespaces are Linux's".into(),
        };
    }
    let Some(bwrap) = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        return Isolation::Rooted {
            why: "bubblewrap (`bwrap`) is not installed".into(),
        };
    };
    // A view for a scratch instance, exactly as an instance gets one.
    let probe = std::env::temp_dir().join(format!("beanpole-view-probe-{}", std::process::id()));
    let view = InstanceView {
        root: probe.clone(),
        isolation: Isolation::View {
            bwrap: bwrap.clone(),
        },
    };
    let result = view.command("true", &[]).and_then(|mut c| {
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())
    });
    let _ = std::fs::remove_dir_all(&probe);
    match result {
        Ok(out) if out.status.success() => Isolation::View { bwrap },
        Ok(out) => Isolation::Rooted {
            why: format!(
                "bwrap could not make one: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        },
        Err(e) => Isolation::Rooted {
            why: format!("bwrap could not make one: {e}"),
        },
    }
}

/// One instance's folder on this machine and how it is played.
#[derive(Debug, Clone)]
pub struct InstanceView {
    pub root: PathBuf,
    pub isolation: Isolation,
}

impl InstanceView {
    /// The instance whose folder is `root`, played as this machine can.
    pub fn new(root: &Path) -> InstanceView {
        InstanceView {
            root: std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
            isolation: isolation().clone(),
        }
    }

    pub fn isolated(&self) -> bool {
        matches!(self.isolation, Isolation::View { .. })
    }

    /// The engine's `--root`: `/` in a view, the folder otherwise.
    pub fn engine_root(&self) -> PathBuf {
        if self.isolated() {
            PathBuf::from("/")
        } else {
            self.root.clone()
        }
    }

    /// Where the instance's absolute `path` is on this machine.
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// `program` run as the instance: in its view (with `VIEW_VARIABLE` set and the host paths
    /// the process's `PATH` and environment name visible), or as is (with `BEANPOLE_ROOT`).
    /// `visible`: more values naming host paths the process needs (a document, a wheelhouse).
    pub fn command(&self, program: &str, visible: &[OsString]) -> Result<Command, String> {
        match &self.isolation {
            Isolation::Rooted { .. } => {
                let mut command = Command::new(program);
                command.env("BEANPOLE_ROOT", &self.root);
                Ok(command)
            }
            Isolation::View { bwrap } => {
                for folder in PRIVATE {
                    let path = self.host_path(folder);
                    std::fs::create_dir_all(&path)
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                }
                let passthrough = passthrough(
                    std::env::vars_os()
                        .map(|(_, v)| v)
                        .chain(visible.iter().cloned()),
                );
                let mut args = arguments(&RealHost, &self.root, &passthrough)?;
                // SAFETY: geteuid has no preconditions and cannot fail.
                if unsafe { libc::geteuid() } != 0 {
                    // EB runs hooks and commands as root: root inside, this user outside.
                    let extra = ["--unshare-user", "--uid", "0", "--gid", "0"];
                    args.splice(0..0, extra.iter().map(OsString::from));
                }
                let mut command = Command::new(bwrap);
                command
                    .args(args)
                    .arg("--chdir")
                    .arg("/")
                    .arg("--setenv")
                    .arg(VIEW_VARIABLE)
                    .arg("1")
                    .arg("--unsetenv")
                    .arg("BEANPOLE_ROOT")
                    .arg("--")
                    .arg(program)
                    .env(VIEW_VARIABLE, "1")
                    .env_remove("BEANPOLE_ROOT");
                Ok(command)
            }
        }
    }
}

/// What a view builder needs to know of a path on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Folder,
    Link(PathBuf),
    /// A file, socket, device…
    Other,
}

/// The host's file tree, as the view's arguments read it.
pub trait Host {
    fn entry(&self, path: &Path) -> Option<Entry>;
    /// The entries of a folder, with their kinds.
    fn children(&self, path: &Path) -> Vec<(PathBuf, Entry)>;
}

struct RealHost;

impl Host for RealHost {
    fn entry(&self, path: &Path) -> Option<Entry> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(if meta.file_type().is_symlink() {
            Entry::Link(std::fs::read_link(path).ok()?)
        } else if meta.is_dir() {
            Entry::Folder
        } else {
            Entry::Other
        })
    }

    fn children(&self, path: &Path) -> Vec<(PathBuf, Entry)> {
        let mut found: Vec<(PathBuf, Entry)> = std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let p = e.path();
                        self.entry(&p).map(|k| (p, k))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

/// The host paths named in `values` (a `PATH`, `PIP_FIND_LINKS=/x/wheelhouse`,
/// `file:///…`) that lie under one of an instance's own folders (a project under `/tmp`): for
/// each, its top folder there (`/tmp/project`), shown read-only at the same path.
pub fn passthrough(values: impl Iterator<Item = OsString>) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    for value in values {
        let value = value.to_string_lossy().into_owned();
        for part in value.split([':', ' ', ',']) {
            let part = part.trim_start_matches("file://");
            if !part.starts_with('/') {
                continue;
            }
            for folder in PRIVATE {
                if let Ok(rest) = Path::new(part).strip_prefix(folder) {
                    if let Some(first) = rest.components().next() {
                        let top = Path::new(folder).join(first);
                        if top.exists() {
                            found.insert(top);
                        }
                    }
                }
            }
        }
    }
    found.into_iter().collect()
}

/// bwrap's arguments for the view of the instance whose folder is `root`: the host read-only;
/// each folder of [`PRIVATE`] bound to the instance's; the nearest existing ancestor of one
/// that is missing on the host (and not `/`) made an empty read-only file system holding the
/// host's entries there read-only; `passthrough` paths read-only over the instance's folders.
pub fn arguments(
    host: &dyn Host,
    root: &Path,
    passthrough: &[PathBuf],
) -> Result<Vec<OsString>, String> {
    let targets: Vec<PathBuf> = PRIVATE.iter().map(PathBuf::from).collect();
    let mut skeletons: BTreeSet<PathBuf> = BTreeSet::new();
    for target in &targets {
        if host.entry(target) == Some(Entry::Folder) {
            continue;
        }
        let parent = target
            .ancestors()
            .skip(1)
            .find(|a| host.entry(a) == Some(Entry::Folder))
            .unwrap_or(Path::new("/"));
        if parent == Path::new("/") {
            return Err(format!(
                "{} cannot be made: this machine has no folder above it but /",
                target.display()
            ));
        }
        skeletons.insert(parent.to_path_buf());
    }
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&std::ffi::OsStr]| args.extend(items.iter().map(OsString::from));
    push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
    push(&["--dev-bind".as_ref(), "/dev".as_ref(), "/dev".as_ref()]);
    // Made inside a skeleton: every target and skeleton below it, and the folders between.
    let made: Vec<&Path> = targets
        .iter()
        .map(PathBuf::as_path)
        .chain(skeletons.iter().map(PathBuf::as_path))
        .collect();
    for skeleton in &skeletons {
        push(&["--tmpfs".as_ref(), skeleton.as_os_str()]);
        for (child, entry) in host.children(skeleton) {
            if made.iter().any(|m| m.starts_with(&child)) {
                continue;
            }
            match entry {
                Entry::Link(to) => push(&["--symlink".as_ref(), to.as_os_str(), child.as_os_str()]),
                Entry::Folder | Entry::Other => {
                    push(&["--ro-bind".as_ref(), child.as_os_str(), child.as_os_str()])
                }
            }
        }
        let mut folders: BTreeSet<&Path> = BTreeSet::new();
        for m in &made {
            if m.starts_with(skeleton) && m != skeleton {
                for a in m.ancestors() {
                    if a == skeleton.as_path() {
                        break;
                    }
                    folders.insert(a);
                }
            }
        }
        for folder in folders {
            push(&["--dir".as_ref(), folder.as_os_str()]);
        }
        push(&["--remount-ro".as_ref(), skeleton.as_os_str()]);
    }
    for target in &targets {
        let own = root.join(target.strip_prefix("/").unwrap_or(target));
        push(&["--bind".as_ref(), own.as_os_str(), target.as_os_str()]);
    }
    for path in passthrough {
        push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A host given as a list of paths and kinds.
    struct Fake(BTreeMap<PathBuf, Entry>);

    impl Host for Fake {
        fn entry(&self, path: &Path) -> Option<Entry> {
            if path == Path::new("/") {
                return Some(Entry::Folder);
            }
            self.0.get(path).cloned()
        }
        fn children(&self, path: &Path) -> Vec<(PathBuf, Entry)> {
            self.0
                .iter()
                .filter(|(p, _)| p.parent() == Some(path))
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect()
        }
    }

    fn debian() -> Fake {
        let folders = [
            "/var",
            "/var/lib",
            "/var/lib/apt",
            "/var/log",
            "/var/cache",
            "/opt",
            "/etc",
            "/etc/nginx",
            "/etc/cron.d",
            "/home",
            "/home/ann",
            "/tmp",
            "/run",
            "/usr",
        ];
        let mut map: BTreeMap<PathBuf, Entry> = folders
            .iter()
            .map(|f| (PathBuf::from(f), Entry::Folder))
            .collect();
        map.insert("/var/run".into(), Entry::Link("/run".into()));
        map.insert("/etc/hostname".into(), Entry::Other);
        Fake(map)
    }

    fn text(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn missing_folders_get_a_read_only_skeleton_of_their_parent() {
        let args = text(&arguments(&debian(), Path::new("/i/1"), &[]).unwrap());
        // /var is rebuilt: its entries read-only, its link kept, the new mount points made,
        // then read-only; /var/lib likewise for /var/lib/beanpole.
        for expected in [
            "--ro-bind / / --dev-bind /dev /dev --tmpfs /etc ",
            "--tmpfs /var --ro-bind /var/cache /var/cache",
            "--symlink /run /var/run",
            "--dir /var/app",
            "--remount-ro /var --tmpfs /var/lib --ro-bind /var/lib/apt /var/lib/apt --dir /var/lib/beanpole --remount-ro /var/lib",
            "--tmpfs /opt --dir /opt/beanpole --dir /opt/elasticbeanstalk --remount-ro /opt",
            "--ro-bind /etc/hostname /etc/hostname",
            "--tmpfs /home --ro-bind /home/ann /home/ann --dir /home/webapp --remount-ro /home",
            "--bind /i/1/var/app /var/app",
            "--bind /i/1/tmp /tmp",
            "--bind /i/1/etc/httpd /etc/httpd",
        ] {
            assert!(args.contains(expected), "{expected}\nnot in\n{args}");
        }
        // Folders that exist are bound over, never rebuilt; /var/lib is not read-only-bound
        // into /var (it is rebuilt itself).
        assert!(!args.contains("--tmpfs /tmp") && !args.contains("--tmpfs /run"));
        assert!(!args.contains("--ro-bind /var/lib /var/lib"), "{args}");
        // Every private folder is bound after every skeleton is read-only.
        let last_remount = args.rfind("--remount-ro").unwrap();
        assert!(args.find("--bind /i/1").unwrap() > last_remount);
    }

    #[test]
    fn a_folder_with_no_parent_but_the_root_is_refused() {
        let mut host = debian();
        host.0.retain(|p, _| !p.starts_with("/opt"));
        let e = arguments(&host, Path::new("/i/1"), &[]).unwrap_err();
        assert!(e.contains("/opt/elasticbeanstalk"), "{e}");
    }

    #[test]
    fn passthrough_finds_the_top_folder_under_an_instances_own() {
        let here = std::env::temp_dir().join(format!("view-pass-{}", std::process::id()));
        std::fs::create_dir_all(here.join("venv/bin")).unwrap();
        let tmp = std::env::temp_dir();
        let values = [
            format!("/usr/bin:{}", here.join("venv/bin").display()),
            format!("file://{}", here.join("venv").display()),
            "relative:/nonexistent/x".to_string(),
        ];
        let found = passthrough(values.iter().map(OsString::from));
        std::fs::remove_dir_all(&here).unwrap();
        if tmp == Path::new("/tmp") {
            assert_eq!(found, vec![here]);
        }
    }

    #[test]
    fn the_engine_names_the_same_own_folders() {
        let paths = include_str!("../platform/engine/beanpole_engine/paths.py");
        let start = paths.find("OWN_FOLDERS = [").unwrap();
        let end = start + paths[start..].find(']').unwrap();
        let listed: Vec<&str> = paths[start..end]
            .lines()
            .skip(1)
            .map(|l| l.trim().trim_end_matches(',').trim_matches('"'))
            .collect();
        assert_eq!(listed, PRIVATE);
    }
}
