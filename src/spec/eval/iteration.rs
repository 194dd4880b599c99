//! Templates (interpolations, `%{for}` and `%{if}` directives) and `for` expressions: what
//! iterates over a list or a map, with its iteration variables in scope.

use super::{EvalResult, Evaluator, Failed};
use crate::spec::value::Value;
use hcl_edit::template::{Element, Template};
use hcl_edit::Span as _;
use std::collections::BTreeMap;
use std::ops::Range;

impl Evaluator<'_> {
    pub(super) fn eval_template(&mut self, template: &Template, depth: usize) -> EvalResult {
        let mut out = String::new();
        let mut unknown: Option<String> = None;
        let mut failed = false;
        for element in template.iter() {
            match element {
                Element::Literal(lit) => out.push_str(lit.value()),
                Element::Interpolation(interp) => match self.eval_depth(&interp.expr, depth) {
                    Ok(Value::Unknown(w)) => unknown = Some(w),
                    Ok(v) => match v.to_template_string() {
                        Some(s) => out.push_str(&s),
                        None => {
                            self.type_error(
                                "interpolated value",
                                "string, number or bool",
                                &v,
                                interp.expr.span(),
                            );
                            failed = true;
                        }
                    },
                    Err(Failed) => failed = true,
                },
                Element::Directive(directive) => match self.eval_directive(directive, depth) {
                    Ok(Value::String(s)) => out.push_str(&s),
                    Ok(Value::Unknown(w)) => unknown = Some(w),
                    Ok(_) => {}
                    Err(Failed) => failed = true,
                },
            }
        }
        if failed {
            Err(Failed)
        } else if let Some(w) = unknown {
            Ok(Value::Unknown(w))
        } else {
            Ok(Value::String(out))
        }
    }

    pub(super) fn eval_directive(
        &mut self,
        directive: &hcl_edit::template::Directive,
        depth: usize,
    ) -> EvalResult {
        use hcl_edit::template::Directive;
        match directive {
            Directive::If(if_directive) => {
                let cond = self.eval_depth(&if_directive.if_expr.cond_expr, depth)?;
                match cond {
                    Value::Bool(true) => self.eval_template(&if_directive.if_expr.template, depth),
                    Value::Bool(false) => match &if_directive.else_expr {
                        Some(else_expr) => self.eval_template(&else_expr.template, depth),
                        None => Ok(Value::String(String::new())),
                    },
                    Value::Unknown(w) => Ok(Value::Unknown(w)),
                    other => Err(self.type_error(
                        "condition",
                        "bool",
                        &other,
                        if_directive.if_expr.cond_expr.span(),
                    )),
                }
            }
            Directive::For(for_directive) => {
                let f = &for_directive.for_expr;
                let collection = self.eval_depth(&f.collection_expr, depth)?;
                let pairs = self.iterate(collection, f.collection_expr.span())?;
                let Some(pairs) = pairs else {
                    return Ok(Value::Unknown("template for".into()));
                };
                let mut out = String::new();
                for (key, value) in pairs {
                    let pushed = self.push_iteration(
                        f.key_var.as_ref().map(|k| k.as_str()),
                        key,
                        f.value_var.as_str(),
                        value,
                    );
                    let result = self.eval_template(&f.template, depth);
                    self.iteration.truncate(self.iteration.len() - pushed);
                    match result? {
                        Value::String(s) => out.push_str(&s),
                        Value::Unknown(w) => return Ok(Value::Unknown(w)),
                        _ => {}
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// Key/value pairs of a list (index, item) or map (key, value); `None` when unknown.
    pub(super) fn iterate(
        &mut self,
        collection: Value,
        range: Option<Range<usize>>,
    ) -> Result<Option<Vec<(Value, Value)>>, Failed> {
        match collection {
            Value::List(items) => Ok(Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Number(i as f64), v))
                    .collect(),
            )),
            Value::Object(map) => Ok(Some(
                map.into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect(),
            )),
            Value::Unknown(_) => Ok(None),
            other => Err(self.type_error("for collection", "list or map", &other, range)),
        }
    }

    pub(super) fn push_iteration(
        &mut self,
        key_var: Option<&str>,
        key: Value,
        value_var: &str,
        value: Value,
    ) -> usize {
        let mut pushed = 1;
        if let Some(k) = key_var {
            self.iteration.push((k.to_string(), key));
            pushed += 1;
        }
        self.iteration.push((value_var.to_string(), value));
        pushed
    }

    pub(super) fn eval_for(
        &mut self,
        for_expr: &hcl_edit::expr::ForExpr,
        depth: usize,
    ) -> EvalResult {
        let intro = &for_expr.intro;
        let collection = self.eval_depth(&intro.collection_expr, depth)?;
        let Some(pairs) = self.iterate(collection, intro.collection_expr.span())? else {
            return Ok(Value::Unknown("for expression".into()));
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in pairs {
            let pushed = self.push_iteration(
                intro.key_var.as_ref().map(|k| k.as_str()),
                key,
                intro.value_var.as_str(),
                value,
            );
            let result = self.eval_for_item(for_expr, depth, &mut list, &mut map);
            self.iteration.truncate(self.iteration.len() - pushed);
            result?;
        }
        if for_expr.key_expr.is_some() {
            Ok(Value::Object(map))
        } else {
            Ok(Value::List(list))
        }
    }

    pub(super) fn eval_for_item(
        &mut self,
        for_expr: &hcl_edit::expr::ForExpr,
        depth: usize,
        list: &mut Vec<Value>,
        map: &mut BTreeMap<String, Value>,
    ) -> Result<(), Failed> {
        if let Some(cond) = &for_expr.cond {
            match self.eval_depth(&cond.expr, depth)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                other => {
                    return Err(self.type_error("for condition", "bool", &other, cond.expr.span()))
                }
            }
        }
        let value = self.eval_depth(&for_expr.value_expr, depth)?;
        match &for_expr.key_expr {
            None => list.push(value),
            Some(key_expr) => {
                let key = self.eval_depth(key_expr, depth)?;
                let Some(key) = key.to_template_string() else {
                    return Err(self.type_error("for key", "string", &key, key_expr.span()));
                };
                if for_expr.grouping {
                    match map.entry(key).or_insert_with(|| Value::List(Vec::new())) {
                        Value::List(items) => items.push(value),
                        _ => {
                            return Err(
                                self.eval_message("grouping needs list values", key_expr.span())
                            )
                        }
                    }
                } else if map.insert(key.clone(), value).is_some() {
                    return Err(self.eval_message(
                        format!("duplicate key `{key}` in for expression (use `...` to group)"),
                        key_expr.span(),
                    ));
                }
            }
        }
        Ok(())
    }
}
