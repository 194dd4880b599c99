//! Compiles a spec folder (and the modules it calls) into the typed [`Spec`]: collects the
//! declarations of every file, orders them by their references (refusing cycles, naming every
//! member), evaluates them in that order, and decodes applications and environments with all of
//! Elastic Beanstalk's defaults. Reports every error of the run; never panics on any input.

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
    Application, Capacity, Environment, HealthCheck, Https, Instance, LoadBalancer, Network,
    Output, Permissions, Platform, Proxy, Spec, Statement, Tier,
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
    cname: String,
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

    fn parse_unit(
        &mut self,
        prefix: String,
        base_dir: Option<PathBuf>,
        texts: Vec<(String, String)>,
    ) -> Unit {
        let mut files = Vec::new();
        for (name, text) in texts {
            let parsed = hcl_edit::parser::parse_body(&text);
            let id = self.sources.add(name, text);
            match parsed {
                Ok(body) => files.push(UnitFile { id, body }),
                Err(e) => self.syntax_error(id, &e),
            }
        }
        Unit {
            prefix,
            base_dir,
            files,
        }
    }

    fn syntax_error(&mut self, id: FileId, e: &hcl_edit::parser::Error) {
        let offset = e.location().offset();
        let text = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        let mut start = offset.min(text.len());
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        let end = self
            .sources
            .get(id)
            .and_then(|f| f.text.get(start..))
            .and_then(|rest| rest.chars().next())
            .map(|c| start + c.len_utf8())
            .unwrap_or(start);
        let message = e.message().replace('\n', " ");
        let text = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        // hcl-edit may notice a string left open at the end of its line only lines later; the
        // user's mistake is the opening quote, so point there.
        let (start, end) = match unclosed_quote_before(text, start) {
            Some(quote) => (quote, quote + 1),
            None => (start, end),
        };
        let hint = syntax_hint(&message, text, start);
        self.diagnostics.push(
            Diagnostic::new(SpecError::Syntax { message }, Span::new(id, start..end))
                .with_hint(hint),
        );
    }

    /// `--var`, `--var-file` and `BEANPOLE_VAR_*`, merged by precedence.
    fn root_inputs(&mut self, inputs: &VariableInputs) -> UnitInputs {
        let mut values = BTreeMap::new();
        for (name, text) in &inputs.environment {
            values.insert(
                name.clone(),
                InputValue::Text {
                    text: text.clone(),
                    origin: format!("BEANPOLE_VAR_{name}"),
                },
            );
        }
        for path in &inputs.files {
            let text = match self.fs.read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    self.diagnostics.push(
                        Diagnostic::without_location(SpecError::Input {
                            message: format!("cannot read var file `{}`: {e}", path.display()),
                        })
                        .with_hint("check the path given to --var-file"),
                    );
                    continue;
                }
            };
            let parsed = hcl_edit::parser::parse_body(&text);
            let id = self.sources.add(path.display().to_string(), text);
            let body = match parsed {
                Ok(body) => body,
                Err(e) => {
                    self.syntax_error(id, &e);
                    continue;
                }
            };
            let symbols = Symbols::default();
            for structure in body.iter() {
                match structure {
                    Structure::Attribute(attr) => {
                        let span = Span::new(id, attr.value.span().unwrap_or(0..0));
                        let mut ev = Evaluator::new(&symbols, id, None, &mut self.diagnostics);
                        let value = match ev.eval(&attr.value) {
                            Ok(value) => InputValue::Value {
                                value,
                                span,
                                key: Span::new(id, attr.key.span().unwrap_or(0..0)),
                            },
                            Err(_) => InputValue::Failed,
                        };
                        values.insert(attr.key.as_str().to_string(), value);
                    }
                    Structure::Block(block) => self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownBlock {
                                name: block.ident.as_str().to_string(),
                                context: " in a var file".into(),
                            },
                            header_span(id, block),
                        )
                        .with_hint("a var file holds only `NAME = value` lines"),
                    ),
                }
            }
        }
        for (name, text) in &inputs.cli {
            values.insert(
                name.clone(),
                InputValue::Text {
                    text: text.clone(),
                    origin: format!("--var {name}"),
                },
            );
        }
        UnitInputs {
            values,
            caller: None,
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

    fn check_inputs_declared(&mut self, decls: &[Decl], inputs: &UnitInputs) {
        let declared: Vec<&str> = decls
            .iter()
            .filter(|d| d.kind == DeclKind::Variable)
            .map(|d| d.name.as_str())
            .collect();
        for (name, value) in &inputs.values {
            if declared.contains(&name.as_str()) {
                continue;
            }
            let hint = did_you_mean(name, declared.iter().copied()).unwrap_or_else(|| {
                if declared.is_empty() {
                    "this spec declares no variables".to_string()
                } else {
                    format!("declared variables: {}", declared.join(", "))
                }
            });
            let error = SpecError::UndefinedReference {
                what: "variable".into(),
                name: name.clone(),
            };
            match value {
                InputValue::Value { key: span, .. } if inputs.caller.is_some() => {
                    self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownAttribute {
                                name: name.clone(),
                                context: " in module call: the module has no such variable".into(),
                            },
                            span.clone(),
                        )
                        .with_hint(hint),
                    )
                }
                InputValue::Value { key: span, .. } => self
                    .diagnostics
                    .push(Diagnostic::new(error, span.clone()).with_hint(hint)),
                InputValue::Text { origin, .. } if origin.starts_with("BEANPOLE_VAR_") => {}
                InputValue::Text { origin, .. } => self.diagnostics.push(
                    Diagnostic::without_location(SpecError::Input {
                        message: format!(
                            "`{origin}` sets variable `{name}`, which the spec does not declare"
                        ),
                    })
                    .with_hint(hint),
                ),
                InputValue::Failed => {}
            }
        }
    }

    fn eval_variable(&mut self, decl: &Decl, inputs: &UnitInputs) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let symbols = Symbols::default();
        let reader = BlockReader::new(
            decl.file,
            &block.body,
            format!("variable `{}`", decl.name),
            decl.header.clone(),
            &["description", "type", "default"],
            &["validation"],
            &mut self.diagnostics,
        );
        let var_type = match reader.attribute("type") {
            None => VarType::Any,
            Some(attr) => match VarType::from_expression(&attr.value) {
                Some(t) => t,
                None => {
                    let shown = self
                        .sources
                        .get(decl.file)
                        .map(|f| {
                            f.snippet(&attr.value.span().unwrap_or(0..0))
                                .trim()
                                .to_string()
                        })
                        .unwrap_or_default();
                    self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::InvalidValue {
                                what: "type".into(),
                                value: shown,
                                reason: String::new(),
                            },
                            Span::new(decl.file, attr.value.span().unwrap_or(0..0)),
                        )
                        .with_hint(format!(
                            "a variable's type is one of {}",
                            TYPE_NAMES.join(", ")
                        )),
                    );
                    return Binding::Failed;
                }
            },
        };
        let mut ev = Evaluator::new(&symbols, decl.file, None, &mut self.diagnostics);
        // Read to type-check it; a description is documentation only.
        reader.string(&mut ev, "description");
        let default = reader.value(&mut ev, "default");
        if reader.failed() {
            return Binding::Failed;
        }
        let (value, span, origin) = match inputs.values.get(&decl.name) {
            Some(InputValue::Failed) => return Binding::Failed,
            Some(InputValue::Value { value, span, .. }) => {
                (value.clone(), Some(span.clone()), "value".to_string())
            }
            Some(InputValue::Text { text, origin }) => {
                if var_type.needs_expression() {
                    match hcl_edit::parser::parse_expr(text) {
                        Ok(expr) => {
                            let mut inner = Vec::new();
                            let symbols = Symbols::default();
                            let mut ev = Evaluator::new(&symbols, decl.file, None, &mut inner);
                            match ev.eval(&expr) {
                                Ok(v) => (v, None, origin.clone()),
                                Err(_) => {
                                    self.input_error(
                                        decl,
                                        origin,
                                        var_type,
                                        "an expression with references",
                                    );
                                    return Binding::Failed;
                                }
                            }
                        }
                        Err(_) => {
                            self.input_error(decl, origin, var_type, &format!("string \"{text}\""));
                            return Binding::Failed;
                        }
                    }
                } else {
                    (Value::String(text.clone()), None, origin.clone())
                }
            }
            None => match default {
                Some((value, span)) => (value, Some(span), "default".to_string()),
                None => {
                    let at = match &inputs.caller {
                        Some(caller) => caller.clone(),
                        None => decl.header.clone(),
                    };
                    let hint = if inputs.caller.is_some() {
                        format!("add `{} = …` to the module block", decl.name)
                    } else {
                        format!(
                            "pass `--var {0}=VALUE`, add it to a --var-file, set BEANPOLE_VAR_{0}, or give the variable a `default`",
                            decl.name
                        )
                    };
                    self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::VariableWithoutValue {
                                name: decl.name.clone(),
                            },
                            at,
                        )
                        .with_hint(hint),
                    );
                    return Binding::Failed;
                }
            },
        };
        match var_type.convert(value) {
            Ok(v) => self.check_validations(decl, &reader, v),
            Err(found) => {
                match span {
                    Some(span) => self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::WrongType {
                                name: format!("var.{}", decl.name),
                                expected: var_type.to_string(),
                                found,
                            },
                            span,
                        )
                        .with_hint(format!(
                            "variable `{}` is declared with type {var_type}",
                            decl.name
                        )),
                    ),
                    None => self.input_error(decl, &origin, var_type, &found),
                }
                Binding::Failed
            }
        }
    }

    /// Runs a variable's `validation { condition, error_message }` blocks against its value.
    fn check_validations(&mut self, decl: &Decl, reader: &BlockReader, value: Value) -> Binding {
        let mut symbols = Symbols::default();
        symbols
            .variables
            .insert(decl.name.clone(), Binding::Value(value.clone()));
        let mut ok = true;
        for block in reader.blocks("validation") {
            let mut diagnostics = Vec::new();
            let v = BlockReader::new(
                decl.file,
                &block.body,
                format!("validation of variable `{}`", decl.name),
                header_span(decl.file, block),
                &["condition", "error_message"],
                &[],
                &mut diagnostics,
            );
            self.diagnostics.append(&mut diagnostics);
            let mut ev = Evaluator::new(&symbols, decl.file, None, &mut self.diagnostics);
            let condition = v.required_value(
                &mut ev,
                "condition",
                "add `condition = <a bool using var.NAME>`",
            );
            let message =
                v.required_string(&mut ev, "error_message", "add `error_message = \"…\"`");
            match (condition, message) {
                (Some((Value::Bool(true), _)), Some(_)) => {}
                (Some((Value::Bool(false), span)), Some((message, _))) => {
                    ok = false;
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::Evaluation { message }, span).with_hint(
                            format!("the value of variable `{}` fails this condition", decl.name),
                        ),
                    );
                }
                (Some((Value::Unknown(_), _)), Some(_)) => {}
                (Some((other, span)), _) => {
                    ok = false;
                    ev.diagnostics.push(
                        Diagnostic::new(
                            SpecError::WrongType {
                                name: "condition".into(),
                                expected: "bool".into(),
                                found: other.describe(),
                            },
                            span,
                        )
                        .with_hint("a validation condition is true or false"),
                    );
                }
                _ => ok = false,
            }
            ok &= !v.failed();
        }
        if ok {
            Binding::Value(value)
        } else {
            Binding::Failed
        }
    }

    fn input_error(&mut self, decl: &Decl, origin: &str, var_type: VarType, found: &str) {
        self.diagnostics.push(
            Diagnostic::new(
                SpecError::WrongType {
                    name: format!("var.{} (from {origin})", decl.name),
                    expected: var_type.to_string(),
                    found: found.to_string(),
                },
                decl.header.clone(),
            )
            .with_hint(match var_type {
                VarType::ListOfString => {
                    "give a list as HCL, e.g. --var 'NAME=[\"a\", \"b\"]'".to_string()
                }
                VarType::MapOfString => {
                    "give a map as HCL, e.g. --var 'NAME={ key = \"value\" }'".to_string()
                }
                other => format!("give a {other}"),
            }),
        );
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

    fn eval_output(&mut self, decl: &Decl, unit: &Unit, symbols: &Symbols) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let mut diagnostics = Vec::new();
        let reader = BlockReader::new(
            decl.file,
            &block.body,
            format!("output `{}`", decl.name),
            decl.header.clone(),
            &["value", "description", "sensitive"],
            &[],
            &mut diagnostics,
        );
        self.diagnostics.append(&mut diagnostics);
        let mut ev = self.evaluator(symbols, decl.file, unit);
        if !reader.has("value") {
            reader.missing(&mut ev, "value", "an output needs `value = …`");
            return Binding::Failed;
        }
        let value = reader
            .value(&mut ev, "value")
            .map(|(v, _)| v)
            .unwrap_or(Value::Null);
        reader.string(&mut ev, "description");
        reader.bool(&mut ev, "sensitive");
        if reader.failed() {
            return Binding::Failed;
        }
        if unit.prefix.is_empty() {
            self.spec.outputs.push(Output {
                name: decl.name.clone(),
                module_prefix: unit.prefix.clone(),
                value: value.to_json(),
                known: value.is_known(),
            });
        }
        Binding::Value(value)
    }

    fn eval_module(
        &mut self,
        decl: &Decl,
        unit: &Unit,
        symbols: &Symbols,
        depth: usize,
    ) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let mut input_values = BTreeMap::new();
        let mut source: Option<(String, Span)> = None;
        let mut failed = false;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let span = Span::new(decl.file, attr.value.span().unwrap_or(0..0));
                    let mut ev = self.evaluator(symbols, decl.file, unit);
                    let value = ev.eval(&attr.value);
                    match (attr.key.as_str(), value) {
                        ("source", Ok(Value::String(s))) => source = Some((s, span)),
                        ("source", Ok(other)) => {
                            failed = true;
                            self.diagnostics.push(
                                Diagnostic::new(
                                    SpecError::WrongType {
                                        name: "source".into(),
                                        expected: "string".into(),
                                        found: other.describe(),
                                    },
                                    span,
                                )
                                .with_hint("a module source is a literal path or `beanpole/NAME`"),
                            );
                        }
                        (name, Ok(value)) => {
                            let key = Span::new(decl.file, attr.key.span().unwrap_or(0..0));
                            input_values
                                .insert(name.to_string(), InputValue::Value { value, span, key });
                        }
                        (_, Err(_)) => failed = true,
                    }
                }
                Structure::Block(inner) => {
                    failed = true;
                    self.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownBlock {
                                name: inner.ident.as_str().to_string(),
                                context: " in a module call".into(),
                            },
                            header_span(decl.file, inner),
                        )
                        .with_hint(
                            "a module call holds `source` and the module's variables as attributes",
                        ),
                    );
                }
            }
        }
        let Some((source, source_span)) = source else {
            if !failed {
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::MissingAttribute {
                            name: "source".into(),
                            context: format!("module `{}`", decl.name),
                        },
                        decl.header.clone(),
                    )
                    .with_hint(
                        "add `source = \"./path/to/module\"` or `source = \"beanpole/blue-green\"`",
                    ),
                );
            }
            return Binding::Failed;
        };
        if failed {
            return Binding::Failed;
        }
        if depth >= MAX_MODULE_DEPTH {
            self.diagnostics.push(
                Diagnostic::new(
                    SpecError::Evaluation {
                        message: format!("modules nest more than {MAX_MODULE_DEPTH} deep"),
                    },
                    source_span,
                )
                .with_hint("does a module call itself?"),
            );
            return Binding::Failed;
        }
        let Some((texts, base_dir)) = self.resolve_module(&source, &source_span, unit) else {
            return Binding::Failed;
        };
        let prefix = format!("{}module.{}.", unit.prefix, decl.name);
        let child = self.parse_unit(prefix, base_dir, texts);
        let errors_before = self.diagnostics.len();
        let outputs = self.compile_unit(
            &child,
            UnitInputs {
                values: input_values,
                caller: Some(decl.header.clone()),
            },
            depth + 1,
        );
        if self.diagnostics.len() > errors_before {
            return Binding::Failed;
        }
        Binding::Value(outputs)
    }

    /// The files of a module source: a folder relative to the calling unit, or a shipped module.
    fn resolve_module(&mut self, source: &str, span: &Span, unit: &Unit) -> Option<ModuleFiles> {
        if let Some(name) = source.strip_prefix(SHIPPED_PREFIX) {
            if let Some(files) = shipped_module(name) {
                return Some((files, None));
            }
            let names = shipped_module_names();
            let full: Vec<String> = names
                .iter()
                .map(|n| format!("{SHIPPED_PREFIX}{n}"))
                .collect();
            let hint = did_you_mean(source, full.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "modules shipped with Beanpole: {}",
                    names
                        .iter()
                        .map(|n| format!("{SHIPPED_PREFIX}{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            self.module_not_found(source, span, hint);
            return None;
        }
        let is_path =
            source.starts_with("./") || source.starts_with("../") || source.starts_with('/');
        let Some(base) = unit.base_dir.as_ref().filter(|_| is_path) else {
            let hint = if is_path {
                "a module shipped with Beanpole cannot call a module by path".to_string()
            } else {
                format!(
                    "a module source is a path starting with `./` or `../`, or one of: {}",
                    shipped_module_names()
                        .iter()
                        .map(|n| format!("{SHIPPED_PREFIX}{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.module_not_found(source, span, hint);
            return None;
        };
        let dir = normalize(&base.join(source));
        match self.fs.hcl_files(&dir) {
            Ok(files) if !files.is_empty() => {
                let mut texts = Vec::new();
                for path in files {
                    match self.fs.read_to_string(&path) {
                        Ok(text) => texts.push((path.display().to_string(), text)),
                        Err(e) => {
                            self.diagnostics.push(Diagnostic::new(
                                SpecError::Input {
                                    message: format!("cannot read `{}`: {e}", path.display()),
                                },
                                span.clone(),
                            ));
                            return None;
                        }
                    }
                }
                Some((texts, Some(dir)))
            }
            Ok(_) => {
                self.module_not_found(
                    source,
                    span,
                    format!("`{}` has no .hcl files", dir.display()),
                );
                None
            }
            Err(_) => {
                self.module_not_found(
                    source,
                    span,
                    format!(
                        "no folder at `{}` (paths are relative to the calling spec's folder)",
                        dir.display()
                    ),
                );
                None
            }
        }
    }

    fn module_not_found(&mut self, source: &str, span: &Span, hint: String) {
        self.diagnostics.push(
            Diagnostic::new(
                SpecError::ModuleNotFound {
                    source_path: source.to_string(),
                },
                span.clone(),
            )
            .with_hint(hint),
        );
    }

    fn eval_application(&mut self, decl: &Decl, unit: &Unit, symbols: &Symbols) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let mut diagnostics = Vec::new();
        let reader = BlockReader::new(
            decl.file,
            &block.body,
            format!("application `{}`", decl.name),
            decl.header.clone(),
            &["name", "region", "domain", "tags", "description"],
            &[],
            &mut diagnostics,
        );
        self.diagnostics.append(&mut diagnostics);
        let mut ev = self.evaluator(symbols, decl.file, unit);
        let explicit_name = reader.string(&mut ev, "name");
        let name_failed = reader.has("name") && explicit_name.is_none();
        let (name, name_span) =
            explicit_name.unwrap_or_else(|| (decl.name.clone(), decl.header.clone()));
        let name_ok = !name_failed
            && reader.check(
                &mut ev,
                "application name",
                &name,
                &name_span,
                checks::application_name(&name),
            );
        let region = reader.string(&mut ev, "region");
        if let Some((r, span)) = &region {
            reader.check(&mut ev, "region", r, span, checks::region(r));
        }
        let domain = reader.string(&mut ev, "domain");
        if let Some((d, span)) = &domain {
            reader.check(&mut ev, "domain", d, span, checks::domain(d));
        }
        let tags = read_tags(&reader, &mut ev);
        reader.string(&mut ev, "description");
        if reader.failed() || !name_ok {
            return Binding::Failed;
        }
        let domain = domain.map(|(d, _)| d.trim_end_matches('.').to_lowercase());
        let region = region.map(|(r, _)| r);
        let mut object = BTreeMap::new();
        object.insert("name".to_string(), Value::String(name.clone()));
        object.insert(
            "region".to_string(),
            region.clone().map(Value::String).unwrap_or(Value::Null),
        );
        object.insert(
            "domain".to_string(),
            domain.clone().map(Value::String).unwrap_or(Value::Null),
        );
        object.insert(
            "tags".to_string(),
            Value::Object(
                tags.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        self.application_sites.push((name.clone(), name_span));
        self.spec.applications.push(Application {
            name,
            label: decl.name.clone(),
            module_prefix: unit.prefix.clone(),
            region,
            domain,
            tags,
        });
        Binding::Value(Value::Object(object))
    }

    fn eval_environment(&mut self, decl: &Decl, unit: &Unit, symbols: &Symbols) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let mut diagnostics = Vec::new();
        let reader = BlockReader::new(
            decl.file,
            &block.body,
            format!("environment `{}`", decl.name),
            decl.header.clone(),
            &[
                "name",
                "application",
                "tier",
                "cname",
                "platform",
                "proxy",
                "properties",
                "tags",
                "description",
            ],
            &[
                "instance",
                "capacity",
                "load_balancer",
                "network",
                "permissions",
            ],
            &mut diagnostics,
        );
        let instance_block = reader.single_block("instance", &mut diagnostics);
        let capacity_block = reader.single_block("capacity", &mut diagnostics);
        let lb_block = reader.single_block("load_balancer", &mut diagnostics);
        let network_block = reader.single_block("network", &mut diagnostics);
        let permissions_block = reader.single_block("permissions", &mut diagnostics);
        self.diagnostics.append(&mut diagnostics);

        let mut ev = self.evaluator(symbols, decl.file, unit);
        let explicit_name = reader.string(&mut ev, "name");
        let name_failed = reader.has("name") && explicit_name.is_none();
        let (name, name_span) =
            explicit_name.unwrap_or_else(|| (decl.name.clone(), decl.header.clone()));
        let name_ok = !name_failed
            && reader.check(
                &mut ev,
                "environment name",
                &name,
                &name_span,
                checks::environment_name(&name),
            );
        let application = read_application_ref(&reader, &mut ev);
        let tier_ok = match reader.string(&mut ev, "tier") {
            None => true,
            Some((tier, span)) => match tier.as_str() {
                "web" | "WebServer" => true,
                "worker" | "Worker" => {
                    reader.mark_failed();
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::UnsupportedTier { name: tier }, span).with_hint(
                            "only the web tier is supported for now; use tier = \"web\"",
                        ),
                    );
                    false
                }
                other => {
                    reader.mark_failed();
                    let hint = suggest(other, &["web", "worker"]);
                    ev.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownTier {
                                name: other.to_string(),
                            },
                            span,
                        )
                        .with_hint(hint),
                    );
                    false
                }
            },
        };
        let cname = reader.string(&mut ev, "cname");
        if let Some((c, span)) = &cname {
            reader.check(&mut ev, "CNAME", c, span, checks::cname_label(c));
        }
        let platform = match reader.required_string(
            &mut ev,
            "platform",
            "add `platform = \"python-3.12\"` (python-3.9 … python-3.13)",
        ) {
            None => None,
            Some((p, span)) => match Platform::parse(&p) {
                Some(platform) => Some(platform),
                None => {
                    reader.mark_failed();
                    let hint = did_you_mean(&p, PLATFORMS.iter().copied()).unwrap_or_else(|| {
                        format!("supported platforms: {}", PLATFORMS.join(", "))
                    });
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::UnknownPlatform { name: p }, span)
                            .with_hint(hint),
                    );
                    None
                }
            },
        };
        let proxy = match reader.string(&mut ev, "proxy") {
            None => Some(Proxy::Nginx),
            Some((p, span)) => match Proxy::parse(&p) {
                Some(proxy) => Some(proxy),
                None => {
                    reader.mark_failed();
                    let hint = suggest(&p, PROXIES);
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::UnknownProxy { name: p }, span).with_hint(hint),
                    );
                    None
                }
            },
        };
        let properties = reader.string_map(&mut ev, "properties");
        if let Some((props, _)) = &properties {
            for (key, value) in props {
                let at = reader.map_key_span("properties", key);
                reader.check(
                    &mut ev,
                    "property name",
                    &key.escape_debug().to_string(),
                    &at,
                    checks::property_name(key),
                );
                let at = reader.map_value_span("properties", key);
                reader.check(
                    &mut ev,
                    &format!("value of property `{}`", key.escape_debug()),
                    &value.escape_debug().to_string(),
                    &at,
                    checks::property_value(value),
                );
            }
        }
        let tags = read_tags(&reader, &mut ev);
        reader.string(&mut ev, "description");

        let file = decl.file;
        let instance = read_instance(file, instance_block, &mut ev);
        let capacity = read_capacity(file, capacity_block, &mut ev);
        let load_balancer = read_load_balancer(file, lb_block, &mut ev);
        let network = read_network(file, network_block, &mut ev);
        let permissions = read_permissions(file, permissions_block, &mut ev);
        let warnings = std::mem::take(&mut ev.warnings);
        drop(ev);
        self.warnings.extend(warnings);

        let (
            Some((application, application_span)),
            Some(platform),
            Some(proxy),
            Some(instance),
            Some(capacity),
            Some(load_balancer),
            Some(network),
            Some(permissions),
        ) = (
            application,
            platform,
            proxy,
            instance,
            capacity,
            load_balancer,
            network,
            permissions,
        )
        else {
            return Binding::Failed;
        };
        if reader.failed() || !name_ok || !tier_ok {
            return Binding::Failed;
        }
        let (cname, cname_span) = match cname {
            Some((c, span)) => (c, span),
            None => (name.to_lowercase(), name_span.clone()),
        };
        self.environment_sites.push(EnvironmentSite {
            name: name.clone(),
            application: application.clone(),
            cname: cname.clone(),
            header: name_span,
            cname_span,
            application_span,
        });
        let mut object = BTreeMap::new();
        object.insert("name".to_string(), Value::String(name.clone()));
        object.insert(
            "application".to_string(),
            Value::String(application.clone()),
        );
        object.insert("cname".to_string(), Value::String(cname.clone()));
        object.insert("platform".to_string(), Value::String(platform.to_string()));
        let address = format!("{}environment.{}", unit.prefix, decl.name);
        for attribute in [
            "url",
            "load_balancer_dns_name",
            "load_balancer_arn",
            "auto_scaling_group_name",
        ] {
            object.insert(
                attribute.to_string(),
                Value::Unknown(format!("{address}.{attribute}")),
            );
        }
        self.spec.environments.push(Environment {
            name,
            label: decl.name.clone(),
            module_prefix: unit.prefix.clone(),
            application,
            tier: Tier::Web,
            cname,
            platform,
            proxy,
            instance,
            capacity,
            load_balancer,
            network,
            permissions,
            properties: properties.map(|(p, _)| p).unwrap_or_default(),
            tags,
        });
        Binding::Value(Value::Object(object))
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
            let key = (site.application.clone(), site.cname.clone());
            if let Some(first) = cnames.get(&key) {
                self.diagnostics.push(
                    Diagnostic::new(
                        SpecError::DuplicateCname {
                            cname: site.cname.clone(),
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

/// A hint for a parse error: an unclosed string on the line (or the one before), else what the
/// parser expected.
/// Whether a line holds a string that is opened and not closed (escapes ignored).
fn has_unclosed_string(line: &str) -> bool {
    let without_escapes = line.replace("\\\\", "").replace("\\\"", "");
    without_escapes.matches('"').count() % 2 == 1
}

/// The byte offset of the quote that opens a string left unclosed on an earlier line, when
/// hcl-edit noticed it only on a later one (the string ran on, through lines without quotes,
/// to the next quote). None when the line holding `offset` has an unclosed string itself.
fn unclosed_quote_before(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map(|i| i + 1)?;
    let current = text.get(line_start..)?.lines().next().unwrap_or("");
    if has_unclosed_string(current) {
        return None;
    }
    // Walk back over lines the string could have run through (no quotes) to the one that
    // opened it; a line with balanced quotes in between means this is not that case.
    let mut end = line_start - 1;
    for _ in 0..20 {
        let start = text.get(..end)?.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = text.get(start..end)?;
        if has_unclosed_string(line) {
            return last_open_quote(line).map(|i| start + i);
        }
        if line.contains('"') || start == 0 {
            return None;
        }
        end = start - 1;
    }
    None
}

/// The offset of the quote that opens the last, unclosed string of a line (escapes skipped).
fn last_open_quote(line: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                open = if open.is_some() { None } else { Some(i) };
            }
            _ => escaped = false,
        }
    }
    open
}

fn syntax_hint(message: &str, text: &str, offset: usize) -> String {
    let line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let previous_start = text
        .get(..line_start.saturating_sub(1))
        .and_then(|t| t.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let unclosed = has_unclosed_string;
    let current_line = text
        .get(line_start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("");
    let previous_line = text.get(previous_start..line_start).unwrap_or("");
    if unclosed(current_line) || unclosed(previous_line) {
        "a string is not closed: add the closing `\"`".into()
    } else if message.starts_with("invalid expression") {
        "an expression is missing or incomplete here (an operator without its operand?)".into()
    } else if message.contains("expected `}`") {
        "is a closing `}` missing, or an attribute not on its own line?".into()
    } else if message.contains("expected `=`") {
        "attributes are written `name = value`".into()
    } else {
        "check the HCL syntax near the caret".into()
    }
}

/// `application = application.NAME` (or the application's name as a string).
fn read_application_ref(reader: &BlockReader, ev: &mut Evaluator) -> Option<(String, Span)> {
    let (value, span) =
        reader.required_value(ev, "application", "add `application = application.NAME`")?;
    match value {
        Value::String(name) => Some((name, span)),
        Value::Object(map) => match map.get("name") {
            Some(Value::String(name)) => Some((name.clone(), span)),
            _ => {
                reader.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::WrongType {
                            name: "application".into(),
                            expected: "a reference to an application".into(),
                            found: "map".into(),
                        },
                        span,
                    )
                    .with_hint("write `application = application.NAME`"),
                );
                None
            }
        },
        other => {
            reader.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::WrongType {
                        name: "application".into(),
                        expected: "a reference to an application".into(),
                        found: other.describe(),
                    },
                    span,
                )
                .with_hint("write `application = application.NAME`"),
            );
            None
        }
    }
}

