//! The README's tour, run as written: its spec files (`hcl file=PATH` blocks) are written,
//! every `$ beanpole …` line of its `console` blocks runs against a moto of this test's own
//! (the local fleet playing the instances from the first deploy on), and each line shown
//! under a command must be in what it printed (`…` stands for anything). A command shown with
//! an `error:` line must fail (exit 1); every other must succeed. Also: every link of the
//! README, ARCHITECTURE.md and the book leads somewhere, and the book lists its pages.

use crate::common::fleet::Fleet;
use crate::common::moto::Moto;
use crate::common::{self, run, text, TempDir};
use crate::platform::{copy_tree, pip_env};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One `$ beanpole …` line of the tour and the lines it must print.
#[derive(Debug)]
struct Step {
    args: Vec<String>,
    expected: Vec<String>,
}

/// What the tour does, in order.
#[derive(Debug)]
enum Action {
    Write { path: String, text: String },
    Run(Step),
}

/// A command line split as a shell would split this tour's (double quotes group words).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn tour(readme: &str) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        if let Some(path) = info.strip_prefix("hcl file=") {
            actions.push(Action::Write {
                path: path.trim().to_string(),
                text: body.join("\n") + "\n",
            });
        } else if info == "console" {
            for line in body {
                match line.strip_prefix("$ beanpole ") {
                    Some(command) => actions.push(Action::Run(Step {
                        args: words(command),
                        expected: Vec::new(),
                    })),
                    None => {
                        if let Some(Action::Run(step)) = actions.last_mut() {
                            step.expected.push(line.trim().to_string());
                        }
                    }
                }
            }
        }
    }
    actions
}

/// Whether `line` (with `…` standing for anything) is in one line of `output`.
fn shown_in(line: &str, output: &str) -> bool {
    let parts: Vec<&str> = line.split('…').collect();
    output.lines().any(|actual| {
        let mut rest = actual;
        for part in &parts {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    })
}

#[test]
fn moto_the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(common::manifest_dir().join("README.md")).unwrap();
    let actions = tour(&readme);
    let runs = actions
        .iter()
        .filter(|a| matches!(a, Action::Run(_)))
        .count();
    assert!(runs >= 12, "the tour has {runs} commands");
    let moto = Moto::start();
    moto.create_zone("example.com");
    let dir = TempDir::new("tour");
    copy_tree(
        &common::manifest_dir().join("examples/pets-app"),
        &dir.path().join("examples/pets-app"),
    );
    let mut fleet: Option<Fleet> = None;
    for action in &actions {
        match action {
            Action::Write { path, text } => {
                let path = dir.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Action::Run(step) => {
                if step.args.first().map(String::as_str) == Some("deploy") && fleet.is_none() {
                    let started =
                        Fleet::start(&moto, &dir.path().join("examples/pets-app"), &pip_env());
                    started.wait_serving("pets-env-blue", 1, Duration::from_secs(300));
                    started.wait_serving("pets-env-green", 1, Duration::from_secs(300));
                    fleet = Some(started);
                }
                check(&moto, dir.path(), step);
            }
        }
    }
    drop(fleet);
}

fn check(moto: &Moto, dir: &Path, step: &Step) {
    let out = run(moto.beanpole(dir).args(&step.args));
    let all = text(&out);
    let fails = step.expected.iter().any(|l| l.starts_with("error:"));
    assert_eq!(
        out.status.code(),
        Some(if fails { 1 } else { 0 }),
        "`beanpole {}`:\n{all}",
        step.args.join(" ")
    );
    for line in &step.expected {
        assert!(
            shown_in(line, &all),
            "`beanpole {}` does not print `{line}`:\n{all}",
            step.args.join(" ")
        );
    }
}

#[test]
fn the_tours_matching_treats_an_ellipsis_as_anything() {
    assert!(shown_in(
        "Apply complete in … s! Resources:",
        "x\nApply complete in 0.3 s! Resources: 1"
    ));
    assert!(!shown_in(
        "Apply complete in … s! Resources:",
        "Apply failed in 0.3 s"
    ));
    assert!(shown_in("a (…), b (…).", "a (x), b (y)."));
    assert_eq!(
        words(r#"deploy env --message "first release" --label v1"#),
        [
            "deploy",
            "env",
            "--message",
            "first release",
            "--label",
            "v1"
        ]
    );
}

/// The slug a heading gets (GitHub's and mdBook's rule for these headings).
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn headings(text: &str) -> BTreeSet<String> {
    let mut code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            code = !code;
        } else if !code && line.starts_with('#') {
            found.insert(slug(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of a markdown file's links outside code (`[text](target)`).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut code = false;
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            code = !code;
            continue;
        }
        if code {
            continue;
        }
        // Inline code holds no link.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    found
}

fn markdown_files() -> Vec<PathBuf> {
    let root = common::manifest_dir();
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

#[test]
fn every_link_of_the_readme_and_the_book_leads_somewhere() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, target) in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let ok = resolved.exists()
                && (anchor.is_empty()
                    || resolved.extension().is_none_or(|x| x != "md")
                    || headings(&std::fs::read_to_string(&resolved).unwrap()).contains(anchor));
            if !ok {
                broken.push(format!("{}:{line}: {target}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_book_lists_every_page_and_the_readme_is_a_front_page() {
    let root = common::manifest_dir();
    let summary = std::fs::read_to_string(root.join("docs/src/SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, t)| t).collect();
    for file in markdown_files().iter().skip(2) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name != "SUMMARY.md" {
            assert!(
                listed.contains(&name),
                "docs/src/SUMMARY.md does not list {name}"
            );
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines: the reference belongs in docs/"
    );
}

/// The options table of the book is the one the code makes (`BEANPOLE_BLESS=1` rewrites it).
#[test]
fn the_options_table_is_what_beanpole_does() {
    let path = common::manifest_dir().join("docs/src/options.md");
    let table = beanpole::platform::options::options_table();
    if std::env::var("BEANPOLE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &table).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == table,
        "docs/src/options.md differs from platform::options::options_table(): rerun with BEANPOLE_BLESS=1 and review"
    );
    // Every option is in it, and none is left without a word.
    let rows = table.lines().filter(|l| l.starts_with("| `")).count();
    assert!(rows > 120, "{rows} rows");
    assert!(
        !table.contains("|  |"),
        "an option without a word:\n{table}"
    );
}
