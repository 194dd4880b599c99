//! The ignore rules of a source bundle: `.ebignore` when the folder has one, else
//! `.gitignore`, in gitignore syntax (as the EB CLI reads them): `#` comments, `!` to
//! re-include, a trailing `/` for folders only, a `/` at the start or in the middle to anchor
//! a pattern to the folder, `*`, `?`, `[…]` and `**`. Only the file at the top of the folder is
//! read. The last matching rule wins; a file inside an ignored folder is ignored whatever
//! later rules say (as in git). Pure.

/// One rule, with where it came from (`.gitignore:3`) for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub origin: String,
    pub pattern: String,
    negated: bool,
    folder_only: bool,
    anchored: bool,
    segments: Vec<String>,
}

/// The rules of one ignore file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    pub rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Parses the text of `file_name` (for the report: `.ebignore`, `.gitignore`).
    pub fn parse(file_name: &str, text: &str) -> IgnoreRules {
        let mut rules = Vec::new();
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            let line = trim_unescaped_trailing_spaces(line);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let (folder_only, body) = match body.strip_suffix('/') {
                Some(rest) => (true, rest),
                None => (false, body),
            };
            let anchored = body.contains('/');
            let body = body.trim_start_matches('/');
            if body.is_empty() {
                continue;
            }
            rules.push(Rule {
                origin: format!("{file_name}:{}", number + 1),
                pattern: line.to_string(),
                negated,
                folder_only,
                anchored,
                segments: body.split('/').map(str::to_string).collect(),
            });
        }
        IgnoreRules { rules }
    }

    /// The rule that decides `path` (relative, `/`-separated), if any rule matches: the last
    /// one. The path is ignored when that rule is not a negation.
    pub fn decide(&self, path: &str, is_folder: bool) -> Option<&Rule> {
        let components: Vec<&str> = path.split('/').collect();
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.matches(&components, is_folder))
    }

    /// Whether `path` is ignored, with the rule that says so.
    pub fn ignored_by(&self, path: &str, is_folder: bool) -> Option<&Rule> {
        self.decide(path, is_folder).filter(|rule| !rule.negated)
    }
}

impl Rule {
    fn matches(&self, components: &[&str], is_folder: bool) -> bool {
        if self.folder_only && !is_folder {
            return false;
        }
        if self.anchored {
            let segments: Vec<&str> = self.segments.iter().map(String::as_str).collect();
            match_segments(&segments, components)
        } else {
            components
                .last()
                .is_some_and(|name| glob(self.segments[0].as_bytes(), name.as_bytes()))
        }
    }
}

fn trim_unescaped_trailing_spaces(line: &str) -> &str {
    let mut end = line.len();
    while end > 0 && line.as_bytes()[end - 1] == b' ' {
        if end >= 2 && line.as_bytes()[end - 2] == b'\\' {
            break;
        }
        end -= 1;
    }
    &line[..end]
}

/// Anchored matching, segment by segment; `**` matches any number of folders.
fn match_segments(patterns: &[&str], components: &[&str]) -> bool {
    match patterns.split_first() {
        None => components.is_empty(),
        Some((&"**", rest)) => {
            (0..=components.len()).any(|skip| match_segments(rest, &components[skip..]))
        }
        Some((first, rest)) => components.split_first().is_some_and(|(c, others)| {
            glob(first.as_bytes(), c.as_bytes()) && match_segments(rest, others)
        }),
    }
}

/// One path component against one pattern segment: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, and
/// `\` escapes.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((b'[', rest)) => match (class(rest, name.first().copied()), name.split_first()) {
            (Some((true, after)), Some((_, others))) => glob(after, others),
            _ => false,
        },
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && glob(&rest[1..], &name[1..])
        }
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

/// A `[…]` class (after its `[`) against one byte: whether it matches, and the pattern after
/// the class. None when the class is not closed (then `[` never matches).
fn class(pattern: &[u8], byte: Option<u8>) -> Option<(bool, &[u8])> {
    let (negated, mut i) = match pattern.first() {
        Some(b'!') | Some(b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    while i < pattern.len() {
        let c = pattern[i];
        if c == b']' && !first {
            return Some((matched != negated, &pattern[i + 1..]));
        }
        first = false;
        if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            if byte.is_some_and(|b| c <= b && b <= pattern[i + 2]) {
                matched = true;
            }
            i += 3;
        } else {
            if byte == Some(c) {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(rules: &str, path: &str, is_folder: bool) -> bool {
        IgnoreRules::parse(".gitignore", rules)
            .ignored_by(path, is_folder)
            .is_some()
    }

    #[test]
    fn names_match_at_any_depth_and_anchored_patterns_at_the_top() {
        assert!(ignored("*.pyc\n", "a/b/c.pyc", false));
        assert!(ignored("__pycache__/\n", "pkg/__pycache__", true));
        assert!(!ignored("__pycache__/\n", "pkg/__pycache__", false));
        assert!(ignored("/build\n", "build", true));
        assert!(!ignored("/build\n", "src/build", true));
        assert!(ignored("docs/*.md\n", "docs/a.md", false));
        assert!(!ignored("docs/*.md\n", "x/docs/a.md", false));
        assert!(ignored("**/logs\n", "a/b/logs", true));
        assert!(ignored("a/**/z\n", "a/z", false));
        assert!(ignored("a/**/z\n", "a/b/c/z", false));
        assert!(ignored("file?.txt\n", "file1.txt", false));
        assert!(ignored("[abc].txt\n", "b.txt", false));
        assert!(!ignored("[!abc].txt\n", "b.txt", false));
        assert!(ignored("[a-c].txt\n", "b.txt", false));
    }

    #[test]
    fn the_last_rule_wins_and_comments_and_blanks_are_skipped() {
        let rules = "# logs\n\n*.log\n!keep.log\n";
        assert!(ignored(rules, "x.log", false));
        assert!(!ignored(rules, "keep.log", false));
        let parsed = IgnoreRules::parse(".ebignore", rules);
        assert_eq!(parsed.rules.len(), 2);
        assert_eq!(
            parsed.ignored_by("x.log", false).map(|r| r.origin.as_str()),
            Some(".ebignore:3")
        );
    }

    #[test]
    fn escapes_and_trailing_spaces() {
        assert!(ignored("\\#notes\n", "#notes", false));
        assert!(ignored("space.txt   \n", "space.txt", false));
        assert!(ignored("\\!bang\n", "!bang", false));
    }
}
