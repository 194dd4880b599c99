//! `.ebextensions/*.config`: Elastic Beanstalk's configuration files, read from a bundle into
//! what the platform engine runs (`packages`, `files`, `commands`, `container_commands`) and the
//! `option_settings` that fill what the spec leaves open. Files are read in alphabetical order,
//! as EB does. A file that is not YAML (or JSON) refuses the bundle, naming the file; a key
//! Beanpole does not carry out is reported by file and key, never dropped in silence.

use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;

/// What all the configuration files of a bundle ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EbExtensions {
    pub option_settings: Vec<OptionSetting>,
    pub packages: Vec<Package>,
    pub files: Vec<FileSpec>,
    pub commands: Vec<Command>,
    pub container_commands: Vec<Command>,
    /// `Resources:`: CloudFormation resources the version declares (new ones, and overrides
    /// of EB's own, which the deploy maps onto the spec or refuses).
    #[serde(default)]
    pub resources: Vec<BundleResource>,
    /// The bundle's `cron.yaml` tasks (a worker's periodic tasks).
    #[serde(default)]
    pub cron: Vec<crate::model::worker::CronTask>,
    /// Keys read but not carried out, with what to do instead.
    pub unsupported: Vec<Unsupported>,
}

/// One entry of a `Resources:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleResource {
    /// `.ebextensions/NAME.config`
    pub file: String,
    /// Its logical id.
    pub name: String,
    /// Its `Type`.
    pub type_name: String,
    /// The whole entry (`Type`, `Properties`, `DependsOn`…) as JSON text, YAML's short forms
    /// of the functions (`!Ref`, `!GetAtt`…) written as CloudFormation's long ones.
    pub body: String,
}

