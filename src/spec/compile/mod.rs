//! Compiles a spec folder (and the modules it calls) into the typed [`Spec`]: collects the
//! declarations of every file, orders them by their references (refusing cycles, naming every
//! member), evaluates them in that order, and decodes applications and environments with all of
//! Elastic Beanstalk's defaults. Reports every error of the run; never panics on any input.
//!
//! This file is the driver (declarations, ordering, units, whole-spec checks); `syntax` parses
//! and locates syntax errors, `inputs` handles variables, `modules` module calls and outputs,
//! and each block has its reader: `application`, `environment`, `instance`, `capacity`,
//! `load_balancer`, `network`, `permissions`.

mod application;
mod capacity;
mod environment;
mod inputs;
mod instance;
mod load_balancer;
mod modules;
mod network;
mod permissions;
mod resources;
mod runtime;
mod syntax;
mod worker;

use application::{read_application_ref, read_tags, sub_reader};
use capacity::read_capacity;
use instance::read_instance;
use load_balancer::read_load_balancer;
use network::read_network;
use permissions::read_permissions;
use resources::{output_ref, output_ref_of, read_resources};
use runtime::{read_deployment, read_static_files, read_wsgi};
use worker::read_worker;

use super::checks;
use super::decode::{header_span, BlockReader};
use super::diagnostic::{did_you_mean, suggest, Diagnostic, SpecError};
use super::eval::{references, Binding, Evaluator, FileAccess, Symbols};
use super::load::{normalize, shipped_module, shipped_module_names, SpecFs, SHIPPED_PREFIX};
use super::source::{FileId, SourceMap, Span};
use super::value::Value;
use super::variables::{VarType, VariableInputs, TYPE_NAMES};
use crate::model::platform::{PLATFORMS, PROXIES};
use crate::model::{
    Application, Capacity, Engine, Environment, HealthCheck, Https, Instance, LoadBalancer,
    Network, Output, OutputRef, Permissions, Platform, Proxy, SecretRef, Spec, Statement, Tier,
};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span as _;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The result of compiling a spec: the model (complete only when `diagnostics` is empty), the
/// diagnostics, and the sources they point into.
#[derive(Debug)]
pub struct Compilation {
    pub sources: SourceMap,
    pub spec: Spec,
    pub diagnostics: Vec<Diagnostic>,
    /// What is valid but probably not meant (a wildcard permission): shown, never fatal.
    pub warnings: Vec<Diagnostic>,
}