fn read_tags(reader: &BlockReader, ev: &mut Evaluator) -> BTreeMap<String, String> {
    let Some((tags, _)) = reader.string_map(ev, "tags") else {
        return BTreeMap::new();
    };

    for (key, value) in &tags {
        let at = reader.map_key_span("tags", key);
        reader.check(ev, "tag key", key, &at, checks::tag_key(key));
        reader.check(ev, "tag value", value, &at, checks::tag_value(value));
    }
    tags
}

fn sub_reader<'b>(
    file: FileId,
    block: &'b Block,
    name: &str,
    attrs: &[&str],
    blocks: &[&str],
    ev: &mut Evaluator,
) -> BlockReader<'b> {
    BlockReader::new(
        file,
        &block.body,
        format!("`{name}` block"),
        header_span(file, block),
        attrs,
        blocks,
        ev.diagnostics,
    )
}

fn read_instance(file: FileId, block: Option<&Block>, ev: &mut Evaluator) -> Option<Instance> {
    let mut instance = Instance {
        instance_type: DEFAULT_INSTANCE_TYPE.to_string(),
        ami: None,
        key_name: None,
        port: 80,
    };
    let Some(block) = block else {
        return Some(instance);
    };
    let r = sub_reader(
        file,
        block,
        "instance",
        &["type", "ami", "key_name", "port"],
        &[],
        ev,
    );
    if let Some((t, span)) = r.string(ev, "type") {
        if r.check(ev, "instance type", &t, &span, checks::instance_type(&t)) {
            instance.instance_type = t;
        }
    }
    if let Some((ami, span)) = r.string(ev, "ami") {
        if r.check(ev, "AMI id", &ami, &span, checks::resource_id(&ami, "ami")) {
            instance.ami = Some(ami);
        }
    }
    instance.key_name = r.string(ev, "key_name").map(|(k, _)| k);
    if let Some((port, span)) = r.number(ev, "port") {
        if r.check(
            ev,
            "port",
            &super::value::format_number(port),
            &span,
            checks::port(port),
        ) {
            instance.port = port as u16;
        }
    }
    (!r.failed()).then_some(instance)
}

