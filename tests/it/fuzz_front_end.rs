//! Fuzzing the whole front end: whatever text a user writes, `compile_dir`, the graph compiler,
//! both graph renderers and the diagnostic renderer must never panic, and what they produce must
//! hold together (spans inside their file and on character boundaries, graph edges between
//! existing nodes, no dependency cycle, the same output every run).
//!
//! Two generators feed the same checks:
//! - `mutated_corpus_never_panics`: seeds (the hand-written tricky files of `tests/fuzz/corpus/`
//!   plus, read in place, every example and every shipped module) with random byte/token/line
//!   mutations;
//! - `generated_specs_never_panic`: random but mostly well-formed specs (applications,
//!   environments, locals, variables, modules, outputs; values of the wrong type; references
//!   between everything, cycles included).
//!
//! `BEANPOLE_FUZZ_CASES` sets the number of cases per generator (default 2000, a few seconds in a
//! debug build); `scripts/fuzz` runs a long campaign. Failures are persisted to
//! `tests/fuzz/proptest-regressions.txt` and replayed first on every later run.

use beanpole::graph::compile_graph;
use beanpole::graph::render::{to_dot, to_json};
use beanpole::spec::report::{render_all, Style};
use beanpole::spec::{compile_dir, Compilation, MemoryFs, SpecError, VariableInputs};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::FileFailurePersistence;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Configuration

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: env_number("BEANPOLE_FUZZ_CASES", 2000) as u32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz/proptest-regressions.txt",
        ))),
        // Shrinking replays the whole front end per step: keep it bounded.
        max_shrink_iters: 2_000,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

/// A single case taking longer than this is reported (exponential blow-up, near-hang).
fn slow_limit() -> Duration {
    Duration::from_millis(env_number("BEANPOLE_FUZZ_SLOW_MS", 10_000))
}

// ---------------------------------------------------------------------------------------------
// Inputs and the checks every input goes through

/// Text of the file the specs read with `file("app/data.txt")`.
const DATA_FILE: &str = "héllo from a file 🐍\r\nsecond line\twith a tab\n";

/// One fuzz case: the files of an in-memory spec folder (`spec/…`) and the variable inputs.
#[derive(Clone)]
struct Input {
    files: Vec<(PathBuf, String)>,
    inputs: VariableInputs,
}

impl fmt::Debug for Input {
    /// Each file's exact text (escaped: CRLF, tabs and odd characters stay visible), so a failure
    /// report is a reproducer: `MemoryFs::new().with_file(PATH, TEXT)` for each pair.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Input {{")?;
        for (path, text) in &self.files {
            writeln!(f, "  {:?} => {text:?},", path.display().to_string())?;
        }
        if !self.inputs.cli.is_empty()
            || !self.inputs.files.is_empty()
            || !self.inputs.environment.is_empty()
        {
            writeln!(f, "  inputs: {:?},", self.inputs)?;
        }
        write!(f, "}}")
    }
}

impl Input {
    fn fs(&self) -> MemoryFs {
        let mut fs = MemoryFs::new();
        for (path, text) in &self.files {
            fs = fs.with_file(path.clone(), text.clone());
        }
        fs
    }
}

/// Everything a run produces, as text, for the determinism check.
#[derive(Debug, PartialEq)]
struct Outcome {
    diagnostics: String,
    graph_json: Option<String>,
    graph_dot: Option<String>,
    diagnostic_count: usize,
}

fn run_once(input: &Input) -> Result<Outcome, TestCaseError> {
    let fs = input.fs();
    let compilation = compile_dir(&fs, Path::new("spec"), &input.inputs);
    check_spans(&compilation)?;
    let diagnostics = render_all(
        &compilation.diagnostics,
        &compilation.sources,
        &Style { color: false },
    );
    let colored = render_all(
        &compilation.diagnostics,
        &compilation.sources,
        &Style { color: true },
    );
    prop_assert!(colored.len() >= diagnostics.len());
    let n = compilation.diagnostics.len();
    prop_assert!(
        diagnostics.contains(&format!("the spec has {n} error")),
        "summary line missing from rendered diagnostics:\n{diagnostics}"
    );
    let (mut graph_json, mut graph_dot) = (None, None);
    if compilation.is_valid() {
        let graph = compile_graph(&compilation.spec);
        let json = to_json(&graph);
        let dot = to_dot(&graph);
        check_graph(&graph, &json, &dot)?;
        graph_json = Some(serde_json::to_string(&json).expect("graph JSON serializes"));
        graph_dot = Some(dot);
    }
    Ok(Outcome {
        diagnostics,
        graph_json,
        graph_dot,
        diagnostic_count: n,
    })
}

/// Every diagnostic with a span points into a known file, inside its text, on char boundaries.
fn check_spans(compilation: &Compilation) -> Result<(), TestCaseError> {
    if !enforced("span") {
        return Ok(());
    }
    for diagnostic in &compilation.diagnostics {
        let Some(span) = &diagnostic.span else {
            // Only command-line input (missing folder, `--var`, `--var-file`) has no location.
            prop_assert!(
                matches!(diagnostic.error, SpecError::Input { .. }),
                "diagnostic without a location: {:?}",
                diagnostic
            );
            continue;
        };
        let file = compilation.sources.get(span.file);
        prop_assert!(
            file.is_some(),
            "span of {:?} names an unknown file",
            diagnostic
        );
        let text = &file.unwrap().text;
        let range = &span.range;
        prop_assert!(
            range.start <= range.end && range.end <= text.len(),
            "span {:?} of `{}` is outside its file ({} bytes): {:?}",
            range,
            diagnostic.error,
            text.len(),
            diagnostic
        );
        prop_assert!(
            text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
            "span {:?} of `{}` splits a character: {:?}",
            range,
            diagnostic.error,
            diagnostic
        );
    }
    Ok(())
}