impl Compilation {
    pub fn is_valid(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

pub const TOP_LEVEL_BLOCKS: &[&str] = &[
    "variable",
    "locals",
    "application",
    "environment",
    "module",
    "output",
];
const MAX_MODULE_DEPTH: usize = 8;
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.small";
/// An application's source folder when it does not say: `app` beside the spec.
pub const DEFAULT_SOURCE: &str = "app";
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// Compiles every `*.hcl` file of `dir`.
pub fn compile_dir(fs: &dyn SpecFs, dir: &Path, inputs: &VariableInputs) -> Compilation {
    let mut compiler = Compiler {
        fs,
        sources: SourceMap::new(),
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        spec: Spec::default(),
        environment_sites: Vec::new(),
        application_sites: Vec::new(),
    };
    // A var file kept in the spec folder is input, not spec.
    let var_files: Vec<PathBuf> = inputs.files.iter().map(|f| normalize(f)).collect();
    let spec_files = fs.hcl_files(dir).map(|files| {
        files
            .into_iter()
            .filter(|f| !var_files.contains(&normalize(f)))
            .collect::<Vec<_>>()
    });
    let files = match spec_files {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            compiler.diagnostics.push(
                Diagnostic::without_location(SpecError::Input {
                    message: format!("no .hcl files in `{}`", dir.display()),
                })
                .with_hint("point -C at the folder holding your spec, e.g. `beanpole validate -C examples/pets-app`"),
            );
            return compiler.finish();
        }
        Err(e) => {
            compiler.diagnostics.push(
                Diagnostic::without_location(SpecError::Input {
                    message: format!("cannot read spec folder `{}`: {e}", dir.display()),
                })
                .with_hint("point -C at the folder holding your spec"),
            );
            return compiler.finish();
        }
    };
    let mut texts = Vec::new();
    for path in files {
        match fs.read_to_string(&path) {
            Ok(text) => texts.push((display_name(dir, &path), text)),
            Err(e) => compiler
                .diagnostics
                .push(Diagnostic::without_location(SpecError::Input {
                    message: format!("cannot read `{}`: {e}", path.display()),
                })),
        }
    }
    let root_inputs = compiler.root_inputs(inputs);
    let unit = compiler.parse_unit(String::new(), Some(dir.to_path_buf()), texts);
    if compiler
        .diagnostics
        .iter()
        .any(|d| matches!(d.error, SpecError::Syntax { .. }))
    {
        // What a file with a syntax error declares is unknown: evaluating the rest would only
        // report its names as undefined.
        return compiler.finish();
    }
    compiler.compile_unit(&unit, root_inputs, 0);
    compiler.check_whole_spec();
    compiler.finish()
}

fn display_name(dir: &Path, path: &Path) -> String {
    let name = path.strip_prefix(dir).unwrap_or(path);
    let shown = if dir == Path::new(".") || dir.as_os_str().is_empty() {
        name.to_path_buf()
    } else {
        dir.join(name)
    };
    shown.display().to_string()
}

/// A value given for a variable from outside its unit.
#[derive(Debug, Clone)]
enum InputValue {
    /// From `--var` or the environment: converted once the type is known.
    Text { text: String, origin: String },
    /// From a var file or a module block: already evaluated. `key` is where its name is written.
    Value { value: Value, span: Span, key: Span },
    /// Its expression failed; the error is already reported.
    Failed,
}

struct UnitInputs {
    values: BTreeMap<String, InputValue>,
    /// The module block that calls this unit (`None` for the root).
    caller: Option<Span>,
}

/// A module's files as (display name, text), and the folder relative paths resolve against
/// (`None` for a module shipped inside the binary).
type ModuleFiles = (Vec<(String, String)>, Option<PathBuf>);

struct UnitFile {
    id: FileId,
    body: Body,
}

struct Unit {
    prefix: String,
    base_dir: Option<PathBuf>,
    files: Vec<UnitFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum DeclKind {
    Variable,
    Local,
    Application,
    Environment,
    Module,
    Output,
}

impl DeclKind {
    fn namespace(self) -> &'static str {
        match self {
            DeclKind::Variable => "var",
            DeclKind::Local => "local",
            DeclKind::Application => "application",
            DeclKind::Environment => "environment",
            DeclKind::Module => "module",
            DeclKind::Output => "output",
        }
    }

    fn from_namespace(ns: &str) -> Option<DeclKind> {
        match ns {
            "var" => Some(DeclKind::Variable),
            "local" => Some(DeclKind::Local),
            "application" => Some(DeclKind::Application),
            "environment" => Some(DeclKind::Environment),
            "module" => Some(DeclKind::Module),
            _ => None,
        }
    }

    fn what(self) -> &'static str {
        match self {
            DeclKind::Variable => "variable",
            DeclKind::Local => "local value",
            DeclKind::Application => "application",
            DeclKind::Environment => "environment",
            DeclKind::Module => "module",
            DeclKind::Output => "output",
        }
    }
}

struct Decl<'u> {
    kind: DeclKind,
    name: String,
    file: FileId,
    header: Span,
    block: Option<&'u Block>,
    local: Option<&'u Expression>,
}

impl Decl<'_> {
    fn key(&self) -> String {
        format!("{}.{}", self.kind.namespace(), self.name)
    }

    /// Every expression inside the declaration (what its references come from).
    fn expressions(&self) -> Vec<&Expression> {
        let mut out = Vec::new();
        if let Some(expr) = self.local {
            out.push(expr);
        }
        if let Some(block) = self.block {
            if self.kind != DeclKind::Variable {
                collect_expressions(&block.body, &mut out);
            }
        }
        out
    }
}

fn collect_expressions<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => out.push(&attr.value),
            Structure::Block(block) => collect_expressions(&block.body, out),
        }
    }
}

struct EnvironmentSite {
    name: String,
    application: String,
    /// `None` for a worker, which serves no name.
    cname: Option<String>,
    header: Span,
    cname_span: Span,
    application_span: Span,
}

struct Compiler<'f> {
    fs: &'f dyn SpecFs,
    sources: SourceMap,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    spec: Spec,
    environment_sites: Vec<EnvironmentSite>,
    application_sites: Vec<(String, Span)>,
}

