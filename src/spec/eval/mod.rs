//! Evaluates HCL expressions (hcl-edit syntax trees) to [`Value`]s against the symbols already
//! evaluated, reporting every failure as a [`Diagnostic`] that points at the offending
//! sub-expression. Never reads files itself: `file()` goes through the [`SpecFs`] it is given.
//! Templates (`"${…}"`, `%{for}`, `%{if}`) and `for` expressions are in [`iteration`].

mod iteration;

use super::diagnostic::{did_you_mean, Diagnostic, SpecError};
use super::functions;
use super::load::SpecFs;
use super::source::{FileId, Span};
use super::value::{number_of, Value};
use hcl_edit::expr::{BinaryOperator, Expression, TraversalOperator, UnaryOperator};
use hcl_edit::Span as _;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// The namespaces a reference can start with.
pub const NAMESPACES: &[&str] = &["var", "local", "application", "environment", "module"];

/// The outcome of evaluating one named thing (`var.x`, `local.y`, `module.m`): its value, or
/// `Failed` when its own evaluation already reported an error (references to it stay quiet).
#[derive(Debug, Clone)]
pub enum Binding {
    Value(Value),
    Failed,
}

/// Everything a reference can name in one spec unit (the root folder or a module call).
#[derive(Debug, Default)]
pub struct Symbols {
    pub variables: BTreeMap<String, Binding>,
    pub locals: BTreeMap<String, Binding>,
    pub applications: BTreeMap<String, Binding>,
    pub environments: BTreeMap<String, Binding>,
    pub modules: BTreeMap<String, Binding>,
}

impl Symbols {
    fn namespace(&self, ns: &str) -> Option<(&BTreeMap<String, Binding>, &'static str)> {
        match ns {
            "var" => Some((&self.variables, "variable")),
            "local" => Some((&self.locals, "local value")),
            "application" => Some((&self.applications, "application")),
            "environment" => Some((&self.environments, "environment")),
            "module" => Some((&self.modules, "module")),
            _ => None,
        }
    }
}

/// Marker: evaluation failed and the reason is already in the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

pub type EvalResult = Result<Value, Failed>;

/// Where `file()` resolves relative paths and how it reads.
pub struct FileAccess<'a> {
    pub fs: &'a dyn SpecFs,
    pub base_dir: &'a Path,
}

pub struct Evaluator<'a> {
    pub symbols: &'a Symbols,
    pub file: FileId,
    pub files: Option<FileAccess<'a>>,
    iteration: Vec<(String, Value)>,
    pub diagnostics: &'a mut Vec<Diagnostic>,
    /// Warnings: valid but probably not meant. The caller takes them before dropping it.
    pub warnings: Vec<Diagnostic>,
}

const MAX_DEPTH: usize = 64;

impl<'a> Evaluator<'a> {
    pub fn new(
        symbols: &'a Symbols,
        file: FileId,
        files: Option<FileAccess<'a>>,
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Evaluator<'a> {
        Evaluator {
            symbols,
            file,
            files,
            iteration: Vec::new(),
            diagnostics,
            warnings: Vec::new(),
        }
    }

    /// Binds `name` for what this evaluator evaluates next, as a `for` expression binds its
    /// variables (an environment's own `resource` while its block is read).
    pub fn bind(&mut self, name: &str, value: Value) {
        self.iteration.push((name.to_string(), value));
    }

    pub fn span(&self, range: Option<Range<usize>>) -> Span {
        Span::new(self.file, range.unwrap_or(0..0))
    }

    fn error(
        &mut self,
        error: SpecError,
        range: Option<Range<usize>>,
        hint: Option<String>,
    ) -> Failed {
        let span = self.span(range);
        self.diagnostics
            .push(Diagnostic::new(error, span).with_optional_hint(hint));
        Failed
    }

    fn eval_message(&mut self, message: impl Into<String>, range: Option<Range<usize>>) -> Failed {
        self.error(
            SpecError::Evaluation {
                message: message.into(),
            },
            range,
            None,
        )
    }