/// Invariants named in `BEANPOLE_FUZZ_IGNORE` (comma-separated: `span`, `graph-reference`,
/// `graph-cycle`, `determinism`, `slow`) are not checked, so a long run can look past a known,
/// already reported violation for other problems. Panics are never ignored.
fn enforced(invariant: &str) -> bool {
    static IGNORED: OnceLock<Vec<String>> = OnceLock::new();
    !IGNORED
        .get_or_init(|| {
            std::env::var("BEANPOLE_FUZZ_IGNORE")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|i| i == invariant)
}

/// `{"$ref": "ADDRESS.ATTRIBUTE"}` objects anywhere in an attribute value, as (address, the
/// reference written out).
fn collect_references(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if let Some((address, attribute)) = beanpole::graph::parse_reference(value) {
        let written = format!("{}.{attribute}", address.0);
        out.push((address.0, written));
        return;
    }
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// Nodes have unique addresses; every reference in an attribute names an existing node the
/// resource depends on; edges (in the graph, the JSON and the DOT) join existing nodes;
/// the dependency graph has no cycle (plan/apply could not order it).
fn check_graph(
    graph: &beanpole::graph::ResourceGraph,
    json: &serde_json::Value,
    dot: &str,
) -> Result<(), TestCaseError> {
    let nodes = json["nodes"].as_array().expect("nodes array");
    let addresses: BTreeSet<&str> = nodes.iter().filter_map(|n| n["address"].as_str()).collect();
    prop_assert_eq!(
        addresses.len(),
        nodes.len(),
        "a node has no or a duplicate address"
    );
    prop_assert_eq!(graph.len(), nodes.len(), "two nodes share an address");
    for edge in json["edges"].as_array().expect("edges array") {
        let (from, to) = (
            edge["from"].as_str().unwrap_or(""),
            edge["to"].as_str().unwrap_or(""),
        );
        prop_assert!(
            addresses.contains(from),
            "edge from unknown node `{}`",
            from
        );
        prop_assert!(addresses.contains(to), "edge to unknown node `{}`", to);
    }
    for node in nodes {
        for dep in node["depends_on"].as_array().expect("depends_on array") {
            let dep = dep.as_str().unwrap_or("");
            prop_assert!(
                addresses.contains(dep),
                "{} depends on unknown node `{}`",
                node["address"],
                dep
            );
        }
    }
    if enforced("graph-reference") {
        for node in nodes {
            let depends_on: BTreeSet<&str> = node["depends_on"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .collect();
            let mut references = Vec::new();
            collect_references(&node["attributes"], &mut references);
            for (address, text) in references {
                prop_assert!(
                    addresses.contains(address.as_str()) && depends_on.contains(address.as_str()),
                    "{} has the attribute value {:?}, a reference to `{}`, which is not one of its dependencies {:?}",
                    node["address"],
                    text,
                    address,
                    depends_on
                );
            }
        }
    }
    if enforced("graph-cycle") {
        let cycles: Vec<Vec<&str>> = petgraph::algo::tarjan_scc(&graph.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || graph.graph.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                scc.iter()
                    .map(|n| graph.graph[*n].address.0.as_str())
                    .collect()
            })
            .collect();
        prop_assert!(
            cycles.is_empty(),
            "the resource graph has dependency cycles among {:?}",
            cycles
        );
    }
    let well_formed = dot.starts_with("digraph beanpole {") && dot.ends_with("}\n");
    prop_assert!(well_formed, "malformed DOT:\n{}", dot);
    prop_assert!(
        dot.matches(" -> ").count() >= graph.graph.edge_count(),
        "DOT lost edges:\n{}",
        dot
    );
    Ok(())
}

/// Cases run and cases that compiled to a valid spec, per generator (printed with --nocapture).
struct Stats {
    name: &'static str,
    cases: AtomicU64,
    valid: AtomicU64,
    diagnostics: AtomicU64,
}

impl Stats {
    const fn new(name: &'static str) -> Stats {
        Stats {
            name,
            cases: AtomicU64::new(0),
            valid: AtomicU64::new(0),
            diagnostics: AtomicU64::new(0),
        }
    }

    fn record(&self, outcome: &Outcome) {
        let n = self.cases.fetch_add(1, Ordering::Relaxed) + 1;
        if outcome.graph_json.is_some() {
            self.valid.fetch_add(1, Ordering::Relaxed);
        }
        self.diagnostics
            .fetch_add(outcome.diagnostic_count as u64, Ordering::Relaxed);
        if n == u64::from(config().cases) || n.is_multiple_of(25_000) {
            println!(
                "{}: {n} cases, {} valid specs, {} diagnostics rendered",
                self.name,
                self.valid.load(Ordering::Relaxed),
                self.diagnostics.load(Ordering::Relaxed)
            );
        }
    }
}

static MUTATED: Stats = Stats::new("mutated corpus");
static GENERATED: Stats = Stats::new("generated specs");

/// The property: no panic anywhere, invariants hold, and a second run gives the same result.
fn check(input: &Input, stats: Option<&Stats>) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let first = run_once(input)?;
    let elapsed = started.elapsed();
    prop_assert!(
        elapsed < slow_limit() || !enforced("slow"),
        "one case took {:?}",
        elapsed
    );
    if enforced("determinism") {
        let second = run_once(input)?;
        prop_assert_eq!(&first, &second, "two runs over the same input differ");
    }
    if let Some(stats) = stats {
        stats.record(&first);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (a) Mutation-based generator

struct Seed {
    name: String,
    text: String,
}

/// The `.hcl` files directly inside `dir`, named relative to the crate root.
fn hcl_seeds(root: &Path, dir: &Path) -> Vec<Seed> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the fuzz seeds in {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hcl"))
        .map(|p| Seed {
            name: p.strip_prefix(root).unwrap_or(&p).display().to_string(),
            text: std::fs::read_to_string(&p).unwrap_or_default(),
        })
        .collect()
}

/// Sub-folders of `dir`, sorted.
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Seeds: the hand-written files of `tests/fuzz/corpus/`, and the examples and shipped
/// modules read where they live (so the seeds never drift from them).
fn corpus() -> &'static [Seed] {
    static CORPUS: OnceLock<Vec<Seed>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = hcl_seeds(root, &root.join("tests/fuzz/corpus"));
        for parent in ["examples", "modules"] {
            for dir in folders(&root.join(parent)) {
                seeds.extend(hcl_seeds(root, &dir));
            }
        }
        seeds.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(
            !seeds.is_empty(),
            "empty fuzz corpus under {}",
            root.display()
        );
        seeds
    })
}

/// Tokens of HCL and of the spec language, spliced in by `InsertToken`.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "=",
    ".",
    ",",
    ":",
    "?",
    "=>",
    "...",
    "*",
    "[*]",
    ".*",
    "${",
    "%{",
    "%{ if true }",
    "%{ else }",
    "%{ endif }",
    "%{ for x in [1] }",
    "%{ endfor }",
    "%{~",
    "~}",
    "$${",
    "%%{",
    "<<EOT\n",
    "<<-EOT\n",
    "\nEOT\n",
    "EOT",
    "\\",
    "\\n",
    "\\u00e9",
    "\\U0001F600",
    "#",
    "//",
    "/*",
    "*/",
    "\n",
    "\r\n",
    "\t",
    " ",
    "-",
    "+",
    "/",
    "%",
    "!",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    ">=",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e400",
    "0.5",
    "99999999999999999999",
    "for",
    "in",
    "if",
    "var.",
    "local.",
    "environment.",
    "application.",
    "module.",
    "output.",
    "var.instance_type",
    "local.app",
    "application.pets-app",
    "environment.pets-env-blue.url",
    "module.shop.production_url",
    "variable",
    "locals",
    "application",
    "environment",
    "module",
    "output",
    "instance",
    "capacity",
    "load_balancer",
    "health_check",
    "https",
    "network",
    "permissions",
    "statement",
    "min",
    "max",
    "desired",
    "cpu_target",
    "platform",
    "python-3.12",
    "python-3.9",
    "nginx",
    "apache",
    "cname",
    "tier",
    "web",
    "worker",
    "region",
    "domain",
    "tags",
    "properties",
    "source",
    "beanpole/blue-green",
    "beanpole/high-availability",
    "./modules/m",
    "type",
    "default",
    "string",
    "number",
    "bool",
    "list(string)",
    "map(string)",
    "any",
    "lower(",
    "upper(",
    "format(",
    "join(",
    "split(",
    "concat(",
    "merge(",
    "lookup(",
    "length(",
    "coalesce(",
    "file(",
    "file(\"app/data.txt\")",
    "tostring(",
    "tonumber(",
    "replace(",
    "trimspace(",
    "contains(",
    "keys(",
    "values(",
    "substr(",
    "é",
    "🐍",
    "日本",
    "\u{200d}",
    "\u{feff}",
    "\u{0301}",
    "\u{fffd}",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteRange {
        at: Index,
        len: usize,
    },
    InsertBytes {
        at: Index,
        bytes: Vec<u8>,
    },
    InsertChar {
        at: Index,
        c: char,
    },
    InsertToken {
        at: Index,
        token: Index,
    },
    ReplaceWithToken {
        at: Index,
        len: usize,
        token: Index,
    },
    FlipBit {
        at: Index,
        bit: u8,
    },
    DuplicateLine {
        line: Index,
    },
    DeleteLine {
        line: Index,
    },
    SwapLines {
        a: Index,
        b: Index,
    },
    Truncate {
        at: Index,
    },
    /// Wraps a range in `open … close`, `depth` times (deep nesting).
    Nest {
        at: Index,
        len: usize,
        pair: Index,
        depth: usize,
    },
    /// Repeats a range (long lines, many blocks).
    Repeat {
        at: Index,
        len: usize,
        times: usize,
    },
    /// Turns every `\n` into `\r\n`.
    Crlf,
    /// Splices a range of another seed in.
    Splice {
        seed: Index,
        from: Index,
        len: usize,
        at: Index,
    },
}