fn read_capacity(file: FileId, block: Option<&Block>, ev: &mut Evaluator) -> Option<Capacity> {
    let mut capacity = Capacity {
        min: 1,
        max: 4,
        desired: None,
        cpu_target: None,
        requests_per_target: None,
    };
    let Some(block) = block else {
        return Some(capacity);
    };

    let r = sub_reader(
        file,
        block,
        "capacity",
        &["min", "max", "desired", "cpu_target", "requests_per_target"],
        &[],
        ev,
    );
    let min = r.whole_number(ev, "min", 0, 10_000);
    let max = r.whole_number(ev, "max", 1, 10_000);
    let desired = r.whole_number(ev, "desired", 0, 10_000);
    if let Some((m, _)) = &min {
        capacity.min = *m as u32;
    }
    if let Some((m, _)) = &max {
        capacity.max = *m as u32;
    }
    if capacity.min > capacity.max {
        r.mark_failed();
        let span = min
            .as_ref()
            .or(max.as_ref())
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| r.header.clone());
        ev.diagnostics.push(
            Diagnostic::new(
                SpecError::Capacity {
                    message: format!(
                        "min ({}) is greater than max ({})",
                        capacity.min, capacity.max
                    ),
                },
                span,
            )
            .with_hint("lower `min` or raise `max` so that min <= max"),
        );
    }
    if let Some((d, span)) = desired {
        let d = d as u32;
        if d < capacity.min || d > capacity.max {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::Capacity {
                        message: format!(
                            "desired ({d}) is outside min ({}) … max ({})",
                            capacity.min, capacity.max
                        ),
                    },
                    span,
                )
                .with_hint("set desired between min and max, or leave it out"),
            );
        }
        capacity.desired = Some(d);
    }
    if let Some((cpu, span)) = r.number(ev, "cpu_target") {
        if !(1.0..=100.0).contains(&cpu) {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: "cpu_target".into(),
                        value: super::value::format_number(cpu),
                        reason: ": a CPU target is a percentage".into(),
                    },
                    span,
                )
                .with_hint("set cpu_target between 1 and 100"),
            );
        }
        capacity.cpu_target = Some(cpu);
    }
    if let Some((n, _)) = r.whole_number(ev, "requests_per_target", 1, 1_000_000) {
        capacity.requests_per_target = Some(n as u32);
    }
    (!r.failed()).then_some(capacity)
}

