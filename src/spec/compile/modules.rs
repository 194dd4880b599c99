//! `module` blocks (a folder, or a module shipped in the binary) compiled as units of their own
//! with their own variables, and `output` blocks.

use super::*;

impl<'f> Compiler<'f> {
    pub(super) fn eval_output(&mut self, decl: &Decl, unit: &Unit, symbols: &Symbols) -> Binding {
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

    pub(super) fn eval_module(
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
    pub(super) fn resolve_module(
        &mut self,
        source: &str,
        span: &Span,
        unit: &Unit,
    ) -> Option<ModuleFiles> {
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

    pub(super) fn module_not_found(&mut self, source: &str, span: &Span, hint: String) {
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
}