    pub fn eval(&mut self, expr: &Expression) -> EvalResult {
        self.eval_depth(expr, 0)
    }

    fn eval_depth(&mut self, expr: &Expression, depth: usize) -> EvalResult {
        if depth > MAX_DEPTH {
            return Err(self.eval_message("expression is nested too deeply", expr.span()));
        }
        let d = depth + 1;
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => match n.value().as_f64() {
                Some(f) => Ok(Value::Number(f)),
                None => Err(self.eval_message("number out of range", expr.span())),
            },
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(array) => {
                let mut items = Vec::with_capacity(array.len());
                let mut failed = false;
                for item in array.iter() {
                    match self.eval_depth(item, d) {
                        Ok(v) => items.push(v),
                        Err(Failed) => failed = true,
                    }
                }
                if failed {
                    Err(Failed)
                } else {
                    Ok(Value::List(items))
                }
            }
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                let mut failed = false;
                for (key, value) in object.iter() {
                    let key_name = match key {
                        hcl_edit::expr::ObjectKey::Ident(ident) => Ok(ident.as_str().to_string()),
                        hcl_edit::expr::ObjectKey::Expression(key_expr) => {
                            match self.eval_depth(key_expr, d) {
                                Ok(v) => match v.to_template_string() {
                                    Some(s) => Ok(s),
                                    None => Err(self.error(
                                        SpecError::WrongType {
                                            name: "map key".into(),
                                            expected: "string".into(),
                                            found: v.describe(),
                                        },
                                        key_expr.span(),
                                        None,
                                    )),
                                },
                                Err(f) => Err(f),
                            }
                        }
                    };
                    let value = self.eval_depth(value.expr(), d);
                    match (key_name, value) {
                        (Ok(k), Ok(v)) => {
                            map.insert(k, v);
                        }
                        _ => failed = true,
                    }
                }
                if failed {
                    Err(Failed)
                } else {
                    Ok(Value::Object(map))
                }
            }
            Expression::StringTemplate(template) => self.eval_template(template, d),
            Expression::HeredocTemplate(heredoc) => {
                let mut heredoc = (**heredoc).clone();
                heredoc.dedent();
                self.eval_template(&heredoc.template, d)
            }
            Expression::Parenthesis(inner) => self.eval_depth(inner.inner(), d),
            Expression::Variable(ident) => self.eval_variable(ident.as_str(), expr.span()),
            Expression::Traversal(traversal) => self.eval_traversal(traversal, d),
            Expression::Conditional(cond) => {
                let condition = self.eval_depth(&cond.cond_expr, d)?;
                match condition {
                    Value::Bool(true) => self.eval_depth(&cond.true_expr, d),
                    Value::Bool(false) => self.eval_depth(&cond.false_expr, d),
                    Value::Unknown(what) => Ok(Value::Unknown(what)),
                    other => Err(self.error(
                        SpecError::WrongType {
                            name: "condition".into(),
                            expected: "bool".into(),
                            found: other.describe(),
                        },
                        cond.cond_expr.span(),
                        Some("a condition must be true or false".into()),
                    )),
                }
            }
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str().to_string();
                let mut args = Vec::with_capacity(call.args.len());
                let mut failed = false;
                for arg in call.args.iter() {
                    match self.eval_depth(arg, d) {
                        Ok(v) => args.push((v, self.span(arg.span()))),
                        Err(Failed) => failed = true,
                    }
                }
                if call.args.expand_final() {
                    match args.pop() {
                        Some((Value::List(items), span)) => {
                            args.extend(items.into_iter().map(|v| (v, span.clone())))
                        }
                        Some((other, span)) => {
                            return Err(self.error(
                                SpecError::WrongType {
                                    name: "expanded argument".into(),
                                    expected: "list".into(),
                                    found: other.describe(),
                                },
                                Some(span.range),
                                None,
                            ))
                        }
                        None => {}
                    }
                }
                if failed {
                    return Err(Failed);
                }
                if call.name.is_namespaced() {
                    return Err(self.error(
                        SpecError::UndefinedReference {
                            what: "function".into(),
                            name: name.clone(),
                        },
                        call.name.name.span(),
                        Some(format!(
                            "provider functions are not supported; {}",
                            functions::hint_for(&name)
                        )),
                    ));
                }
                if name == "file" {
                    return self.call_file(&args, call.span());
                }
                match functions::call(&name, &args) {
                    Ok(v) => Ok(v),
                    Err(functions::CallError::UnknownFunction) => Err(self.error(
                        SpecError::UndefinedReference {
                            what: "function".into(),
                            name: name.clone(),
                        },
                        call.name.name.span(),
                        Some(functions::hint_for(&name)),
                    )),
                    Err(functions::CallError::Argument { message, span }) => Err(self.error(
                        SpecError::Evaluation {
                            message: format!("{name}(): {message}"),
                        },
                        span.map(|s| s.range).or_else(|| call.span()),
                        None,
                    )),
                }
            }
            Expression::UnaryOp(op) => {
                let value = self.eval_depth(&op.expr, d)?;
                match (op.operator.value(), value) {
                    (_, Value::Unknown(w)) => Ok(Value::Unknown(w)),
                    (UnaryOperator::Neg, Value::Number(n)) => Ok(Value::Number(-n)),
                    (UnaryOperator::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnaryOperator::Neg, other) => {
                        Err(self.type_error("operand of `-`", "number", &other, op.expr.span()))
                    }
                    (UnaryOperator::Not, other) => {
                        Err(self.type_error("operand of `!`", "bool", &other, op.expr.span()))
                    }
                }
            }
            Expression::BinaryOp(op) => {
                let lhs = self.eval_depth(&op.lhs_expr, d);
                let rhs = self.eval_depth(&op.rhs_expr, d);
                let (lhs, rhs) = (lhs?, rhs?);
                self.binary(*op.operator.value(), lhs, rhs, &op.lhs_expr, &op.rhs_expr)
            }
            Expression::ForExpr(for_expr) => self.eval_for(for_expr, d),
        }
    }

    fn type_error(
        &mut self,
        what: &str,
        expected: &str,
        found: &Value,
        range: Option<Range<usize>>,
    ) -> Failed {
        // A secret's or an extra resource's reference is a value of its own, never text.
        let hint = match found {
            Value::Object(map) => match map
                .get(crate::spec::functions::REFERENCE_KEY)
                .and_then(Value::to_template_string)
                .as_deref()
            {
                Some(crate::spec::functions::STACK_OUTPUT) => Some(
                    "an extra resource's `.ref`, `.arn` or attribute is known only once its stack exists: use it whole, as a property's value (`NAME = resource.jobs.ref`) or a statement's resource".to_string(),
                ),
                Some(_) => Some(
                    "a secret's reference is used whole, as a property's value: the instance reads the secret itself".to_string(),
                ),
                None => None,
            },
            _ => None,
        };
        self.error(
            SpecError::WrongType {
                name: what.to_string(),
                expected: expected.to_string(),
                found: found.describe(),
            },
            range,
            hint,
        )
    }

    fn binary(
        &mut self,
        operator: BinaryOperator,
        lhs: Value,
        rhs: Value,
        lhs_expr: &Expression,
        rhs_expr: &Expression,
    ) -> EvalResult {
        use BinaryOperator as B;
        if let Value::Unknown(w) = &lhs {
            return Ok(Value::Unknown(w.clone()));
        }
        if let Value::Unknown(w) = &rhs {
            return Ok(Value::Unknown(w.clone()));
        }
        let symbol = operator.as_str();
        match operator {
            B::Eq => Ok(Value::Bool(lhs == rhs)),
            B::NotEq => Ok(Value::Bool(lhs != rhs)),
            B::And | B::Or => {
                let l = match lhs {
                    Value::Bool(b) => b,
                    other => {
                        return Err(self.type_error(
                            &format!("left operand of `{symbol}`"),
                            "bool",
                            &other,
                            lhs_expr.span(),
                        ))
                    }
                };
                let r = match rhs {
                    Value::Bool(b) => b,
                    other => {
                        return Err(self.type_error(
                            &format!("right operand of `{symbol}`"),
                            "bool",
                            &other,
                            rhs_expr.span(),
                        ))
                    }
                };
                Ok(Value::Bool(if operator == B::And {
                    l && r
                } else {
                    l || r
                }))
            }
            _ => {
                let l = match number_of(&lhs) {
                    Some(n) => n,
                    None => {
                        return Err(self.type_error(
                            &format!("left operand of `{symbol}`"),
                            "number",
                            &lhs,
                            lhs_expr.span(),
                        ))
                    }
                };
                let r = match number_of(&rhs) {
                    Some(n) => n,
                    None => {
                        return Err(self.type_error(
                            &format!("right operand of `{symbol}`"),
                            "number",
                            &rhs,
                            rhs_expr.span(),
                        ))
                    }
                };
                Ok(match operator {
                    B::Plus => Value::Number(l + r),
                    B::Minus => Value::Number(l - r),
                    B::Mul => Value::Number(l * r),
                    B::Div | B::Mod if r == 0.0 => {
                        return Err(self.eval_message("division by zero", rhs_expr.span()))
                    }
                    B::Div => Value::Number(l / r),
                    B::Mod => Value::Number(l % r),
                    B::Less => Value::Bool(l < r),
                    B::LessEq => Value::Bool(l <= r),
                    B::Greater => Value::Bool(l > r),
                    B::GreaterEq => Value::Bool(l >= r),
                    _ => {
                        return Err(self.eval_message(
                            format!("unsupported operator `{symbol}`"),
                            lhs_expr.span(),
                        ))
                    }
                })
            }
        }
    }

    fn eval_variable(&mut self, name: &str, range: Option<Range<usize>>) -> EvalResult {
        if let Some((_, v)) = self.iteration.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if NAMESPACES.contains(&name) {
            return Err(self.eval_message(
                format!("`{name}` must be followed by a name, as in `{name}.NAME`"),
                range,
            ));
        }
        let mut candidates: Vec<&str> = NAMESPACES.to_vec();
        candidates.extend(self.iteration.iter().map(|(n, _)| n.as_str()));
        let hint = did_you_mean(name, candidates.iter().copied()).unwrap_or_else(|| {
            "references start with `var.`, `local.`, `application.`, `environment.` or `module.`".into()
        });
        Err(self.error(
            SpecError::UndefinedReference {
                what: "name".into(),
                name: name.to_string(),
            },
            range,
            Some(hint),
        ))
    }

    fn eval_traversal(
        &mut self,
        traversal: &hcl_edit::expr::Traversal,
        depth: usize,
    ) -> EvalResult {
        let operators: Vec<&TraversalOperator> =
            traversal.operators.iter().map(|o| o.value()).collect();
        let (mut value, rest_from, mut path) = match &traversal.expr {
            Expression::Variable(root)
                if NAMESPACES.contains(&root.as_str())
                    && !self.iteration.iter().any(|(n, _)| n == root.as_str()) =>
            {
                let ns = root.as_str();
                let Some(TraversalOperator::GetAttr(name)) = operators.first() else {
                    return Err(self.eval_message(
                        format!("`{ns}` must be followed by a name, as in `{ns}.NAME`"),
                        traversal.span(),
                    ));
                };
                let name = name.as_str();
                let Some((table, what)) = self.symbols.namespace(ns) else {
                    return Err(Failed);
                };
                match table.get(name) {
                    Some(Binding::Value(v)) => (v.clone(), 1, format!("{ns}.{name}")),
                    Some(Binding::Failed) => return Err(Failed),
                    None => {
                        let hint = did_you_mean(name, table.keys().map(String::as_str))
                            .map(|h| h.replacen('`', &format!("`{ns}."), 1))
                            .unwrap_or_else(|| {
                                if table.is_empty() {
                                    format!("no {what} is declared")
                                } else {
                                    format!(
                                        "declared: {}",
                                        table
                                            .keys()
                                            .map(|k| format!("`{ns}.{k}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                }
                            });
                        let range = match (
                            root.span(),
                            traversal.operators.first().and_then(|o| o.span()),
                        ) {
                            (Some(a), Some(b)) => Some(a.start..b.end),
                            _ => traversal.span(),
                        };
                        return Err(self.error(
                            SpecError::UndefinedReference {
                                what: what.to_string(),
                                name: format!("{ns}.{name}"),
                            },
                            range,
                            Some(hint),
                        ));
                    }
                }
            }
            other => (self.eval_depth(other, depth)?, 0, "value".to_string()),
        };
        let mut index = rest_from;
        while index < operators.len() {
            let op = operators[index];
            let op_range = traversal.operators[index].span();
            if let Value::Unknown(w) = &value {
                return Ok(Value::Unknown(w.clone()));
            }
            match op {
                TraversalOperator::GetAttr(name) => {
                    value = self.get_attr(value, name.as_str(), &path, op_range)?;
                    path = format!("{path}.{}", name.as_str());
                }
                TraversalOperator::Index(index_expr) => {
                    let key = self.eval_depth(index_expr, depth + 1)?;
                    value = self.index(value, key, index_expr.span())?;
                    path = format!("{path}[…]");
                }
                TraversalOperator::LegacyIndex(i) => {
                    value = self.index(value, Value::Number(*i.value() as f64), op_range)?;
                    path = format!("{path}.{}", i.value());
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match value {
                        Value::List(items) => items,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    let rest = &operators[index + 1..];
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        let mut v = item;
                        for op in rest {
                            v = match op {
                                TraversalOperator::GetAttr(n) => {
                                    self.get_attr(v, n.as_str(), &path, op_range.clone())?
                                }
                                TraversalOperator::Index(e) => {
                                    let key = self.eval_depth(e, depth + 1)?;
                                    self.index(v, key, e.span())?
                                }
                                TraversalOperator::LegacyIndex(i) => self.index(
                                    v,
                                    Value::Number(*i.value() as f64),
                                    op_range.clone(),
                                )?,
                                _ => v,
                            };
                        }
                        out.push(v);
                    }
                    return Ok(Value::List(out));
                }
            }
            index += 1;
        }
        Ok(value)
    }

    fn get_attr(
        &mut self,
        value: Value,
        name: &str,
        path: &str,
        range: Option<Range<usize>>,
    ) -> EvalResult {
        match value {
            Value::Object(mut map) => match map.remove(name) {
                Some(v) => Ok(v),
                None => {
                    let hint = did_you_mean(name, map.keys().map(String::as_str)).or_else(|| {
                        (!map.is_empty()).then(|| {
                            format!(
                                "it has: {}",
                                map.keys()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })
                    });
                    Err(self.error(
                        SpecError::UnknownMember {
                            what: format!("`{path}`"),
                            name: name.to_string(),
                        },
                        range,
                        hint,
                    ))
                }
            },
            Value::Unknown(w) => Ok(Value::Unknown(w)),
            other => Err(self.error(
                SpecError::UnknownMember {
                    what: format!("`{path}` ({})", other.type_name()),
                    name: name.to_string(),
                },
                range,
                Some("only maps and objects have attributes".into()),
            )),
        }
    }

    fn index(&mut self, value: Value, key: Value, range: Option<Range<usize>>) -> EvalResult {
        match (value, key) {
            (Value::Unknown(w), _) | (_, Value::Unknown(w)) => Ok(Value::Unknown(w)),
            (Value::List(items), key) => {
                let Some(n) = number_of(&key) else {
                    return Err(self.type_error("list index", "number", &key, range));
                };
                let len = items.len();
                if n < 0.0 || n.fract() != 0.0 || n as usize >= len {
                    return Err(self.eval_message(
                        format!(
                            "index {} is out of range for a list of {len} element(s)",
                            super::value::format_number(n)
                        ),
                        range,
                    ));
                }
                Ok(items.into_iter().nth(n as usize).unwrap_or(Value::Null))
            }
            (Value::Object(mut map), key) => {
                let Some(k) = key.to_template_string() else {
                    return Err(self.type_error("map key", "string", &key, range));
                };
                match map.remove(&k) {
                    Some(v) => Ok(v),
                    None => {
                        let hint = did_you_mean(&k, map.keys().map(String::as_str));
                        Err(self.error(
                            SpecError::UnknownMember {
                                what: "map".into(),
                                name: k,
                            },
                            range,
                            hint,
                        ))
                    }
                }
            }
            (other, _) => Err(self.type_error("indexed value", "list or map", &other, range)),
        }
    }

    fn call_file(&mut self, args: &[(Value, Span)], range: Option<Range<usize>>) -> EvalResult {
        let [(path, path_span)] = args else {
            return Err(self.eval_message(
                format!("file(): expected 1 argument, got {}", args.len()),
                range,
            ));
        };
        let path = match path {
            Value::String(s) => s.clone(),
            Value::Unknown(w) => return Ok(Value::Unknown(w.clone())),
            other => {
                return Err(self.type_error(
                    "file() path",
                    "string",
                    other,
                    Some(path_span.range.clone()),
                ))
            }
        };
        let Some(access) = &self.files else {
            return Err(self.eval_message("file() is not available here", range));
        };
        let full = access.base_dir.join(&path);
        match access.fs.read_to_string(&full) {
            Ok(text) => Ok(Value::String(text)),
            Err(e) => Err(self.error(
                SpecError::Evaluation {
                    message: format!("file(): cannot read `{path}`: {e}"),
                },
                Some(path_span.range.clone()),
                Some("paths are relative to the folder of the spec or module".into()),
            )),
        }
    }
}

/// The references (`var.x`, `local.y`, `module.m`, …) an expression makes, as
/// (namespace, name, span) triples: the edges of the symbol graph.
pub fn references(expr: &Expression) -> Vec<(String, String, Range<usize>)> {
    use hcl_edit::visit::{visit_expr, visit_traversal, Visit};
    struct Collector {
        found: Vec<(String, String, Range<usize>)>,
        bound: Vec<String>,
    }
    impl Visit for Collector {
        fn visit_traversal(&mut self, node: &hcl_edit::expr::Traversal) {
            if let Expression::Variable(root) = &node.expr {
                let ns = root.as_str();
                if NAMESPACES.contains(&ns) && !self.bound.iter().any(|b| b == ns) {
                    if let Some(TraversalOperator::GetAttr(name)) =
                        node.operators.first().map(|o| o.value())
                    {
                        let range = node.span().unwrap_or(0..0);
                        self.found
                            .push((ns.to_string(), name.as_str().to_string(), range));
                    }
                }
            }
            visit_traversal(self, node);
        }
        fn visit_for_expr(&mut self, node: &hcl_edit::expr::ForExpr) {
            let before = self.bound.len();
            if let Some(k) = &node.intro.key_var {
                self.bound.push(k.as_str().to_string());
            }
            self.bound.push(node.intro.value_var.as_str().to_string());
            hcl_edit::visit::visit_for_expr(self, node);
            self.bound.truncate(before);
        }
    }
    let mut collector = Collector {
        found: Vec::new(),
        bound: Vec::new(),
    };
    visit_expr(&mut collector, expr);
    collector.found
}