const PAIRS: &[(&str, &str)] = &[
    ("(", ")"),
    ("[", "]"),
    ("{ a = ", " }"),
    ("\"${", "}\""),
    ("[for x in ", " : x]"),
    ("true ? ", " : 0"),
    ("lower(", ")"),
    ("-", ""),
    ("!", ""),
    ("\"%{ if true }${", "}%{ endif }\""),
    ("<<EOT\n${", "}\nEOT\n"),
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        4 => (at(), 1usize..64).prop_map(|(at, len)| Mutation::DeleteRange { at, len }),
        3 => (at(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Mutation::InsertBytes { at, bytes }),
        2 => (at(), any::<char>()).prop_map(|(at, c)| Mutation::InsertChar { at, c }),
        6 => (at(), at()).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        3 => (at(), 1usize..24, at()).prop_map(|(at, len, token)| Mutation::ReplaceWithToken { at, len, token }),
        3 => (at(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => at().prop_map(|line| Mutation::DuplicateLine { line }),
        2 => at().prop_map(|line| Mutation::DeleteLine { line }),
        2 => (at(), at()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        1 => at().prop_map(|at| Mutation::Truncate { at }),
        1 => (at(), 0usize..16, at(), 1usize..100).prop_map(|(at, len, pair, depth)| Mutation::Nest { at, len, pair, depth }),
        1 => (at(), 1usize..80, 2usize..40).prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        1 => Just(Mutation::Crlf),
        2 => (at(), at(), 1usize..200, at()).prop_map(|(seed, from, len, at)| Mutation::Splice { seed, from, len, at }),
    ]
}

fn clamp_end(bytes: &[u8], start: usize, len: usize) -> usize {
    (start + len).min(bytes.len())
}

/// Byte offset of the start of each line (plus the end of the text).
fn line_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(start..bytes.len());
    }
    out
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let pos = |i: &Index, bytes: &Vec<u8>| i.index(bytes.len() + 1);
    match mutation {
        Mutation::DeleteRange { at, len } => {
            let start = pos(at, bytes);
            let end = clamp_end(bytes, start, *len);
            bytes.drain(start..end);
        }
        Mutation::InsertBytes { at, bytes: new } => {
            let at = pos(at, bytes);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::InsertChar { at, c } => {
            let at = pos(at, bytes);
            let mut buf = [0u8; 4];
            bytes.splice(at..at, c.encode_utf8(&mut buf).bytes());
        }
        Mutation::InsertToken { at, token } => {
            let at = pos(at, bytes);
            bytes.splice(at..at, token.get(DICTIONARY).bytes());
        }
        Mutation::ReplaceWithToken { at, len, token } => {
            let start = pos(at, bytes);
            let end = clamp_end(bytes, start, *len);
            bytes.splice(start..end, token.get(DICTIONARY).bytes());
        }
        Mutation::FlipBit { at, bit } => {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
        }
        Mutation::DuplicateLine { line } => {
            let lines = line_ranges(bytes);
            if !lines.is_empty() {
                let r = line.get(&lines).clone();
                let copy: Vec<u8> = bytes[r.clone()].to_vec();
                bytes.splice(r.end..r.end, copy);
            }
        }
        Mutation::DeleteLine { line } => {
            let lines = line_ranges(bytes);
            if !lines.is_empty() {
                let r = line.get(&lines).clone();
                bytes.drain(r);
            }
        }
        Mutation::SwapLines { a, b } => {
            let lines = line_ranges(bytes);
            if lines.len() >= 2 {
                let (mut x, mut y) = (a.index(lines.len()), b.index(lines.len()));
                if x > y {
                    std::mem::swap(&mut x, &mut y);
                }
                if x != y {
                    let (rx, ry) = (lines[x].clone(), lines[y].clone());
                    let mut out = Vec::with_capacity(bytes.len());
                    out.extend_from_slice(&bytes[..rx.start]);
                    out.extend_from_slice(&bytes[ry.clone()]);
                    out.extend_from_slice(&bytes[rx.end..ry.start]);
                    out.extend_from_slice(&bytes[rx]);
                    out.extend_from_slice(&bytes[ry.end..]);
                    *bytes = out;
                }
            }
        }
        Mutation::Truncate { at } => {
            let at = pos(at, bytes);
            bytes.truncate(at);
        }
        Mutation::Nest {
            at,
            len,
            pair,
            depth,
        } => {
            let start = pos(at, bytes);
            let end = clamp_end(bytes, start, *len);
            let (open, close) = pair.get(PAIRS);
            let inner: Vec<u8> = bytes[start..end].to_vec();
            let mut out = open.repeat(*depth).into_bytes();
            out.extend_from_slice(&inner);
            out.extend_from_slice(close.repeat(*depth).as_bytes());
            bytes.splice(start..end, out);
        }
        Mutation::Repeat { at, len, times } => {
            let start = pos(at, bytes);
            let end = clamp_end(bytes, start, *len);
            let chunk = bytes[start..end].to_vec();
            let repeated = chunk.repeat(*times);
            bytes.splice(start..end, repeated);
        }
        Mutation::Crlf => {
            let text = String::from_utf8_lossy(bytes)
                .replace("\r\n", "\n")
                .replace('\n', "\r\n");
            *bytes = text.into_bytes();
        }
        Mutation::Splice {
            seed,
            from,
            len,
            at,
        } => {
            let other = seed.get(corpus()).text.as_bytes();
            let start = from.index(other.len() + 1);
            let end = clamp_end(other, start, *len);
            let chunk = other[start..end].to_vec();
            let at = pos(at, bytes);
            bytes.splice(at..at, chunk);
        }
    }
}

fn mutate(seed: &str, mutations: &[Mutation]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        apply(&mut bytes, m);
        if bytes.len() > 256 * 1024 {
            bytes.truncate(256 * 1024);
        }
    }
    // The disk front end only ever sees valid UTF-8 (read_to_string); invalid bytes become U+FFFD.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A mutated copy of one seed.
fn mutated_file() -> impl Strategy<Value = String> {
    (any::<Index>(), prop::collection::vec(mutation(), 0..8))
        .prop_map(|(seed, mutations)| mutate(&seed.get(corpus()).text, &mutations))
}

/// The local module `spec/modules/m` that `source = "./modules/m"` calls.
const LOCAL_MODULES: &[&str] = &[
    "variable \"name\" {\n  type = string\n}\n\nvariable \"input\" {\n  default = \"none\"\n}\n\noutput \"out\" {\n  value = \"${var.name}-out\"\n}\n",
    "module \"again\" {\n  source = \"./\"\n}\n",
    "module \"up\" {\n  source = \"../m\"\n  name   = \"x\"\n}\n",
    "application \"from-module\" {\n  region = \"us-east-2\"\n}\n\nenvironment \"mod-env\" {\n  application = application.from-module\n  platform    = \"python-3.12\"\n  description = file(\"../../app/data.txt\")\n}\n",
    "output \"out\" {\n  value = var.undeclared\n}\n",
];

fn variable_inputs() -> impl Strategy<Value = VariableInputs> {
    let names = pick(&[
        "instance_type",
        "name",
        "min",
        "names",
        "props",
        "flag",
        "s",
        "ls",
        "ms",
        "n",
        "b",
        "no_default",
        "v0",
        "v1",
        "",
    ]);
    let values = prop_oneof![
        pick(&[
            "t3.micro",
            "1",
            "true",
            "[\"a\", \"b\"]",
            "{ a = \"1\" }",
            "[",
            "${var.x}",
            "",
            "🐍",
            "1e400",
            "{ for x in [1] : x => x }"
        ])
        .prop_map(String::from),
        ".{0,12}",
    ];
    (
        prop::collection::vec((names.clone(), values.clone()), 0..3),
        prop::collection::vec((names, values), 0..2),
        0u8..4,
    )
        .prop_map(|(cli, environment, var_file)| VariableInputs {
            cli: cli.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
            environment: environment
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            files: match var_file {
                0 => vec![PathBuf::from("vars.hcl")],
                1 => vec![PathBuf::from("missing.hcl")],
                _ => Vec::new(),
            },
        })
}

fn mutated_input() -> impl Strategy<Value = Input> {
    (
        mutated_file(),
        prop::option::weighted(0.3, mutated_file()),
        prop_oneof![
            3 => select(LOCAL_MODULES).prop_map(String::from),
            1 => mutated_file(),
        ],
        prop::option::weighted(0.3, mutated_file()),
        prop::option::weighted(0.2, variable_inputs()),
    )
        .prop_map(|(main, second, module, var_file, inputs)| {
            let mut files = vec![(PathBuf::from("spec/main.hcl"), main)];
            if let Some(second) = second {
                files.push((PathBuf::from("spec/other.hcl"), second));
            }
            files.push((PathBuf::from("spec/modules/m/main.hcl"), module));
            files.push((PathBuf::from("spec/app/data.txt"), DATA_FILE.to_string()));
            files.push((
                PathBuf::from("vars.hcl"),
                var_file.unwrap_or_else(|| {
                    "instance_type = \"t3.micro\"\nnames = [\"x\", \"é\"]\n".into()
                }),
            ));
            Input {
                files,
                inputs: inputs.unwrap_or_default(),
            }
        })
}

// ---------------------------------------------------------------------------------------------
// (b) Structure-aware generator
//
// Every choice is made at a noise level: at 0 only valid values (so a good share of the specs
// compile and reach the graph compiler), above 0 also wrong values, wrong types, unknown names,
// undefined references and cycles. Rendered blocks carry two placeholders filled in at the end:
// `@LABEL@` (the block's own label) and `@APPn@` (the n-th declared application, modulo).

/// How far the structured generator strays from a valid spec (0: never).
type Noise = u32;

const VALID_APP_LABELS: &[&str] = &["pets-app", "billing", "api", "Store2"];
const BAD_APP_LABELS: &[&str] = &["a/b", "Bad_App", "日本", "", "shop"];
const VALID_ENV_LABELS: &[&str] = &[
    "web-blue",
    "web-green",
    "api-prod",
    "WORK",
    "x-very-long-environment-name-of-40-chars",
];
const BAD_ENV_LABELS: &[&str] = &[
    "web",
    "Bad Env",
    "-edge",
    "x-very-long-environment-name-that-goes-on-and-on",
    "shop-blue",
];
const LOCAL_NAMES: &[&str] = &["l0", "l1", "l2", "l3", "app"];
const VAR_NAMES: &[&str] = &["itype", "min", "max", "props", "platform", "flag"];
const OUTPUT_NAMES: &[&str] = &["url", "o1", "o2"];
/// The spec language's functions, and one that does not exist.
fn function_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = beanpole::spec::functions::FUNCTIONS.to_vec();
        names.push("nosuchfunction");
        names
    })
}
const STRINGS: &[&str] = &[
    "",
    "x",
    "web",
    "python-3.12",
    "nginx",
    "t3.small",
    "us-east-2",
    "example.com",
    "/health",
    "app/data.txt",
    "héllo 🐍",
    "日本語",
    "a,b,c",
    "line\nbreak",
    "tab\there",
    "quote\"inside",
    "back\\slash",
    "${not.a.ref}",
    "%{ if }",
    "arn:aws:s3:::bucket/*",
    "s3:GetObject",
    "*",
    "10.0.0.0/8",
    "200-299",
    "subnet-0123abcd",
    "vpc-0123abcd",
    "ami-0123456789abcdef0",
    "${environment.web-blue.auto_scaling_group.name}",
    "\u{200d}",
    "\r\n",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "4",
    "-1",
    "0.5",
    "1.5e3",
    "1e400",
    "10001",
    "99999999999999999999",
    "60",
];