impl BundleResource {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The logical names its functions refer to (`Ref`, `Fn::GetAtt`, `${…}` of `Fn::Sub`).
    pub fn names(&self) -> Vec<String> {
        fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
            use serde_json::Value as J;
            match value {
                J::Object(map) => {
                    for (key, inner) in map {
                        match (key.as_str(), inner) {
                            ("Ref", J::String(name)) => found.push(name.clone()),
                            ("Fn::GetAtt", J::Array(parts)) => {
                                found.extend(parts.first().and_then(J::as_str).map(str::to_string))
                            }
                            ("Fn::Sub", J::String(text)) => {
                                let mut rest = text.as_str();
                                while let Some(start) = rest.find("${") {
                                    let after = &rest[start + 2..];
                                    let end = after.find('}').unwrap_or(after.len());
                                    let name = &after[..end];
                                    if !name.starts_with('!') {
                                        found.push(
                                            name.split('.').next().unwrap_or(name).to_string(),
                                        );
                                    }
                                    rest = &after[end.min(after.len())..];
                                }
                            }
                            _ => {}
                        }
                        walk(inner, found);
                    }
                }
                J::Array(items) => items.iter().for_each(|v| walk(v, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(&self.json(), &mut found);
        found
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSetting {
    /// `.ebextensions/NAME.config`
    pub file: String,
    pub namespace: String,
    pub option: String,
    pub value: String,
}

/// A system package, installed with the instance's package manager (dnf on Amazon Linux 2023).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub file: String,
    pub name: String,
    /// Empty: any version.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSpec {
    pub file: String,
    /// Absolute path on the instance.
    pub path: String,
    pub content: String,
    /// `plain` or `base64`.
    pub encoding: String,
    /// Octal, as written (`"000755"`); empty: `000644`.
    pub mode: String,
    pub owner: String,
    pub group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub file: String,
    pub name: String,
    /// A string runs with `/bin/sh -c`; a list runs as the program and its arguments.
    pub command: CommandLine,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    /// Runs first; the command runs only if it exits 0.
    pub test: Option<String>,
    pub ignore_errors: bool,
    /// `container_commands` only: run on one instance per deployment.
    pub leader_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

/// A key of a bundle's configuration files that Beanpole does not carry out, or (`runs`) one
/// it carries out that will not do what its author meant: a warning, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}: `{key}` {}{reason}", if *.runs { "runs, but " } else { "is not carried out: " })]
pub struct Unsupported {
    pub file: String,
    pub key: String,
    pub reason: String,
    /// It runs (a command naming a path of Amazon Linux 1, say).
    #[serde(default)]
    pub runs: bool,
}

impl EbExtensions {
    /// The logical names the CloudFormation functions of option values and `files` content
    /// refer to.
    pub fn function_references(&self) -> std::collections::BTreeSet<String> {
        self.option_settings
            .iter()
            .map(|o| o.value.as_str())
            .chain(
                self.files
                    .iter()
                    .filter(|f| f.encoding == "plain")
                    .map(|f| f.content.as_str()),
            )
            .flat_map(super::cfn::references)
            .chain(self.resources.iter().flat_map(|r| r.names()))
            .collect()
    }

    /// The `(resource, attribute)` pairs the functions of option values and `files` content
    /// read with `Fn::GetAtt`.
    pub fn attribute_references(&self) -> std::collections::BTreeSet<(String, String)> {
        self.option_settings
            .iter()
            .map(|o| o.value.as_str())
            .chain(
                self.files
                    .iter()
                    .filter(|f| f.encoding == "plain")
                    .map(|f| f.content.as_str()),
            )
            .flat_map(super::cfn::attribute_references)
            .collect()
    }

    /// Whether any option value or `files` content holds a CloudFormation function.
    pub fn has_functions(&self) -> bool {
        self.option_settings
            .iter()
            .any(|o| super::cfn::has_functions(&o.value))
            || self
                .files
                .iter()
                .any(|f| f.encoding == "plain" && super::cfn::has_functions(&f.content))
    }

    /// The application's own options as `Fn::GetOptionSetting` reads them: every option value
    /// that holds no function, the later file's winning.
    pub fn plain_options(&self) -> BTreeMap<(String, String), String> {
        self.option_settings
            .iter()
            .filter(|o| !super::cfn::has_functions(&o.value))
            .map(|o| ((o.namespace.clone(), o.option.clone()), o.value.clone()))
            .collect()
    }

    /// A copy with every function in option values and (plain) `files` content resolved, as
    /// EB resolves them before anything runs; each one that cannot be, by file and key.
    pub fn with_functions_resolved(
        &self,
        ctx: &super::cfn::CfnContext,
    ) -> Result<EbExtensions, Vec<ConfigError>> {
        let mut out = self.clone();
        let mut errors = Vec::new();
        for o in &mut out.option_settings {
            match super::cfn::resolve_text(&o.value, ctx) {
                Ok(v) => o.value = v,
                Err(e) => errors.push(ConfigError {
                    file: o.file.clone(),
                    message: format!("option_settings.{}.{}: {e}", o.namespace, o.option),
                }),
            }
        }
        for f in out.files.iter_mut().filter(|f| f.encoding == "plain") {
            match super::cfn::resolve_text(&f.content, ctx) {
                Ok(v) => f.content = v,
                Err(e) => errors.push(ConfigError {
                    file: f.file.clone(),
                    message: format!("files.{}.content: {e}", f.path),
                }),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// A configuration file Beanpole cannot read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

/// Top-level keys EB knows that Beanpole does not carry out, with what to do instead.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "groups",
        "create the group in a `commands` entry (groupadd)",
    ),
    ("users", "create the user in a `commands` entry (useradd)"),
    ("sources", "download and unpack it in a `commands` entry"),
    (
        "services",
        "enable the service in a `commands` entry (systemctl)",
    ),
    ("Outputs", "declare outputs in the Beanpole spec"),
];

/// Reads every `.ebextensions/*.config` among `files` (path, bytes), alphabetically.
pub fn read(files: &[(&str, &[u8])]) -> Result<EbExtensions, Vec<ConfigError>> {
    let mut configs: Vec<&(&str, &[u8])> = files
        .iter()
        .filter(|(path, _)| {
            path.strip_prefix(".ebextensions/")
                .is_some_and(|name| !name.contains('/') && name.ends_with(".config"))
        })
        .collect();
    configs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = EbExtensions::default();
    let mut errors = Vec::new();
    for (path, bytes) in configs {
        if let Err(message) = read_one(path, bytes, &mut out) {
            errors.push(ConfigError {
                file: path.to_string(),
                message,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn read_one(file: &str, bytes: &[u8], out: &mut EbExtensions) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    if text.trim().is_empty() {
        return Ok(());
    }
    let document: Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        format!("{at}not valid YAML or JSON: {e}")
    })?;
    let Value::Mapping(top) = document else {
        return Err("expected a mapping of keys such as option_settings, files, commands".into());
    };
    let unsupported = |out: &mut EbExtensions, key: String, reason: &str| {
        out.unsupported.push(Unsupported {
            file: file.to_string(),
            key,
            reason: reason.to_string(),
            runs: false,
        })
    };
    for (key, value) in &top {
        let key = scalar(key).unwrap_or_default();
        match key.as_str() {
            "option_settings" => read_options(file, value, out)?,
            "Resources" => read_resources(file, value, out)?,
            "packages" => {
                let managers = mapping(value, "packages")?;
                for (manager, list) in managers {
                    let manager = scalar(manager).unwrap_or_default();
                    if manager != "yum" {
                        unsupported(
                            out,
                            format!("packages.{manager}"),
                            "only yum packages are installed (dnf on Amazon Linux 2023); install Python packages through requirements.txt",
                        );
                        continue;
                    }
                    for (name, versions) in mapping(list, "packages.yum")? {
                        let name = scalar(name).unwrap_or_default();
                        let versions = match versions {
                            Value::Sequence(v) => v.iter().filter_map(scalar).collect(),
                            Value::Null => Vec::new(),
                            other => vec![scalar(other).unwrap_or_default()],
                        };
                        check_package_name(&name)?;
                        out.packages.push(Package {
                            file: file.to_string(),
                            name,
                            version: versions.into_iter().next().unwrap_or_default(),
                        });
                    }
                }
            }
            "files" => {
                for (path, spec) in mapping(value, "files")? {
                    let path = scalar(path).unwrap_or_default();
                    if !path.starts_with('/') {
                        return Err(format!("files: `{path}` is not an absolute path"));
                    }
                    if let Some(reason) = amazon_linux_1_path(&path) {
                        unsupported(out, format!("files.{path}"), reason);
                    }
                    let spec = mapping(spec, &format!("files.{path}"))?;
                    let get = |k: &str| spec.get(k).and_then(scalar);
                    if spec.get("source").is_some() {
                        unsupported(
                            out,
                            format!("files.{path}.source"),
                            "files are not downloaded; put the content in the bundle or use `content`",
                        );
                        continue;
                    }
                    let encoding = get("encoding").unwrap_or_else(|| "plain".into());
                    if encoding != "plain" && encoding != "base64" {
                        return Err(format!(
                            "files.{path}.encoding: `{encoding}` (plain or base64)"
                        ));
                    }
                    let mode = get("mode").unwrap_or_default();
                    if !mode.is_empty() && (mode.len() > 6 || !mode.chars().all(|c| ('0'..='7').contains(&c))) {
                        return Err(format!("files.{path}.mode: `{mode}` is not an octal mode like \"000755\""));
                    }
                    for k in spec.keys().filter_map(scalar) {
                        if !["content", "encoding", "mode", "owner", "group", "source", "authentication"]
                            .contains(&k.as_str())
                        {
                            unsupported(out, format!("files.{path}.{k}"), "not a key of a files entry");
                        }
                    }
                    out.files.push(FileSpec {
                        file: file.to_string(),
                        path,
                        content: get("content").unwrap_or_default(),
                        encoding,
                        mode,
                        owner: get("owner").unwrap_or_default(),
                        group: get("group").unwrap_or_default(),
                    });
                }
            }
            "commands" | "container_commands" => {
                let container = key == "container_commands";
                let mut commands = Vec::new();
                for (name, spec) in mapping(value, &key)? {
                    let name = scalar(name).unwrap_or_default();
                    commands.push(read_command(file, &key, name, spec, container, out)?);
                }
                // EB runs them in alphabetical order of their names.
                commands.sort_by(|a, b| a.name.cmp(&b.name));
                if container {
                    out.container_commands.extend(commands);
                } else {
                    out.commands.extend(commands);
                }
            }
            other => match UNSUPPORTED_KEYS.iter().find(|(k, _)| *k == other) {
                Some((_, reason)) => unsupported(out, other.to_string(), reason),
                None => unsupported(
                    out,
                    other.to_string(),
                    "not an .ebextensions key (option_settings, packages, files, commands, container_commands)",
                ),
            },
        }
    }
    Ok(())
}

fn read_command(
    file: &str,
    section: &str,
    name: String,
    spec: &Value,
    container: bool,
    out: &mut EbExtensions,
) -> Result<Command, String> {
    let at = format!("{section}.{name}");
    let spec = mapping(spec, &at)?;
    let command = match spec.get("command") {
        Some(Value::Sequence(items)) => {
            CommandLine::Argv(items.iter().filter_map(scalar).collect())
        }
        Some(v) => CommandLine::Shell(
            scalar(v).ok_or_else(|| format!("{at}.command: expected a string or a list"))?,
        ),
        None => return Err(format!("{at}: no `command`")),
    };
    let env = match spec.get("env") {
        Some(v) => mapping(v, &format!("{at}.env"))?
            .iter()
            .map(|(k, v)| (scalar(k).unwrap_or_default(), scalar(v).unwrap_or_default()))
            .collect(),
        None => BTreeMap::new(),
    };
    let flag = |k: &str| spec.get(k).and_then(scalar).is_some_and(|v| v == "true");
    for k in spec.keys().filter_map(scalar) {
        let known: &[&str] = if container {
            &[
                "command",
                "cwd",
                "env",
                "test",
                "ignoreErrors",
                "leader_only",
                "waitAfterCompletion",
            ]
        } else {
            &[
                "command",
                "cwd",
                "env",
                "test",
                "ignoreErrors",
                "waitAfterCompletion",
            ]
        };
        if !known.contains(&k.as_str()) {
            out.unsupported.push(Unsupported {
                file: file.to_string(),
                key: format!("{at}.{k}"),
                reason: format!("not a key of a {section} entry"),
                runs: false,
            });
        } else if k == "waitAfterCompletion" {
            out.unsupported.push(Unsupported {
                file: file.to_string(),
                key: format!("{at}.{k}"),
                reason: "no reboot happens after a command; the next command runs at once".into(),
                runs: false,
            });
        }
    }
    let texts = match &command {
        CommandLine::Shell(line) => vec![line.as_str()],
        CommandLine::Argv(argv) => argv.iter().map(String::as_str).collect(),
    };
    let cwd = spec.get("cwd").and_then(scalar);
    if let Some(reason) = texts
        .into_iter()
        .chain(cwd.as_deref())
        .find_map(amazon_linux_1_reference)
    {
        out.unsupported.push(Unsupported {
            file: file.to_string(),
            key: at.clone(),
            reason: reason.to_string(),
            runs: true,
        });
    }
    Ok(Command {
        file: file.to_string(),
        name,
        command,
        cwd,
        env,
        test: spec.get("test").and_then(scalar),
        ignore_errors: flag("ignoreErrors"),
        leader_only: container && flag("leader_only"),
    })
}

/// `option_settings` as a mapping of namespaces to options, or as a list of
/// `{namespace, option_name, value}`.
fn read_options(file: &str, value: &Value, out: &mut EbExtensions) -> Result<(), String> {
    let mut push = |namespace: String, option: String, value: String| {
        out.option_settings.push(OptionSetting {
            file: file.to_string(),
            namespace,
            option,
            value,
        })
    };
    match value {
        Value::Mapping(namespaces) => {
            for (namespace, options) in namespaces {
                let namespace = scalar(namespace).unwrap_or_default();
                for (option, value) in mapping(options, &format!("option_settings.{namespace}"))? {
                    push(
                        namespace.clone(),
                        scalar(option).unwrap_or_default(),
                        scalar(value).unwrap_or_default(),
                    );
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                let item = mapping(item, "option_settings")?;
                let get = |k: &str| item.get(k).and_then(scalar);
                let (Some(namespace), Some(option)) = (get("namespace"), get("option_name")) else {
                    return Err(
                        "option_settings: each list item needs `namespace` and `option_name`"
                            .into(),
                    );
                };
                push(namespace, option, get("value").unwrap_or_default());
            }
        }
        Value::Null => {}
        _ => return Err("option_settings: expected a mapping of namespaces or a list".into()),
    }
    Ok(())
}

/// Why a `files` path of the Amazon Linux 1 era does nothing on Amazon Linux 2023 (and so in
/// Beanpole), and what to write instead; None for any other path.
fn amazon_linux_1_path(path: &str) -> Option<&'static str> {
    if path.starts_with("/opt/elasticbeanstalk/hooks/") {
        Some("Amazon Linux 1's hook folders are not run on Amazon Linux 2023 (nor by Beanpole): the file is written but never runs; put the script in the bundle's .platform/hooks/prebuild, predeploy or postdeploy (appdeploy/pre: predeploy; appdeploy/post: postdeploy; configdeploy: .platform/confighooks)")
    } else if path.starts_with("/opt/elasticbeanstalk/support/") || path.starts_with("/opt/python/")
    {
        Some("an Amazon Linux 1 path: nothing reads it on Amazon Linux 2023 (nor in Beanpole); read properties with /opt/elasticbeanstalk/bin/get-config environment, and name the virtualenv /var/app/venv/*/")
    } else {
        None
    }
}

/// Why a command (or its `cwd`) naming a path of the Amazon Linux 1 platform fails on Amazon
/// Linux 2023, as on Beanpole's instances, and the path to name instead; None when it names
/// none.
fn amazon_linux_1_reference(text: &str) -> Option<&'static str> {
    macro_rules! why {
        ($instead:literal) => {
            concat!("it names an Amazon Linux 1 path, which does not exist on Amazon Linux 2023 (nor on Beanpole's instances): ", $instead)
        };
    }
    let found = |path: &str| text.contains(path);
    Some(if found("/opt/python/run/venv") {
        why!("activate the virtualenv with `source /var/app/venv/*/bin/activate`")
    } else if found("/opt/python/ondeck/app") {
        why!("the new version is staged in /var/app/staging, where container_commands run")
    } else if found("/opt/python/current/app") {
        why!("the running version is in /var/app/current (container_commands run in /var/app/staging)")
    } else if found("/opt/python/current/env") {
        why!("read the properties with `/opt/elasticbeanstalk/bin/get-config environment`, or from the environment variables commands get")
    } else if found("/opt/python/") {
        why!("the application is in /var/app/current, its virtualenv in /var/app/venv/*/")
    } else {
        return None;
    })
}

/// `Resources:`: each entry a mapping with a `Type`.
fn read_resources(file: &str, value: &Value, out: &mut EbExtensions) -> Result<(), String> {
    for (name, entry) in mapping(value, "Resources")? {
        let name = scalar(name).unwrap_or_default();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "Resources: `{name}` is not a logical id (letters and digits only)"
            ));
        }
        let body = yaml_to_json(entry);
        let Some(type_name) = body
            .get("Type")
            .and_then(|t| t.as_str())
            .map(str::to_string)
        else {
            return Err(format!("Resources.{name}: no `Type`"));
        };
        out.resources.push(BundleResource {
            file: file.to_string(),
            name,
            type_name,
            body: body.to_string(),
        });
    }
    Ok(())
}

/// YAML as JSON, CloudFormation's short tags (`!Ref x`, `!GetAtt a.b`, `!Sub …`) as their long
/// forms.
fn yaml_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => serde_json::to_value(n).unwrap_or(J::Null),
        Value::String(s) => J::String(s.clone()),
        Value::Sequence(items) => J::Array(items.iter().map(yaml_to_json).collect()),
        Value::Mapping(map) => J::Object(
            map.iter()
                .map(|(k, v)| (scalar(k).unwrap_or_default(), yaml_to_json(v)))
                .collect(),
        ),
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = yaml_to_json(&tagged.value);
            match tag {
                "Ref" | "Condition" => serde_json::json!({ tag: inner }),
                "GetAtt" => match inner {
                    J::String(s) => {
                        let (resource, attribute) = s.split_once('.').unwrap_or((&s, ""));
                        serde_json::json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => serde_json::json!({ "Fn::GetAtt": other }),
                },
                other => serde_json::json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

fn mapping<'v>(value: &'v Value, at: &str) -> Result<&'v serde_yaml::Mapping, String> {
    static EMPTY: std::sync::OnceLock<serde_yaml::Mapping> = std::sync::OnceLock::new();
    match value {
        Value::Mapping(m) => Ok(m),
        Value::Null => Ok(EMPTY.get_or_init(serde_yaml::Mapping::new)),
        _ => Err(format!("{at}: expected a mapping")),
    }
}

/// A YAML scalar as text (`true` → "true", `5` → "5"), as EB reads option values.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A package name as yum and dnf take it: letters, digits, `._+-`, and their glob characters
/// `*?[]` (`python3*-devel`: dnf matches them itself; the engine passes the name as one
/// argument, never through a shell). Not an option (`-…`).
fn check_package_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-*?[]".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("packages.yum: `{name}` is not a package name (letters, digits, `._+-` and the globs `*?[]`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_supported_key_in_alphabetical_file_order() {
        let a = br#"
option_settings:
  aws:elasticbeanstalk:application:environment:
    FLASK_DEBUG: true
  aws:elasticbeanstalk:container:python:
    WSGIPath: mysite.wsgi:application
packages:
  yum:
    git: []
files:
  /etc/motd:
    mode: "000644"
    content: |
      hello
commands:
  02_second:
    command: echo two
  01_first:
    command: ["echo", "one"]
    cwd: /tmp
container_commands:
  01_migrate:
    command: "python manage.py migrate"
    leader_only: true
groups:
  g: {}
"#;
        let b = br#"{"option_settings": [{"namespace": "aws:elasticbeanstalk:command", "option_name": "Timeout", "value": 900}]}"#;
        let ext = read(&[(".ebextensions/b.config", b), (".ebextensions/a.config", a)]).unwrap();
        assert_eq!(ext.option_settings.len(), 3);
        assert_eq!(ext.option_settings[0].value, "true");
        assert_eq!(ext.option_settings[2].file, ".ebextensions/b.config");
        assert_eq!(ext.option_settings[2].value, "900");
        assert_eq!(ext.packages[0].name, "git");
        assert_eq!(ext.files[0].content, "hello\n");
        assert_eq!(
            ext.commands
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["01_first", "02_second"]
        );
        assert_eq!(
            ext.commands[0].command,
            CommandLine::Argv(vec!["echo".into(), "one".into()])
        );
        assert!(ext.container_commands[0].leader_only);
        assert_eq!(ext.unsupported[0].key, "groups");
    }

    #[test]
    fn a_command_naming_an_amazon_linux_1_path_runs_with_a_warning_naming_the_al2023_path() {
        let config = br#"
container_commands:
  01_migrate:
    command: "source /opt/python/run/venv/bin/activate && python manage.py migrate --noinput"
    leader_only: true
  02_collect:
    command: ["python", "manage.py", "collectstatic"]
    cwd: /opt/python/ondeck/app
  03_fine:
    command: "source /var/app/venv/*/bin/activate && python manage.py check"
"#;
        let ext = read(&[(".ebextensions/django.config", config)]).unwrap();
        assert_eq!(ext.container_commands.len(), 3);
        let warnings: Vec<String> = ext.unsupported.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                ".ebextensions/django.config: `container_commands.01_migrate` runs, but it names an Amazon Linux 1 path, which does not exist on Amazon Linux 2023 (nor on Beanpole's instances): activate the virtualenv with `source /var/app/venv/*/bin/activate`",
                ".ebextensions/django.config: `container_commands.02_collect` runs, but it names an Amazon Linux 1 path, which does not exist on Amazon Linux 2023 (nor on Beanpole's instances): the new version is staged in /var/app/staging, where container_commands run",
            ]
        );
    }

    #[test]
    fn a_yum_package_may_be_a_glob_but_never_an_option_or_shell_text() {
        let read_one = |name: &str| {
            let text = format!("packages:\n  yum:\n    '{name}': []\n");
            read(&[(".ebextensions/01.config", text.as_bytes())])
        };
        for name in [
            "python3*-devel",
            "postgresql1[0-9]-devel",
            "libjpeg-turbo-devel",
            "gcc-c++",
        ] {
            assert_eq!(read_one(name).unwrap().packages[0].name, name);
        }
        for name in ["-y", "git; rm -rf /", "$(id)", "a b"] {
            let errors = read_one(name).unwrap_err();
            assert!(
                errors[0].message.contains("is not a package name"),
                "{name}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_file_that_is_not_yaml_is_named_with_its_line() {
        let bad = b"option_settings:\n  - namespace: a\n   bad: [\n";
        let errors = read(&[(".ebextensions/01.config", bad)]).unwrap_err();
        assert_eq!(errors[0].file, ".ebextensions/01.config");
        assert!(errors[0].message.contains("line"), "{}", errors[0].message);
    }

    #[test]
    fn files_not_named_config_and_nested_files_are_not_configuration() {
        let ext = read(&[
            (".ebextensions/readme.txt", b"not: [yaml"),
            (".ebextensions/sub/x.config", b"not: [yaml"),
        ])
        .unwrap();
        assert_eq!(ext, EbExtensions::default());
    }
}
