//! Reads one HCL block against its schema: refuses unknown attributes and blocks (with a
//! did-you-mean), duplicates, and values of the wrong type, and hands out typed values with the
//! span they came from. Every problem becomes a diagnostic; a getter that fails returns `None` and
//! marks the reader failed, so decoding goes on and reports everything in one run.

use super::diagnostic::{did_you_mean, one_of, Diagnostic, SpecError};
use super::eval::Evaluator;
use super::source::{FileId, Span};
use super::value::number_of;
use super::value::Value;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span as _;
use std::cell::Cell;
use std::collections::BTreeMap;

/// The span of a block's header: its type and labels, where "missing attribute" errors point.
pub fn header_span(file: FileId, block: &Block) -> Span {
    let start = block.ident.span().map(|r| r.start).unwrap_or(0);
    let end = block
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| block.ident.span())
        .map(|r| r.end)
        .unwrap_or(start);
    Span::new(file, start..end)
}

/// Nested blocks that take labels (their readers check them): `resource "TYPE" "NAME"`.
pub const LABELLED_BLOCKS: &[&str] = &["resource"];

pub struct BlockReader<'b> {
    pub file: FileId,
    pub context: String,
    pub header: Span,
    attrs: BTreeMap<String, &'b Attribute>,
    blocks: BTreeMap<String, Vec<&'b Block>>,
    failed: Cell<bool>,
    /// Allowed names that an unknown attribute was probably meant to be: their "missing"
    /// errors would only repeat the did-you-mean.
    misspelt: Vec<String>,
}