fn pick(options: &'static [&'static str]) -> BoxedStrategy<&'static str> {
    select(options).boxed()
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("$$"),
            '%' if chars.peek() == Some(&'{') => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn string_lit() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pick(STRINGS).prop_map(quote),
        1 => "[a-z0-9é🐍 ._/-]{0,12}".prop_map(|s| quote(&s)),
    ]
    .boxed()
}

fn reference() -> BoxedStrategy<String> {
    let env_labels = || pick(VALID_ENV_LABELS).prop_union(pick(BAD_ENV_LABELS));
    prop_oneof![
        pick(LOCAL_NAMES).prop_map(|n| format!("local.{n}")),
        pick(VAR_NAMES).prop_map(|n| format!("var.{n}")),
        pick(VALID_APP_LABELS).prop_map(|n| format!("application.{n}.name")),
        pick(VALID_APP_LABELS).prop_map(|n| format!("application.{n}")),
        (
            env_labels(),
            pick(&[
                "name",
                "cname",
                "url",
                "description",
                "platform",
                "application",
                "load_balancer_arn",
                "nope"
            ])
        )
            .prop_map(|(n, a)| format!("environment.{n}.{a}")),
        pick(&[
            "module.m.out",
            "module.bg.application",
            "module.ha.url",
            "module.nope.x",
            "output.url",
            "nothing",
            "self.x",
            "each.value",
            "count.index",
            "path.module"
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<String> {
    prop_oneof![
        3 => string_lit(),
        2 => pick(NUMBERS).prop_map(String::from),
        1 => pick(&["true", "false", "null"]).prop_map(String::from),
        3 => reference(),
    ]
    .boxed()
}

/// Any expression, mostly small, sometimes nested; often wrong.
fn expr() -> BoxedStrategy<String> {
    leaf()
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                prop::collection::vec(
                    (
                        pick(&["a", "b", "KEY", "\"quoted key\"", "é"]),
                        inner.clone()
                    ),
                    0..4
                )
                .prop_map(|kv| format!(
                    "{{ {} }}",
                    kv.iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                (
                    pick(function_names()),
                    prop::collection::vec(inner.clone(), 0..4),
                    any::<bool>()
                )
                    .prop_map(|(f, args, expand)| {
                        format!(
                            "{f}({}{})",
                            args.join(", "),
                            if expand && !args.is_empty() {
                                "..."
                            } else {
                                ""
                            }
                        )
                    }),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(c, a, b)| format!("{c} ? {a} : {b}")),
                (
                    inner.clone(),
                    pick(&["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||"]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                (pick(&["-", "!"]), inner.clone()).prop_map(|(op, e)| format!("{op}{e}")),
                inner.clone().prop_map(|e| format!("({e})")),
                (inner.clone(), string_lit())
                    .prop_map(|(e, s)| format!("\"pre-${{{e}}}-{}\"", &s[1..s.len() - 1])),
                (inner.clone(), inner.clone()).prop_map(|(c, e)| format!(
                    "\"%{{ if {c} }}${{{e}}}%{{ else }}no%{{ endif }}\""
                )),
                inner
                    .clone()
                    .prop_map(|c| format!("\"%{{ for i, v in {c} }}${{i}}=${{v}};%{{ endfor }}\"")),
                (inner.clone(), inner.clone())
                    .prop_map(|(c, e)| format!("[for k, v in {c} : {e} if v != null]")),
                (inner.clone(), inner.clone())
                    .prop_map(|(c, e)| format!("{{ for k, v in {c} : k => {e} }}")),
                (inner.clone(), inner.clone())
                    .prop_map(|(c, e)| format!("{{ for v in {c} : tostring(v) => {e}... }}")),
                (inner.clone(), inner.clone()).prop_map(|(e, i)| format!("{e}[{i}]")),
                inner.clone().prop_map(|e| format!("{e}[*].name")),
                inner
                    .clone()
                    .prop_map(|e| format!("<<-EOT\n  heredoc ${{{e}}}\n  EOT\n")),
            ]
        })
        .boxed()
}

/// Expressions that evaluate to a plain string (letters, digits, spaces, `-`, `.`, `_`): what a
/// description, property or tag value may hold. Exercises the evaluator inside valid specs.
fn clean_string_expr() -> BoxedStrategy<String> {
    let word = || {
        pick(&[
            "alpha",
            "Beta",
            "team 1",
            "x-y",
            "v1.2",
            "snake_case",
            "ünï",
        ])
    };
    prop_oneof![
        word().prop_map(quote),
        word().prop_map(|w| format!("lower({})", quote(w))),
        (word(), word()).prop_map(|(a, b)| format!(
            "format(\"%s-%s\", {}, {})",
            quote(a),
            quote(b)
        )),
        (word(), word()).prop_map(|(a, b)| format!("join(\" \", [{}, {}])", quote(a), quote(b))),
        word().prop_map(|w| format!("\"${{upper({})}}-suffix\"", quote(w))),
        Just("\"%{ if var.flag }on%{ else }off%{ endif }\"".to_string()),
        Just("\"%{ for i, w in [\"a\", \"b\"] }${i}${w}%{ endfor }\"".to_string()),
        Just(
            "join(\"-\", [for w in split(\",\", \"a,b,c\") : upper(w) if w != \"b\"])".to_string()
        ),
        Just("lookup({ a = \"one\", b = \"two\" }, \"b\", \"none\")".to_string()),
        Just("var.flag ? local.l0 : \"other\"".to_string()),
        Just("local.l0".to_string()),
        Just("\"${local.l1} instances\"".to_string()),
        Just("tostring(max(local.l1, 3) * 2)".to_string()),
        Just("trimspace(replace(\"  a.b.c  \", \".\", \" \"))".to_string()),
        Just("substr(\"héllo world\", 0, 5)".to_string()),
        Just("coalesce(\"\", \"fallback\")".to_string()),
        Just("\"${length(keys(var.props))} props\"".to_string()),
    ]
    .boxed()
}

/// A valid choice, or with probability growing with `noise` a wrong one or any expression.
fn choice(
    noise: Noise,
    valid: BoxedStrategy<String>,
    invalid: BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    if noise == 0 {
        valid
    } else {
        prop_oneof![20 => valid, noise => invalid, noise => expr()].boxed()
    }
}

fn quoted_choice(
    noise: Noise,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<String> {
    choice(
        noise,
        pick(valid).prop_map(quote).boxed(),
        pick(invalid).prop_map(quote).boxed(),
    )
}

fn raw_choice(
    noise: Noise,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<String> {
    choice(
        noise,
        pick(valid).prop_map(String::from).boxed(),
        pick(invalid).prop_map(String::from).boxed(),
    )
}

fn string_list(
    noise: Noise,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
    len: std::ops::Range<usize>,
) -> BoxedStrategy<String> {
    let item = quoted_choice(noise, valid, invalid);
    choice(
        noise,
        prop::collection::vec(item, len)
            .prop_map(|items| format!("[{}]", items.join(", ")))
            .boxed(),
        Just("\"not a list\"".to_string()).boxed(),
    )
}

fn string_map(
    noise: Noise,
    valid_keys: &'static [&'static str],
    bad_keys: &'static [&'static str],
) -> BoxedStrategy<String> {
    let key = choice(
        noise,
        pick(valid_keys).prop_map(String::from).boxed(),
        pick(bad_keys).prop_map(quote).boxed(),
    );
    let entries =
        prop::collection::btree_map(key, choice(noise, clean_string_expr(), expr()), 0..4)
            .prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("  {k} = {v}")).collect();
                format!("{{\n{}\n}}", body.join("\n"))
            });
    choice(
        noise,
        entries.boxed(),
        Just("[\"a list\"]".to_string()).boxed(),
    )
}

/// `name = value`, present with probability `p` (always present if `p` is 1).
fn attr(name: &'static str, p: f64, v: BoxedStrategy<String>) -> BoxedStrategy<Option<String>> {
    if p >= 1.0 {
        return v.prop_map(move |v| Some(format!("{name} = {v}"))).boxed();
    }
    prop::option::weighted(p, v)
        .prop_map(move |v| v.map(|v| format!("{name} = {v}")))
        .boxed()
}

/// An attribute that is only there when the spec may be wrong.
fn noise_attr(
    noise: Noise,
    name: &'static str,
    v: BoxedStrategy<String>,
) -> BoxedStrategy<Option<String>> {
    if noise == 0 {
        Just(None).boxed()
    } else {
        attr(name, 0.01 * f64::from(noise), v)
    }
}

fn block(name: &str, labels: &[&str], lines: Vec<Option<String>>) -> String {
    let mut out = String::from(name);
    for label in labels {
        out.push_str(&format!(" {}", quote(label)));
    }
    out.push_str(" {\n");
    for line in lines.into_iter().flatten() {
        for l in line.lines() {
            out.push_str("  ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("}\n");
    out
}

fn optional_block(p: f64, s: BoxedStrategy<String>) -> BoxedStrategy<Option<String>> {
    prop::option::weighted(p, s).boxed()
}

fn application_block(noise: Noise) -> BoxedStrategy<String> {
    (
        attr(
            "region",
            0.9,
            quoted_choice(
                noise,
                &["us-east-2", "eu-west-1", "ap-southeast-2"],
                &["mars-north-1", "", "US-EAST-2"],
            ),
        ),
        attr(
            "domain",
            0.6,
            quoted_choice(
                noise,
                &["example.com", "example.org.", "sub.example.co.uk"],
                &["bad domain", "com", "ex_ample.com"],
            ),
        ),
        attr(
            "tags",
            0.3,
            string_map(
                noise,
                &["team", "owner", "cost-center"],
                &["aws:x", "beanpole:x", ""],
            ),
        ),
        attr(
            "description",
            0.2,
            choice(noise, clean_string_expr(), expr()),
        ),
        noise_attr(
            noise,
            "name",
            quoted_choice(noise, VALID_APP_LABELS, BAD_APP_LABELS),
        ),
        noise_attr(noise, "unknown_attribute", expr()),
    )
        .prop_map(|(a, b, c, d, e, f)| block("application", &["@LABEL@"], vec![a, b, c, d, e, f]))
        .boxed()
}

fn instance_block(noise: Noise) -> BoxedStrategy<String> {
    // A key name is not checked: a reference-looking one is valid, and must not become an edge.
    let key_name = prop_oneof![
        8 => pick(&["my-key", "deploy key 2"]).prop_map(quote),
        1 => pick(&["${environment.@LABEL@.auto_scaling_group.name}", "${environment.@LABEL@.nope.x}", "${x}"]).prop_map(quote),
    ];
    (
        attr(
            "type",
            0.7,
            choice(
                noise,
                prop_oneof![
                    pick(&["t3.small", "m7g.large", "t4g.nano", "c6i.2xlarge"]).prop_map(quote),
                    Just("var.itype".to_string())
                ]
                .boxed(),
                pick(&["not-a-type", "T3.small"]).prop_map(quote).boxed(),
            ),
        ),
        attr(
            "ami",
            0.1,
            quoted_choice(
                noise,
                &["ami-0123456789abcdef0", "ami-0123abcd"],
                &["ami-x", "${x.y}"],
            ),
        ),
        attr(
            "key_name",
            0.2,
            choice(noise, key_name.boxed(), Just("42".to_string()).boxed()),
        ),
        attr(
            "port",
            0.2,
            raw_choice(
                noise,
                &["80", "8000", "65535"],
                &["0", "65536", "-1", "80.5"],
            ),
        ),
    )
        .prop_map(|(a, b, c, d)| block("instance", &[], vec![a, b, c, d]))
        .boxed()
}

fn capacity_block(noise: Noise) -> BoxedStrategy<String> {
    (
        attr(
            "min",
            0.8,
            raw_choice(noise, &["0", "1", "2", "var.min", "local.l1"], NUMBERS),
        ),
        attr(
            "max",
            0.8,
            raw_choice(noise, &["2", "4", "10", "var.max"], NUMBERS),
        ),
        attr("desired", 0.2, raw_choice(noise, &["2"], NUMBERS)),
        attr(
            "cpu_target",
            0.2,
            raw_choice(noise, &["60", "55.5", "1", "100"], &["0", "101", "\"60\""]),
        ),
        attr(
            "requests_per_target",
            0.1,
            raw_choice(noise, &["1000", "1"], &["0", "1.5"]),
        ),
        noise_attr(noise, "unknown_attribute", expr()),
    )
        .prop_map(|(a, b, c, d, e, f)| block("capacity", &[], vec![a, b, c, d, e, f]))
        .boxed()
}

fn load_balancer_block(noise: Noise) -> BoxedStrategy<String> {
    let https = (
        attr(
            "certificate_arn",
            if noise == 0 { 1.0 } else { 0.9 },
            quoted_choice(
                noise,
                &["arn:aws:acm:us-east-2:123456789012:certificate/abc"],
                &["not-an-arn", "arn:aws:s3:::bucket"],
            ),
        ),
        attr(
            "ssl_policy",
            0.2,
            quoted_choice(
                noise,
                &[
                    "ELBSecurityPolicy-2016-08",
                    "${environment.@LABEL@.load_balancer.arn}",
                ],
                &[""],
            ),
        ),
        attr(
            "redirect_http",
            0.3,
            raw_choice(noise, &["true", "false"], &["\"yes\"", "1"]),
        ),
    )
        .prop_map(|(a, b, c)| block("https", &[], vec![a, b, c]))
        .boxed();
    let health = (
        attr(
            "path",
            0.8,
            quoted_choice(
                noise,
                &["/health", "/", "/santé?x=1"],
                &["health", "/with space", ""],
            ),
        ),
        attr(
            "interval",
            0.3,
            raw_choice(noise, &["15", "30", "300"], &["5", "301", "0"]),
        ),
        attr(
            "timeout",
            0.3,
            raw_choice(noise, &["2", "5", "10"], &["30", "120", "1"]),
        ),
        attr(
            "healthy_threshold",
            0.1,
            raw_choice(noise, &["2", "10"], &["11", "1"]),
        ),
        attr(
            "unhealthy_threshold",
            0.1,
            raw_choice(noise, &["2", "3"], &["1"]),
        ),
        attr(
            "matcher",
            0.1,
            quoted_choice(
                noise,
                &["200", "200-299", "200,302"],
                &["abc", "500", "299-200", ""],
            ),
        ),
    )
        .prop_map(|(a, b, c, d, e, f)| block("health_check", &[], vec![a, b, c, d, e, f]))
        .boxed();
    (
        attr(
            "internal",
            0.1,
            raw_choice(noise, &["true", "false"], &["\"no\""]),
        ),
        attr(
            "idle_timeout",
            0.1,
            raw_choice(noise, &["60", "4000"], &["0", "4001"]),
        ),
        attr(
            "allowed_cidrs",
            0.2,
            string_list(
                noise,
                &["0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24"],
                &["300.0.0.0/8", "x", "10.0.0.0/33"],
                0..3,
            ),
        ),
        optional_block(0.3, https),
        optional_block(0.7, health),
    )
        .prop_map(|(a, b, c, d, e)| block("load_balancer", &[], vec![a, b, c, d, e]))
        .boxed()
}

fn network_block(noise: Noise) -> BoxedStrategy<String> {
    (
        attr(
            "vpc_id",
            if noise == 0 { 1.0 } else { 0.9 },
            quoted_choice(
                noise,
                &["vpc-0123abcd", "vpc-0123456789abcdef0"],
                &["vpc-x", "sg-0123abcd"],
            ),
        ),
        attr(
            "subnets",
            if noise == 0 { 1.0 } else { 0.9 },
            string_list(
                noise,
                &["subnet-aaaa1111", "subnet-bbbb2222", "subnet-cccc3333"],
                &["subnet-x"],
                2..4,
            ),
        ),
    )
        .prop_map(|(a, b)| block("network", &[], vec![a, b]))
        .boxed()
}

fn permissions_block(noise: Noise) -> BoxedStrategy<String> {
    let statement = (
        attr(
            "effect",
            0.3,
            quoted_choice(noise, &["Allow", "Deny"], &["Maybe", "allow"]),
        ),
        attr(
            "actions",
            if noise == 0 { 1.0 } else { 0.9 },
            string_list(
                noise,
                &["s3:GetObject", "dynamodb:*", "*", "sqs:Send*"],
                &["bad", "", "s3 GetObject"],
                1..4,
            ),
        ),
        attr(
            "resources",
            0.8,
            string_list(
                noise,
                &[
                    "*",
                    "arn:aws:s3:::b/*",
                    "arn:aws:dynamodb:us-east-2:123456789012:table/Pets",
                ],
                &["bad", "${environment.@LABEL@.launch_template.id}"],
                0..3,
            ),
        ),
        attr("sid", 0.1, quoted_choice(noise, &["Sid1"], &["bad sid"])),
    )
        .prop_map(|(a, b, c, d)| block("statement", &[], vec![a, b, c, d]));
    (
        attr(
            "managed_policies",
            0.3,
            string_list(
                noise,
                &[
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::123456789012:policy/Mine",
                ],
                &["bad", "arn:aws:s3:::x"],
                0..3,
            ),
        ),
        prop::collection::vec(statement, 0..3),
    )
        .prop_map(|(a, statements)| {
            let mut lines = vec![a];
            lines.extend(statements.into_iter().map(Some));
            block("permissions", &[], lines)
        })
        .boxed()
}

fn environment_block(noise: Noise) -> BoxedStrategy<String> {
    let attributes = (
        attr(
            "application",
            if noise == 0 { 1.0 } else { 0.95 },
            choice(
                noise,
                prop_oneof![
                    6 => (0usize..3).prop_map(|i| format!("application.@APP{i}@")),
                    2 => (0usize..3).prop_map(|i| format!("\"@APP{i}@\"")),
                    1 => (0usize..3).prop_map(|i| format!("application.@APP{i}@.name")),
                ]
                .boxed(),
                prop_oneof![
                    Just("application.nope".to_string()),
                    pick(BAD_APP_LABELS).prop_map(|a| format!("application.{a}"))
                ]
                .boxed(),
            ),
        ),
        attr(
            "platform",
            if noise == 0 { 1.0 } else { 0.9 },
            choice(
                noise,
                prop_oneof![
                    pick(&["python-3.9", "python-3.12", "python-3.13"]).prop_map(quote),
                    Just("var.platform".to_string())
                ]
                .boxed(),
                pick(&["python-3.8", "Python 3.12", "node-18", ""])
                    .prop_map(quote)
                    .boxed(),
            ),
        ),
        attr(
            "cname",
            0.4,
            quoted_choice(
                noise,
                &["@label@-live", "@label@-2"],
                &["www", "Bad_CNAME", "", "ünï", "shop"],
            ),
        ),
        attr(
            "proxy",
            0.2,
            quoted_choice(noise, &["nginx", "apache"], &["none", "ngnix"]),
        ),
        attr(
            "tier",
            0.1,
            quoted_choice(noise, &["web", "WebServer"], &["batch", "Batch"]),
        ),
        attr(
            "properties",
            0.4,
            choice(
                noise,
                string_map(
                    noise,
                    &["A", "FLASK_ENV", "DB_URL", "_private"],
                    &["1abc", "with space", "é"],
                ),
                Just("var.props".to_string()).boxed(),
            ),
        ),
        attr(
            "tags",
            0.3,
            string_map(
                noise,
                &["team", "owner", "cost-center"],
                &["aws:x", "beanpole:managed-by", ""],
            ),
        ),
        attr(
            "description",
            0.3,
            choice(
                noise,
                prop_oneof![
                    4 => clean_string_expr(),
                    1 => Just("\"${application.@APP0@.name}: ${local.l0}\"".to_string()),
                ]
                .boxed(),
                expr(),
            ),
        ),
        noise_attr(
            noise,
            "name",
            quoted_choice(noise, VALID_ENV_LABELS, BAD_ENV_LABELS),
        ),
    );
    let blocks = (
        optional_block(0.5, instance_block(noise)),
        optional_block(0.6, capacity_block(noise)),
        optional_block(0.5, load_balancer_block(noise)),
        optional_block(0.1, network_block(noise)),
        optional_block(0.4, permissions_block(noise)),
        noise_attr(noise, "unknown_attribute", expr()),
        noise_attr(
            noise,
            "unknown_block",
            Just("{\n  x = 1\n}".to_string()).boxed(),
        )
        .prop_map(|b| b.map(|b| b.replace(" = {", " {")))
        .boxed(),
    );
    (attributes, blocks)
        .prop_map(|((a, b, c, d, e, f, g, h, i), (j, k, l, m, n, o, p))| {
            block(
                "environment",
                &["@LABEL@"],
                vec![a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p],
            )
        })
        .boxed()
}

/// The variables every spec declares (valid defaults at noise 0, so references to them work).
fn variable_blocks(noise: Noise) -> BoxedStrategy<String> {
    let declared: &'static [(&str, &str, &str)] = &[
        ("itype", "string", "\"t3.small\""),
        ("min", "number", "1"),
        ("max", "number", "4"),
        ("props", "map(string)", "{ A = \"1\", B = \"two\" }"),
        ("platform", "string", "\"python-3.12\""),
        ("flag", "bool", "true"),
    ];
    let one = move |i: usize| {
        let (name, ty, default) = declared[i];
        (
            attr(
                "type",
                0.8,
                choice(
                    noise,
                    Just(ty.to_string()).boxed(),
                    pick(&[
                        "string",
                        "number",
                        "bool",
                        "list(string)",
                        "set(string)",
                        "any",
                        "list(number)",
                        "object({})",
                        "\"string\"",
                    ])
                    .prop_map(String::from)
                    .boxed(),
                ),
            ),
            attr(
                "default",
                if noise == 0 { 1.0 } else { 0.8 },
                choice(noise, Just(default.to_string()).boxed(), leaf()),
            ),
            attr("description", 0.2, string_lit()),
            noise_attr(noise, "sensitive", Just("true".to_string()).boxed()),
        )
            .prop_map(move |(a, b, c, d)| block("variable", &[name], vec![a, b, c, d]))
            .boxed()
    };
    let all: Vec<BoxedStrategy<String>> = (0..declared.len()).map(one).collect();
    all.prop_map(|blocks| blocks.concat()).boxed()
}

/// `l0` is a clean string, `l1` a small number; the rest (and, with noise, everything) any expression.
fn locals_block(noise: Noise) -> BoxedStrategy<String> {
    (
        choice(
            noise,
            clean_string_expr()
                .prop_filter("l0 must not refer to itself", |e| !e.contains("local.l0"))
                .boxed(),
            expr(),
        ),
        raw_choice(
            noise,
            &["1", "2", "length([1, 2])", "var.min + 1"],
            &["\"one\"", "local.l1", "local.l2"],
        ),
        prop::collection::vec(
            (
                pick(&["l2", "l3", "app"]),
                if noise == 0 {
                    clean_string_expr()
                } else {
                    expr()
                },
            ),
            0..3,
        ),
    )
        .prop_map(move |(l0, l1, rest)| {
            let mut lines = vec![Some(format!("l0 = {l0}")), Some(format!("l1 = {l1}"))];
            let mut seen = BTreeSet::new();
            for (name, value) in rest {
                if seen.insert(name) || noise > 0 {
                    lines.push(Some(format!("{name} = {value}")));
                }
            }
            block("locals", &[], lines)
        })
        .boxed()
}

fn module_block(noise: Noise) -> BoxedStrategy<String> {
    let valid = prop_oneof![
        Just("module \"m\" {\n  source = \"./modules/m\"\n  name   = \"mod\"\n}\n".to_string()),
        Just(
            "module \"bg\" {\n  source = \"beanpole/blue-green\"\n  name   = \"shop\"\n}\n"
                .to_string()
        ),
    ];
    let any = (
        pick(&["m", "bg", "ha", "nope"]),
        attr(
            "source",
            0.95,
            pick(&[
                "./modules/m",
                "beanpole/blue-green",
                "beanpole/high-availability",
                "beanpole/nope",
                "./missing",
                "../..",
                "",
            ])
            .prop_map(quote)
            .boxed(),
        ),
        attr(
            "name",
            0.6,
            pick(&["shop", "web", "BAD", "api-production"])
                .prop_map(quote)
                .boxed(),
        ),
        attr(
            "application",
            0.3,
            prop_oneof![
                pick(VALID_APP_LABELS).prop_map(quote),
                Just("application.@APP0@.name".to_string())
            ]
            .boxed(),
        ),
        attr("cname", 0.3, pick(&["api", "www"]).prop_map(quote).boxed()),
        attr(
            "certificate_arn",
            0.3,
            pick(&["arn:aws:acm:us-east-2:123456789012:certificate/abc"])
                .prop_map(quote)
                .boxed(),
        ),
        attr("min", 0.2, pick(NUMBERS).prop_map(String::from).boxed()),
        attr("input", 0.2, expr()),
    )
        .prop_map(|(label, a, b, c, d, e, f, g)| {
            block("module", &[label], vec![a, b, c, d, e, f, g])
        });
    if noise == 0 {
        valid.boxed()
    } else {
        prop_oneof![1 => valid, noise => any].boxed()
    }
}

fn output_block(noise: Noise) -> BoxedStrategy<String> {
    let value = choice(
        noise,
        pick(&[
            "local.l0",
            "var.itype",
            "application.@APP0@.name",
            "application.@APP1@.region",
            "[local.l1, var.min]",
            "{ a = var.flag }",
        ])
        .prop_map(String::from)
        .boxed(),
        expr(),
    );
    (
        pick(OUTPUT_NAMES),
        attr("value", if noise == 0 { 1.0 } else { 0.9 }, value),
        attr("description", 0.2, string_lit()),
        attr("sensitive", 0.1, Just("true".to_string()).boxed()),
    )
        .prop_map(|(name, a, b, c)| block("output", &[name], vec![a, b, c]))
        .boxed()
}

/// Labels for `n` blocks: distinct valid ones at noise 0, anything (duplicates included) above.
fn labels(
    noise: Noise,
    valid: &'static [&'static str],
    bad: &'static [&'static str],
    len: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<Vec<&'static str>> {
    if noise == 0 {
        prop::sample::subsequence(valid, len).boxed()
    } else {
        prop::collection::vec(
            choice(
                noise,
                pick(valid).prop_map(String::from).boxed(),
                pick(bad).prop_map(String::from).boxed(),
            ),
            len,
        )
        .prop_map(|v| v.into_iter().map(|s| &*s.leak()).collect())
        .boxed()
    }
}