fn read_load_balancer(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<LoadBalancer> {
    let mut lb = LoadBalancer {
        internal: false,
        idle_timeout: 60,
        allowed_cidrs: vec!["0.0.0.0/0".to_string()],
        https: None,
        health_check: HealthCheck {
            path: "/".into(),
            interval: 15,
            timeout: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 5,
            matcher: "200".into(),
        },
    };
    let Some(block) = block else { return Some(lb) };
    let mut diagnostics = Vec::new();
    let r = sub_reader(
        file,
        block,
        "load_balancer",
        &["internal", "idle_timeout", "allowed_cidrs"],
        &["https", "health_check"],
        ev,
    );
    let https_block = r.single_block("https", &mut diagnostics);
    let hc_block = r.single_block("health_check", &mut diagnostics);
    ev.diagnostics.append(&mut diagnostics);
    if let Some((b, _)) = r.bool(ev, "internal") {
        lb.internal = b;
    }
    if let Some((t, _)) = r.whole_number(ev, "idle_timeout", 1, 4000) {
        lb.idle_timeout = t as u32;
    }
    if let Some((cidrs, _)) = r.string_list(ev, "allowed_cidrs") {
        for (i, cidr) in cidrs.iter().enumerate() {
            let at = r.element_span("allowed_cidrs", i);
            r.check(ev, "CIDR", cidr, &at, checks::cidr(cidr));
        }
        lb.allowed_cidrs = cidrs;
    }
    let mut ok = !r.failed();
    if let Some(block) = https_block {
        let h = sub_reader(
            file,
            block,
            "https",
            &["certificate_arn", "ssl_policy", "redirect_http"],
            &[],
            ev,
        );
        let certificate = match h.string(ev, "certificate_arn") {
            Some((arn, span)) => {
                h.check(
                    ev,
                    "certificate ARN",
                    &arn,
                    &span,
                    checks::certificate_arn(&arn),
                );
                Some(arn)
            }
            None if !h.failed() => {
                h.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(SpecError::HttpsWithoutCertificate, h.header.clone()).with_hint(
                        "add `certificate_arn = \"arn:aws:acm:REGION:ACCOUNT:certificate/ID\"` (an ACM certificate for the environment's domain)",
                    ),
                );
                None
            }
            None => None,
        };
        let ssl_policy = match h.string(ev, "ssl_policy") {
            Some((p, span)) => {
                h.check(ev, "ssl_policy", &p, &span, checks::ssl_policy(&p));
                p
            }
            None => DEFAULT_SSL_POLICY.to_string(),
        };
        let redirect_http = h.bool(ev, "redirect_http").map(|(b, _)| b).unwrap_or(true);
        ok &= !h.failed();
        if let Some(certificate_arn) = certificate {
            lb.https = Some(Https {
                certificate_arn,
                ssl_policy,
                redirect_http,
            });
        }
    }
    if let Some(block) = hc_block {
        let h = sub_reader(
            file,
            block,
            "health_check",
            &[
                "path",
                "interval",
                "timeout",
                "healthy_threshold",
                "unhealthy_threshold",
                "matcher",
            ],
            &[],
            ev,
        );
        let hc = &mut lb.health_check;
        if let Some((path, span)) = h.string(ev, "path") {
            h.check(
                ev,
                "health check path",
                &path,
                &span,
                checks::health_check_path(&path),
            );
            hc.path = path;
        }
        let interval = h.whole_number(ev, "interval", 5, 300);
        let timeout = h.whole_number(ev, "timeout", 2, 120);
        if let Some((i, _)) = &interval {
            hc.interval = *i as u32;
        }
        if let Some((t, _)) = &timeout {
            hc.timeout = *t as u32;
        }
        if hc.timeout >= hc.interval && !h.failed() {
            h.mark_failed();
            let span = timeout
                .or(interval)
                .map(|(_, s)| s)
                .unwrap_or_else(|| h.header.clone());
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::HealthCheckTimeout {
                        timeout: hc.timeout as i64,
                        interval: hc.interval as i64,
                    },
                    span,
                )
                .with_hint(
                    "make `timeout` smaller than `interval` (defaults: timeout 5, interval 15)",
                ),
            );
        }
        if let Some((n, _)) = h.whole_number(ev, "healthy_threshold", 2, 10) {
            hc.healthy_threshold = n as u32;
        }
        if let Some((n, _)) = h.whole_number(ev, "unhealthy_threshold", 2, 10) {
            hc.unhealthy_threshold = n as u32;
        }
        if let Some((m, span)) = h.string(ev, "matcher") {
            h.check(
                ev,
                "health check matcher",
                &m,
                &span,
                checks::http_matcher(&m),
            );
            hc.matcher = m;
        }
        ok &= !h.failed();
    }
    ok.then_some(lb)
}