impl<'f> Compiler<'f> {
    fn finish(mut self) -> Compilation {
        // Problems without a location (command-line input) first, then in source order.
        self.diagnostics.sort_by_key(|d| {
            d.span
                .as_ref()
                .map(|s| (s.file, s.range.start, s.range.end))
        });
        self.diagnostics.dedup();
        Compilation {
            sources: self.sources,
            spec: self.spec,
            diagnostics: self.diagnostics,
            warnings: self.warnings,
        }
    }

    fn collect_declarations<'u>(&mut self, unit: &'u Unit) -> Vec<Decl<'u>> {
        let mut decls: Vec<Decl<'u>> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for file in &unit.files {
            for structure in file.body.iter() {
                let block = match structure {
                    Structure::Block(block) => block,
                    Structure::Attribute(attr) => {
                        let span = Span::new(file.id, attr.key.span().unwrap_or(0..0));
                        self.diagnostics.push(
                            Diagnostic::new(
                                SpecError::UnknownAttribute {
                                    name: attr.key.as_str().to_string(),
                                    context: " at the top level".into(),
                                },
                                span,
                            )
                            .with_hint("attributes belong inside a block; put shared values in `locals { … }`"),
                        );
                        continue;
                    }
                };
                let ident = block.ident.as_str();
                let header = header_span(file.id, block);
                let (kind, labels) = match ident {
                    "variable" => (DeclKind::Variable, 1),
                    "locals" => (DeclKind::Local, 0),
                    "application" => (DeclKind::Application, 1),
                    "environment" => (DeclKind::Environment, 1),
                    "module" => (DeclKind::Module, 1),
                    "output" => (DeclKind::Output, 1),
                    other => {
                        let hint = suggest(other, TOP_LEVEL_BLOCKS);
                        self.diagnostics.push(
                            Diagnostic::new(
                                SpecError::UnknownBlock {
                                    name: other.to_string(),
                                    context: String::new(),
                                },
                                header,
                            )
                            .with_hint(hint),
                        );
                        continue;
                    }
                };
                if block.labels.len() != labels {
                    let expected = if labels == 0 {
                        "no labels".to_string()
                    } else {
                        "exactly one name label".to_string()
                    };
                    let example = if labels == 0 {
                        format!("{ident} {{ … }}")
                    } else {
                        format!("{ident} \"NAME\" {{ … }}")
                    };
                    self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::BadLabels {
                                block: ident.to_string(),
                                expected,
                            },
                            header,
                        )
                        .with_hint(format!("write `{example}`")),
                    );
                    continue;
                }
                if kind == DeclKind::Local {
                    for inner in block.body.iter() {
                        match inner {
                            Structure::Attribute(attr) => {
                                let span = Span::new(file.id, attr.key.span().unwrap_or(0..0));
                                let decl = Decl {
                                    kind,
                                    name: attr.key.as_str().to_string(),
                                    file: file.id,
                                    header: span,
                                    block: None,
                                    local: Some(&attr.value),
                                };
                                if self.register(&mut seen, &decl) {
                                    decls.push(decl);
                                }
                            }
                            Structure::Block(inner_block) => self.diagnostics.push(
                                Diagnostic::new(
                                    SpecError::UnknownBlock {
                                        name: inner_block.ident.as_str().to_string(),
                                        context: " in `locals`".into(),
                                    },
                                    header_span(file.id, inner_block),
                                )
                                .with_hint("`locals` holds only `name = value` attributes"),
                            ),
                        }
                    }
                    continue;
                }
                let name = block.labels[0].as_str().to_string();
                let decl = Decl {
                    kind,
                    name,
                    file: file.id,
                    header,
                    block: Some(block),
                    local: None,
                };
                if self.register(&mut seen, &decl) {
                    decls.push(decl);
                }
            }
        }
        decls
    }

    /// Refuses a second declaration of the same name.
    fn register(&mut self, seen: &mut HashMap<String, Span>, decl: &Decl) -> bool {
        if let Some(first) = seen.get(&decl.key()) {
            let at = self.location(first);
            self.diagnostics.push(
                Diagnostic::new(
                    SpecError::DuplicateName {
                        what: decl.kind.what().to_string(),
                        name: decl.name.clone(),
                    },
                    decl.header.clone(),
                )
                .with_hint(format!(
                    "it is first declared at {at}; rename or remove one"
                )),
            );
            return false;
        }
        seen.insert(decl.key(), decl.header.clone());
        true
    }

    fn location(&self, span: &Span) -> String {
        match self.sources.get(span.file) {
            Some(file) => {
                let (line, column) = file.line_column(span.range.start);
                format!("{}:{line}:{column}", file.name)
            }
            None => "?".into(),
        }
    }

    /// Orders declarations so that each comes after what it references; reports cycles.
    /// Returns the evaluation order and the set of declarations caught in a cycle.
    fn order(&mut self, decls: &[Decl]) -> (Vec<usize>, Vec<bool>) {
        let mut graph: DiGraph<usize, Span> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..decls.len()).map(|i| graph.add_node(i)).collect();
        let index: HashMap<String, usize> = decls
            .iter()
            .enumerate()
            .map(|(i, d)| (d.key(), i))
            .collect();
        for (i, decl) in decls.iter().enumerate() {
            for expr in decl.expressions() {
                for (ns, name, range) in references(expr) {
                    let Some(kind) = DeclKind::from_namespace(&ns) else {
                        continue;
                    };
                    if let Some(&j) = index.get(&format!("{}.{name}", kind.namespace())) {
                        graph.update_edge(nodes[i], nodes[j], Span::new(decl.file, range));
                    }
                }
            }
        }
        let mut in_cycle = vec![false; decls.len()];
        let mut order = Vec::with_capacity(decls.len());
        for component in petgraph::algo::tarjan_scc(&graph) {
            let cyclic =
                component.len() > 1 || graph.find_edge(component[0], component[0]).is_some();
            if cyclic {
                self.report_cycle(&graph, &component, decls);
                for node in &component {
                    in_cycle[graph[*node]] = true;
                }
            }
            order.extend(component.iter().map(|n| graph[*n]));
        }
        (order, in_cycle)
    }

    fn report_cycle(
        &mut self,
        graph: &DiGraph<usize, Span>,
        component: &[NodeIndex],
        decls: &[Decl],
    ) {
        // Walk the cycle from its first member in source order, staying inside the component.
        let Some(&start) = component
            .iter()
            .min_by_key(|n| (decls[graph[**n]].file, decls[graph[**n]].header.range.start))
        else {
            return;
        };
        let mut path = vec![start];
        let mut first_edge_span = None;
        let mut current = start;
        loop {
            let next = graph
                .edges(current)
                .filter(|e| component.contains(&petgraph::visit::EdgeRef::target(e)))
                .min_by_key(|e| {
                    let t = petgraph::visit::EdgeRef::target(e);
                    (
                        t != start && path.contains(&t),
                        decls[graph[t]].header.range.start,
                    )
                });
            let Some(edge) = next else { break };
            let target = petgraph::visit::EdgeRef::target(&edge);
            if first_edge_span.is_none() {
                first_edge_span = Some(edge.weight().clone());
            }
            path.push(target);
            if target == start || path.len() > component.len() + 1 {
                break;
            }
            current = target;
        }
        let names: Vec<String> = path.iter().map(|n| decls[graph[*n]].key()).collect();
        let mut members: Vec<String> = component.iter().map(|n| decls[graph[*n]].key()).collect();
        members.sort();
        let span = first_edge_span.unwrap_or_else(|| decls[graph[start]].header.clone());
        let hint = if members.len() == 1 {
            format!(
                "{} refers to itself; give it a value that does not use it",
                members[0]
            )
        } else {
            format!(
                "each of {} depends on itself through the others; break the cycle by removing one reference",
                members.join(", ")
            )
        };
        self.diagnostics.push(
            Diagnostic::new(
                SpecError::ReferenceCycle {
                    cycle: names.join(" → "),
                },
                span,
            )
            .with_hint(hint),
        );
    }

    fn compile_unit(&mut self, unit: &Unit, inputs: UnitInputs, depth: usize) -> Value {
        let decls = self.collect_declarations(unit);
        self.check_inputs_declared(&decls, &inputs);
        let (order, in_cycle) = self.order(&decls);
        let mut symbols = Symbols::default();
        let mut outputs = BTreeMap::new();
        for i in order {
            let decl = &decls[i];
            if in_cycle[i] {
                bind(&mut symbols, decl, Binding::Failed);
                continue;
            }
            let binding = match decl.kind {
                DeclKind::Variable => self.eval_variable(decl, &inputs),
                DeclKind::Local => {
                    let Some(expr) = decl.local else { continue };
                    let access = unit.base_dir.as_deref().map(|base_dir| FileAccess {
                        fs: self.fs,
                        base_dir,
                    });
                    let mut ev = Evaluator::new(&symbols, decl.file, access, &mut self.diagnostics);
                    match ev.eval(expr) {
                        Ok(v) => Binding::Value(v),
                        Err(_) => Binding::Failed,
                    }
                }
                DeclKind::Application => self.eval_application(decl, unit, &symbols),
                DeclKind::Environment => self.eval_environment(decl, unit, &symbols),
                DeclKind::Module => self.eval_module(decl, unit, &symbols, depth),
                DeclKind::Output => {
                    let binding = self.eval_output(decl, unit, &symbols);
                    // Outputs that worked still flow to the caller; failed ones are reported.
                    if let Binding::Value(v) = &binding {
                        outputs.insert(decl.name.clone(), v.clone());
                    }
                    binding
                }
            };
            bind(&mut symbols, decl, binding);
        }
        Value::Object(outputs)
    }

    fn evaluator<'s>(
        &'s mut self,
        symbols: &'s Symbols,
        file: FileId,
        unit: &'s Unit,
    ) -> Evaluator<'s> {
        let access = unit.base_dir.as_deref().map(|base_dir| FileAccess {
            fs: self.fs,
            base_dir,
        });
        Evaluator::new(symbols, file, access, &mut self.diagnostics)
    }

    /// Checks that need the whole spec: unique names and CNAMEs, environments' applications.
    fn check_whole_spec(&mut self) {
        let mut applications: HashMap<String, Span> = HashMap::new();
        for (name, span) in std::mem::take(&mut self.application_sites) {
            if let Some(first) = applications.get(&name) {
                let at = self.location(first);
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::DuplicateName {
                            what: "application".into(),
                            name: name.clone(),
                        },
                        span,
                    )
                    .with_hint(format!("application `{name}` is also declared at {at}; application names are unique in an account")),
                );
            } else {
                applications.insert(name, span);
            }
        }
        let mut environments: HashMap<String, Span> = HashMap::new();
        let mut cnames: HashMap<(String, String), String> = HashMap::new();
        for site in std::mem::take(&mut self.environment_sites) {
            if let Some(first) = environments.get(&site.name) {
                let at = self.location(first);
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::DuplicateName {
                            what: "environment".into(),
                            name: site.name.clone(),
                        },
                        site.header.clone(),
                    )
                    .with_hint(format!(
                        "environment `{}` is also declared at {at}; environment names are unique",
                        site.name
                    )),
                );
                continue;
            }
            environments.insert(site.name.clone(), site.header.clone());
            if !applications.contains_key(&site.application) {
                let hint = did_you_mean(&site.application, applications.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare it with `application \"NAME\" { … }`".to_string());
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::UndefinedReference {
                            what: "application".into(),
                            name: site.application.clone(),
                        },
                        site.application_span.clone(),
                    )
                    .with_hint(hint),
                );
            }
            let Some(cname) = site.cname.clone() else {
                continue;
            };
            let key = (site.application.clone(), cname.clone());
            if let Some(first) = cnames.get(&key) {
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::DuplicateCname {
                            cname,
                            first: first.clone(),
                            second: site.name.clone(),
                        },
                        site.cname_span.clone(),
                    )
                    .with_hint("each environment of an application serves its own CNAME; pick another, e.g. `NAME-staging`"),
                );
            } else {
                cnames.insert(key, site.name.clone());
            }
        }
    }
}

fn bind(symbols: &mut Symbols, decl: &Decl, binding: Binding) {
    let table = match decl.kind {
        DeclKind::Variable => &mut symbols.variables,
        DeclKind::Local => &mut symbols.locals,
        DeclKind::Application => &mut symbols.applications,
        DeclKind::Environment => &mut symbols.environments,
        DeclKind::Module => &mut symbols.modules,
        DeclKind::Output => return,
    };
    table.insert(decl.name.clone(), binding);
}