fn with_label(label: &str, text: String) -> String {
    text.replace("@LABEL@", label)
        .replace("@label@", &label.to_lowercase())
}

fn spec_input(noise: Noise) -> BoxedStrategy<Input> {
    let blocks = (
        variable_blocks(noise),
        locals_block(noise),
        labels(noise, VALID_APP_LABELS, BAD_APP_LABELS, 1..=2),
        prop::collection::vec(application_block(noise), 2),
        labels(noise, VALID_ENV_LABELS, BAD_ENV_LABELS, 0..=4),
        prop::collection::vec(environment_block(noise), 4),
        prop::collection::vec(module_block(noise), 0..2),
        prop::collection::vec(output_block(noise), 0..3),
    );
    (
        blocks,
        prop::collection::vec(0usize..3, 16),
        if noise == 0 {
            Just(LOCAL_MODULES[0]).boxed()
        } else {
            pick(LOCAL_MODULES)
        },
        if noise == 0 {
            Just(None).boxed()
        } else {
            prop::option::weighted(0.15, variable_inputs()).boxed()
        },
        any::<bool>(),
    )
        .prop_map(
            move |(
                (vars, locals, app_labels, apps, env_labels, envs, modules, outputs),
                placement,
                module,
                inputs,
                crlf,
            )| {
                let mut all = vec![vars, locals];
                all.extend(app_labels.iter().zip(apps).map(|(l, b)| with_label(l, b)));
                all.extend(env_labels.iter().zip(envs).map(|(l, b)| with_label(l, b)));
                let mut module_labels = BTreeSet::new();
                for m in modules {
                    // Two calls of one shipped module collide on its names: only with noise.
                    if module_labels.insert(m.lines().next().unwrap_or_default().to_string())
                        || noise > 0
                    {
                        all.push(m);
                    }
                }
                all.extend(
                    outputs
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| noise > 0 || *i == 0)
                        .map(|(_, o)| o),
                );
                let mut texts = vec![String::new(), String::new(), String::new()];
                for (i, b) in all.into_iter().enumerate() {
                    let mut b = b;
                    for n in 0..3 {
                        b = b.replace(
                            &format!("@APP{n}@"),
                            app_labels
                                .get(n % app_labels.len().max(1))
                                .copied()
                                .unwrap_or("none"),
                        );
                    }
                    let file = placement.get(i).copied().unwrap_or(0);
                    texts[file].push_str(&b);
                    texts[file].push('\n');
                }
                let mut files = Vec::new();
                for (i, text) in texts.into_iter().enumerate() {
                    if i == 0 || !text.is_empty() {
                        let text = if crlf && i == 0 {
                            text.replace('\n', "\r\n")
                        } else {
                            text
                        };
                        files.push((PathBuf::from(format!("spec/f{i}.hcl")), text));
                    }
                }
                files.push((PathBuf::from("spec/modules/m/main.hcl"), module.to_string()));
                files.push((PathBuf::from("spec/app/data.txt"), DATA_FILE.to_string()));
                files.push((
                    PathBuf::from("vars.hcl"),
                    "itype = \"t3.micro\"\nmin = 2\n".to_string(),
                ));
                Input {
                    files,
                    inputs: inputs.unwrap_or_default(),
                }
            },
        )
        .boxed()
}