impl<'b> BlockReader<'b> {
    /// Checks `body` against the allowed attribute and block names.
    pub fn new(
        file: FileId,
        body: &'b Body,
        context: impl Into<String>,
        header: Span,
        allowed_attrs: &[&str],
        allowed_blocks: &[&str],
        diagnostics: &mut Vec<Diagnostic>,
    ) -> BlockReader<'b> {
        let context = context.into();
        let mut attrs = BTreeMap::new();
        let mut blocks: BTreeMap<String, Vec<&Block>> = BTreeMap::new();
        let mut failed = false;
        let mut misspelt = Vec::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    let span = Span::new(file, attr.key.span().unwrap_or(0..0));
                    if !allowed_attrs.contains(&name) {
                        failed = true;
                        let hint = if allowed_blocks.contains(&name) {
                            format!("`{name}` is a block: write `{name} {{ … }}` without `=`")
                        } else {
                            let mut all: Vec<&str> = allowed_attrs.to_vec();
                            all.extend_from_slice(allowed_blocks);
                            if let Some(close) =
                                super::diagnostic::closest(name, all.iter().copied())
                            {
                                misspelt.push(close.to_string());
                            }
                            did_you_mean(name, all.iter().copied())
                                .unwrap_or_else(|| one_of(allowed_attrs.iter().copied()))
                        };
                        diagnostics.push(
                            Diagnostic::new(
                                SpecError::UnknownAttribute {
                                    name: name.to_string(),
                                    context: format!(" in {context}"),
                                },
                                span,
                            )
                            .with_hint(hint),
                        );
                    } else if attrs.insert(name.to_string(), attr).is_some() {
                        failed = true;
                        diagnostics.push(
                            Diagnostic::new(
                                SpecError::DuplicateAttribute {
                                    name: name.to_string(),
                                },
                                span,
                            )
                            .with_hint("remove one of the two"),
                        );
                    }
                }
                Structure::Block(block) => {
                    let name = block.ident.as_str();
                    if !allowed_blocks.contains(&name) {
                        failed = true;
                        let hint = if allowed_attrs.contains(&name) {
                            format!("`{name}` is an attribute: write `{name} = …`")
                        } else {
                            let mut all: Vec<&str> = allowed_blocks.to_vec();
                            all.extend_from_slice(allowed_attrs);
                            did_you_mean(name, all.iter().copied()).unwrap_or_else(|| {
                                if allowed_blocks.is_empty() {
                                    "no blocks are allowed here".to_string()
                                } else {
                                    one_of(allowed_blocks.iter().copied())
                                }
                            })
                        };
                        diagnostics.push(
                            Diagnostic::new(
                                SpecError::UnknownBlock {
                                    name: name.to_string(),
                                    context: format!(" in {context}"),
                                },
                                header_span(file, block),
                            )
                            .with_hint(hint),
                        );
                    } else {
                        if !block.labels.is_empty() && !LABELLED_BLOCKS.contains(&name) {
                            failed = true;
                            diagnostics.push(
                                Diagnostic::new(
                                    SpecError::BadLabels {
                                        block: name.to_string(),
                                        expected: "no labels".into(),
                                    },
                                    header_span(file, block),
                                )
                                .with_hint(format!("write `{name} {{ … }}`")),
                            );
                        }
                        blocks.entry(name.to_string()).or_default().push(block);
                    }
                }
            }
        }
        BlockReader {
            file,
            context,
            header,
            attrs,
            blocks,
            failed: Cell::new(failed),
            misspelt,
        }
    }

    pub fn failed(&self) -> bool {
        self.failed.get()
    }

    pub fn mark_failed(&self) {
        self.failed.set(true);
    }

    pub fn has(&self, name: &str) -> bool {
        self.attrs.contains_key(name)
    }

    pub fn attribute(&self, name: &str) -> Option<&'b Attribute> {
        self.attrs.get(name).copied()
    }

    /// The span of the `index`th element of a list literal, else of the whole value.
    pub fn element_span(&self, name: &str, index: usize) -> Span {
        let range = self.attrs.get(name).and_then(|attr| {
            match &attr.value {
                hcl_edit::expr::Expression::Array(array) => array.get(index).and_then(|e| e.span()),
                _ => None,
            }
            .or_else(|| attr.value.span())
        });
        Span::new(self.file, range.unwrap_or(self.header.range.clone()))
    }

    /// The span of key `key` in a map literal, else of the whole value.
    pub fn map_key_span(&self, name: &str, key: &str) -> Span {
        self.map_entry_span(name, key, |k, _| k.span())
    }

    /// The span of the value under `key` in a map literal, else of the whole value.
    pub fn map_value_span(&self, name: &str, key: &str) -> Span {
        self.map_entry_span(name, key, |_, v| v.expr().span())
    }

    fn map_entry_span(
        &self,
        name: &str,
        key: &str,
        part: impl Fn(
            &hcl_edit::expr::ObjectKey,
            &hcl_edit::expr::ObjectValue,
        ) -> Option<std::ops::Range<usize>>,
    ) -> Span {
        let range = self.attrs.get(name).and_then(|attr| {
            match &attr.value {
                hcl_edit::expr::Expression::Object(object) => object.iter().find_map(|(k, v)| {
                    let matches = match k {
                        hcl_edit::expr::ObjectKey::Ident(ident) => ident.as_str() == key,
                        hcl_edit::expr::ObjectKey::Expression(
                            hcl_edit::expr::Expression::String(s),
                        ) => s.value() == key,
                        hcl_edit::expr::ObjectKey::Expression(_) => false,
                    };
                    if matches {
                        part(k, v)
                    } else {
                        None
                    }
                }),
                _ => None,
            }
            .or_else(|| attr.value.span())
        });
        Span::new(self.file, range.unwrap_or(self.header.range.clone()))
    }

    /// The one block of this type, refusing a second.
    pub fn single_block(&self, name: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<&'b Block> {
        let list = self.blocks.get(name)?;
        for extra in list.iter().skip(1) {
            self.mark_failed();
            diagnostics.push(
                Diagnostic::new(
                    SpecError::DuplicateBlock {
                        name: name.to_string(),
                    },
                    header_span(self.file, extra),
                )
                .with_hint(format!("merge the two `{name}` blocks into one")),
            );
        }
        list.first().copied()
    }

    pub fn blocks(&self, name: &str) -> Vec<&'b Block> {
        self.blocks.get(name).cloned().unwrap_or_default()
    }

    /// Evaluates an attribute. `None` if absent or if evaluation failed (then marked failed).
    pub fn value(&self, ev: &mut Evaluator, name: &str) -> Option<(Value, Span)> {
        let attr = self.attrs.get(name)?;
        let span = Span::new(self.file, attr.value.span().unwrap_or(0..0));
        match ev.eval(&attr.value) {
            Ok(Value::Null) => None,
            Ok(v) => Some((v, span)),
            Err(_) => {
                self.mark_failed();
                None
            }
        }
    }

    fn wrong_type(
        &self,
        ev: &mut Evaluator,
        name: &str,
        expected: &str,
        found: &Value,
        span: Span,
    ) {
        self.mark_failed();
        let error = match found {
            Value::Unknown(_) => SpecError::UnknownUntilApply {
                name: name.to_string(),
            },
            _ => SpecError::WrongType {
                name: name.to_string(),
                expected: expected.to_string(),
                found: found.describe(),
            },
        };
        let hint = match found {
            Value::Unknown(what) => {
                format!("`{name}` must be known when planning, but `{what}` is decided by AWS")
            }
            Value::List(_) if expected == "string" => {
                "remove the brackets: a single value is expected".to_string()
            }
            Value::String(_) if expected.starts_with("list") => {
                format!("wrap it in brackets: `{name} = [\"…\"]`")
            }
            Value::String(_) if expected == "number" => {
                "write the number without quotes".to_string()
            }
            Value::String(_) if expected == "bool" => {
                "write true or false without quotes".to_string()
            }
            _ => format!("`{name}` takes {expected}"),
        };
        ev.diagnostics
            .push(Diagnostic::new(error, span).with_hint(hint));
    }

    pub fn missing(&self, ev: &mut Evaluator, name: &str, hint: &str) {
        self.mark_failed();
        if self.misspelt.iter().any(|m| m == name) {
            return;
        }
        ev.diagnostics.push(
            Diagnostic::new(
                SpecError::MissingAttribute {
                    name: name.to_string(),
                    context: self.context.clone(),
                },
                self.header.clone(),
            )
            .with_hint(hint.to_string()),
        );
    }

    /// A required attribute's value: absent or `null` is reported as missing.
    pub fn required_value(
        &self,
        ev: &mut Evaluator,
        name: &str,
        hint: &str,
    ) -> Option<(Value, Span)> {
        let Some(attr) = self.attrs.get(name) else {
            self.missing(ev, name, hint);
            return None;
        };
        let span = Span::new(self.file, attr.value.span().unwrap_or(0..0));
        match ev.eval(&attr.value) {
            Ok(Value::Null) => {
                self.missing(ev, name, &format!("it is set to null; {hint}"));
                None
            }
            Ok(v) => Some((v, span)),
            Err(_) => {
                self.mark_failed();
                None
            }
        }
    }

    pub fn string(&self, ev: &mut Evaluator, name: &str) -> Option<(String, Span)> {
        let (value, span) = self.value(ev, name)?;
        self.as_string(ev, name, value, span)
    }

    fn as_string(
        &self,
        ev: &mut Evaluator,
        name: &str,
        value: Value,
        span: Span,
    ) -> Option<(String, Span)> {
        match value {
            Value::String(s) => Some((s, span)),
            Value::Number(_) | Value::Bool(_) => value.to_template_string().map(|s| (s, span)),
            other => {
                self.wrong_type(ev, name, "string", &other, span);
                None
            }
        }
    }

    pub fn required_string(
        &self,
        ev: &mut Evaluator,
        name: &str,
        hint: &str,
    ) -> Option<(String, Span)> {
        let (value, span) = self.required_value(ev, name, hint)?;
        self.as_string(ev, name, value, span)
    }

    pub fn required_string_list(
        &self,
        ev: &mut Evaluator,
        name: &str,
        hint: &str,
    ) -> Option<(Vec<String>, Span)> {
        let (value, span) = self.required_value(ev, name, hint)?;
        self.as_string_list(ev, name, value, span)
    }

    pub fn number(&self, ev: &mut Evaluator, name: &str) -> Option<(f64, Span)> {
        let (value, span) = self.value(ev, name)?;
        match number_of(&value) {
            Some(n) => Some((n, span)),
            None => {
                self.wrong_type(ev, name, "number", &value, span);
                None
            }
        }
    }

    /// A whole number within `range`, else an error naming the range.
    pub fn whole_number(
        &self,
        ev: &mut Evaluator,
        name: &str,
        min: i64,
        max: i64,
    ) -> Option<(i64, Span)> {
        let (n, span) = self.number(ev, name)?;
        if n.fract() != 0.0 || n < min as f64 || n > max as f64 {
            self.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::InvalidValue {
                        what: name.to_string(),
                        value: super::value::format_number(n),
                        reason: format!(": must be a whole number from {min} to {max}"),
                    },
                    span,
                )
                .with_hint(format!("set `{name}` between {min} and {max}")),
            );
            return None;
        }
        Some((n as i64, span))
    }

    pub fn bool(&self, ev: &mut Evaluator, name: &str) -> Option<(bool, Span)> {
        let (value, span) = self.value(ev, name)?;
        match value {
            Value::Bool(b) => Some((b, span)),
            Value::String(ref s) if s == "true" => Some((true, span)),
            Value::String(ref s) if s == "false" => Some((false, span)),
            other => {
                self.wrong_type(ev, name, "bool", &other, span);
                None
            }
        }
    }

    pub fn string_list(&self, ev: &mut Evaluator, name: &str) -> Option<(Vec<String>, Span)> {
        let (value, span) = self.value(ev, name)?;
        self.as_string_list(ev, name, value, span)
    }

    fn as_string_list(
        &self,
        ev: &mut Evaluator,
        name: &str,
        value: Value,
        span: Span,
    ) -> Option<(Vec<String>, Span)> {
        match value {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match &item {
                        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                            out.push(item.to_template_string().unwrap_or_default())
                        }
                        other => {
                            self.wrong_type(ev, name, "list(string)", other, span);
                            return None;
                        }
                    }
                }
                Some((out, span))
            }
            other => {
                self.wrong_type(ev, name, "list(string)", &other, span);
                None
            }
        }
    }

    pub fn string_map(
        &self,
        ev: &mut Evaluator,
        name: &str,
    ) -> Option<(BTreeMap<String, String>, Span)> {
        let (value, span) = self.value(ev, name)?;
        match value {
            Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    match &v {
                        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                            out.insert(k, v.to_template_string().unwrap_or_default());
                        }
                        other => {
                            self.wrong_type(
                                ev,
                                &format!("{name}.{k}"),
                                "string",
                                other,
                                span.clone(),
                            );
                            return None;
                        }
                    }
                }
                Some((out, span))
            }
            other => {
                self.wrong_type(ev, name, "map(string)", &other, span);
                None
            }
        }
    }

    /// A map of strings in which values may also be references to secrets (what `secret()`
    /// and `ssm_parameter()` return): the strings, and the references (their fields) apart.
    #[allow(clippy::type_complexity)]
    pub fn string_or_reference_map(
        &self,
        ev: &mut Evaluator,
        name: &str,
    ) -> Option<(
        BTreeMap<String, String>,
        BTreeMap<String, BTreeMap<String, String>>,
        Span,
    )> {
        let (value, span) = self.value(ev, name)?;
        let Value::Object(map) = value else {
            self.wrong_type(ev, name, "map(string)", &value, span);
            return None;
        };
        let mut strings = BTreeMap::new();
        let mut references = BTreeMap::new();
        for (k, v) in map {
            match &v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    strings.insert(k, v.to_template_string().unwrap_or_default());
                }
                Value::Object(fields) if fields.contains_key(super::functions::REFERENCE_KEY) => {
                    references.insert(
                        k,
                        fields
                            .iter()
                            .filter_map(|(f, v)| Some((f.clone(), v.to_template_string()?)))
                            .collect(),
                    );
                }
                other => {
                    self.wrong_type(
                        ev,
                        &format!("{name}.{k}"),
                        "string, secret(…), ssm_parameter(…) or a resource's `.ref`/`.arn`",
                        other,
                        span.clone(),
                    );
                    return None;
                }
            }
        }
        Some((strings, references, span))
    }

    /// Runs a validator on a value and reports `InvalidValue` at its span.
    pub fn check(
        &self,
        ev: &mut Evaluator,
        what: &str,
        value: &str,
        span: &Span,
        check: super::checks::Check,
    ) -> bool {
        match check {
            Ok(()) => true,
            Err(reason) => {
                self.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::InvalidValue {
                            what: what.to_string(),
                            value: value.to_string(),
                            reason: String::new(),
                        },
                        span.clone(),
                    )
                    .with_hint(reason),
                );
                false
            }
        }
    }
}
