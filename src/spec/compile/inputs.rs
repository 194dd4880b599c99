//! Variables: the values given by `--var`, `--var-file` and `BEANPOLE_VAR_*` (by precedence),
//! their types and `validation` blocks.

use super::*;

impl<'f> Compiler<'f> {
    /// `--var`, `--var-file` and `BEANPOLE_VAR_*`, merged by precedence.
    pub(super) fn root_inputs(&mut self, inputs: &VariableInputs) -> UnitInputs {
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

    pub(super) fn check_inputs_declared(&mut self, decls: &[Decl], inputs: &UnitInputs) {
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

    pub(super) fn eval_variable(&mut self, decl: &Decl, inputs: &UnitInputs) -> Binding {
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
    pub(super) fn check_validations(
        &mut self,
        decl: &Decl,
        reader: &BlockReader,
        value: Value,
    ) -> Binding {
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

    pub(super) fn input_error(
        &mut self,
        decl: &Decl,
        origin: &str,
        var_type: VarType,
        found: &str,
    ) {
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
}