fn read_network(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Option<Network>> {
    let Some(block) = block else {
        return Some(None);
    };
    let r = sub_reader(file, block, "network", &["vpc_id", "subnets"], &[], ev);
    let vpc = r.required_string(
        ev,
        "vpc_id",
        "add `vpc_id = \"vpc-…\"`, or remove the block to use the default VPC",
    );
    if let Some((v, span)) = &vpc {
        r.check(ev, "VPC id", v, span, checks::resource_id(v, "vpc"));
    }
    let subnets = r.required_string_list(
        ev,
        "subnets",
        "list at least two subnets in different Availability Zones",
    );
    if let Some((list, span)) = &subnets {
        for (i, s) in list.iter().enumerate() {
            let at = r.element_span("subnets", i);
            r.check(ev, "subnet id", s, &at, checks::resource_id(s, "subnet"));
        }
        if list.len() < 2 {
            r.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: "subnets".into(),
                        value: list.join(", "),
                        reason: ": an Application Load Balancer needs subnets in at least two Availability Zones".into(),
                    },
                    span.clone(),
                )
                .with_hint("list two or more subnets"),
            );
        }
    }
    match (vpc, subnets, r.failed()) {
        (Some((vpc_id, _)), Some((subnets, _)), false) => Some(Some(Network { vpc_id, subnets })),
        _ => None,
    }
}