fn generated_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        2 => spec_input(0),
        1 => spec_input(1),
        1 => spec_input(4),
    ]
}

// ---------------------------------------------------------------------------------------------
// The tests

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_corpus_never_panics(input in mutated_input()) {
        check(&input, Some(&MUTATED))?;
    }

    #[test]
    fn generated_specs_never_panic(input in generated_input()) {
        check(&input, Some(&GENERATED))?;
    }
}

/// The unmutated corpus itself goes through the same checks, and some seeds are valid specs (so
/// mutants of them reach the graph compiler and renderers).
#[test]
fn corpus_seeds_pass_the_checks() {
    let mut valid = Vec::new();
    for seed in corpus() {
        let input = Input {
            files: vec![
                (PathBuf::from("spec/main.hcl"), seed.text.clone()),
                (
                    PathBuf::from("spec/modules/m/main.hcl"),
                    LOCAL_MODULES[0].to_string(),
                ),
                (PathBuf::from("spec/app/data.txt"), DATA_FILE.to_string()),
            ],
            inputs: VariableInputs::default(),
        };
        if let Err(e) = check(&input, None) {
            panic!("seed {}: {e}", seed.name);
        }
        if compile_dir(&input.fs(), Path::new("spec"), &VariableInputs::default()).is_valid() {
            valid.push(seed.name.as_str());
        }
    }
    assert!(
        !valid.is_empty(),
        "no seed of tests/fuzz/corpus is a valid spec"
    );
}