fn read_permissions(
    file: FileId,
    block: Option<&Block>,
    ev: &mut Evaluator,
) -> Option<Permissions> {
    let Some(block) = block else {
        return Some(Permissions::default());
    };
    let r = sub_reader(
        file,
        block,
        "permissions",
        &["managed_policies"],
        &["statement"],
        ev,
    );
    let mut permissions = Permissions::default();
    if let Some((policies, _)) = r.string_list(ev, "managed_policies") {
        for (i, p) in policies.iter().enumerate() {
            let at = r.element_span("managed_policies", i);
            r.check(ev, "policy ARN", p, &at, checks::policy_arn(p));
        }
        permissions.managed_policies = policies;
    }
    let mut ok = !r.failed();
    for block in r.blocks("statement") {
        let s = sub_reader(
            file,
            block,
            "statement",
            &["effect", "actions", "resources", "sid"],
            &[],
            ev,
        );
        let effect = match s.string(ev, "effect") {
            None => "Allow".to_string(),
            Some((e, span)) => match e.as_str() {
                "Allow" | "Deny" => e,
                _ => {
                    s.check(
                        ev,
                        "effect",
                        &e,
                        &span,
                        Err("an effect is \"Allow\" or \"Deny\"".into()),
                    );
                    e
                }
            },
        };
        let actions = s.required_string_list(ev, "actions", "add `actions = [\"service:Action\"]`");
        if let Some((list, span)) = &actions {
            if list.is_empty() {
                s.check(
                    ev,
                    "actions",
                    "[]",
                    span,
                    Err("a statement needs at least one action".into()),
                );
            }
            for (i, a) in list.iter().enumerate() {
                let at = s.element_span("actions", i);
                s.check(ev, "IAM action", a, &at, checks::iam_action(a));
            }
        }
        if let Some((list, _)) = &actions {
            for (i, a) in list.iter().enumerate() {
                if a == "*" && effect == "Allow" {
                    ev.warnings.push(
                        Diagnostic::new(
                            SpecError::BroadPermission {
                                what: "`actions = [\"*\"]` allows every action of every service".into(),
                            },
                            s.element_span("actions", i),
                        )
                        .with_hint("name the actions the application calls, e.g. `[\"dynamodb:GetItem\", \"dynamodb:Query\"]`"),
                    );
                }
            }
        }
        let resources = match s.string_list(ev, "resources") {
            Some((list, _)) => {
                for (i, res) in list.iter().enumerate() {
                    let at = s.element_span("resources", i);
                    s.check(ev, "ARN", res, &at, checks::policy_resource(res));
                }
                list
            }
            None if s.has("resources") => Vec::new(),
            None => {
                s.missing(
                    ev,
                    "resources",
                    "add `resources = [\"arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE\"]` naming what the actions may touch (write `[\"*\"]` only if every resource is meant)",
                );
                Vec::new()
            }
        };
        let sid = s.string(ev, "sid").map(|(sid, _)| sid);
        ok &= !s.failed();
        if let Some((actions, _)) = actions {
            permissions.statements.push(Statement {
                sid,
                effect,
                actions,
                resources,
            });
        }
    }
    ok.then_some(permissions)
}
