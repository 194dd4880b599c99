//! The function library of the spec language: the functions users reach for in Terraform
//! (`lower`, `format`, `join`, `merge`, `lookup`, …). Pure: `file()` lives in the evaluator,
//! which owns file access.

use super::diagnostic::did_you_mean;
use super::source::Span;
use super::value::number_of;
use super::value::{format_number, Value};
use std::collections::BTreeMap;

pub const FUNCTIONS: &[&str] = &[
    "lower",
    "upper",
    "format",
    "join",
    "split",
    "concat",
    "merge",
    "lookup",
    "length",
    "coalesce",
    "file",
    "tostring",
    "tonumber",
    "replace",
    "trimspace",
    "contains",
    "keys",
    "values",
    "min",
    "max",
    "substr",
    "secret",
    "ssm_parameter",
];

/// The key that marks a map as a reference to a secret (what `secret()` and
/// `ssm_parameter()` return): its value is the store, `id` names the secret and `kms_key` the
/// key that encrypts it, if given. The value itself is read on the instance, never here.
pub const REFERENCE_KEY: &str = "beanpole:reference";
pub const SECRETS_MANAGER: &str = "secretsmanager";
pub const SSM_PARAMETER: &str = "ssm-parameter";
/// The same marker on what an extra resource's block binds (`resource.jobs.ref`): an output of
/// its stack, named by `stack`, `resource` and `attribute`.
pub const STACK_OUTPUT: &str = "stack-output";

fn reference(
    store: &str,
    args: Args,
    check: fn(&str) -> super::checks::Check,
) -> Result<Value, CallError> {
    arity(args, 1, 2)?;
    let id = string(args, 0)?;
    check(&id).map_err(|reason| arg_error(reason, Some(&args[0].1)))?;
    let mut map = BTreeMap::from([
        (REFERENCE_KEY.to_string(), Value::String(store.to_string())),
        ("id".to_string(), Value::String(id)),
    ]);
    if args.len() == 2 {
        let key = string(args, 1)?;
        super::checks::kms_key_arn(&key).map_err(|reason| arg_error(reason, Some(&args[1].1)))?;
        map.insert("kms_key".to_string(), Value::String(key));
    }
    Ok(Value::Object(map))
}

pub enum CallError {
    UnknownFunction,
    Argument { message: String, span: Option<Span> },
}

fn arg_error(message: impl Into<String>, span: Option<&Span>) -> CallError {
    CallError::Argument {
        message: message.into(),
        span: span.cloned(),
    }
}

pub fn hint_for(name: &str) -> String {
    did_you_mean(name, FUNCTIONS.iter().copied())
        .unwrap_or_else(|| format!("available functions: {}", FUNCTIONS.join(", ")))
}

type Args<'a> = &'a [(Value, Span)];

fn arity(args: Args, min: usize, max: usize) -> Result<(), CallError> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(arg_error(
            format!("expected {expected} argument(s), got {}", args.len()),
            args.last().map(|(_, s)| s),
        ));
    }
    Ok(())
}

fn string<'a>(args: Args<'a>, i: usize) -> Result<String, CallError> {
    let (v, span) = &args[i];
    v.to_template_string()
        .filter(|_| !matches!(v, Value::Null))
        .ok_or_else(|| {
            arg_error(
                format!(
                    "argument {} must be a string, found {}",
                    i + 1,
                    v.describe()
                ),
                Some(span),
            )
        })
}

fn list(args: Args, i: usize) -> Result<Vec<Value>, CallError> {
    match &args[i] {
        (Value::List(items), _) => Ok(items.clone()),
        (v, span) => Err(arg_error(
            format!("argument {} must be a list, found {}", i + 1, v.describe()),
            Some(span),
        )),
    }
}

fn map(args: Args, i: usize) -> Result<BTreeMap<String, Value>, CallError> {
    match &args[i] {
        (Value::Object(m), _) => Ok(m.clone()),
        (v, span) => Err(arg_error(
            format!("argument {} must be a map, found {}", i + 1, v.describe()),
            Some(span),
        )),
    }
}

/// Calls a function by name. Any unknown argument makes the result unknown.
pub fn call(name: &str, args: Args) -> Result<Value, CallError> {
    if !FUNCTIONS.contains(&name) || name == "file" {
        return Err(CallError::UnknownFunction);
    }
    if let Some((Value::Unknown(w), _)) = args.iter().find(|(v, _)| !v.is_known()) {
        return Ok(Value::Unknown(w.clone()));
    }
    if args.iter().any(|(v, _)| !v.is_known()) {
        return Ok(Value::Unknown(format!("{name}()")));
    }
    match name {
        "secret" => reference(SECRETS_MANAGER, args, super::checks::secret_arn),
        "ssm_parameter" => reference(SSM_PARAMETER, args, super::checks::parameter_name),
        "lower" => {
            arity(args, 1, 1)?;
            Ok(Value::String(string(args, 0)?.to_lowercase()))
        }
        "upper" => {
            arity(args, 1, 1)?;
            Ok(Value::String(string(args, 0)?.to_uppercase()))
        }
        "trimspace" => {
            arity(args, 1, 1)?;
            Ok(Value::String(string(args, 0)?.trim().to_string()))
        }
        "tostring" => {
            arity(args, 1, 1)?;
            Ok(Value::String(string(args, 0)?))
        }
        "tonumber" => {
            arity(args, 1, 1)?;
            number_of(&args[0].0).map(Value::Number).ok_or_else(|| {
                arg_error(
                    format!("cannot convert {} to a number", args[0].0.describe()),
                    Some(&args[0].1),
                )
            })
        }
        "replace" => {
            arity(args, 3, 3)?;
            Ok(Value::String(
                string(args, 0)?.replace(&string(args, 1)?, &string(args, 2)?),
            ))
        }
        "substr" => {
            arity(args, 3, 3)?;
            let s = string(args, 0)?;
            let offset = number_of(&args[1].0)
                .ok_or_else(|| arg_error("offset must be a number", Some(&args[1].1)))?;
            let length = number_of(&args[2].0)
                .ok_or_else(|| arg_error("length must be a number", Some(&args[2].1)))?;
            let chars: Vec<char> = s.chars().collect();
            let start = (offset.max(0.0) as usize).min(chars.len());
            let end = if length < 0.0 {
                chars.len()
            } else {
                start
                    .saturating_add(length.min(usize::MAX as f64) as usize)
                    .min(chars.len())
            };
            Ok(Value::String(chars[start..end].iter().collect()))
        }
        "format" => {
            arity(args, 1, usize::MAX)?;
            format(&string(args, 0)?, &args[1..], &args[0].1)
        }
        "join" => {
            arity(args, 2, 2)?;
            let sep = string(args, 0)?;
            let items = list(args, 1)?;
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(item.to_template_string().ok_or_else(|| {
                    arg_error(
                        format!("list elements must be strings, found {}", item.describe()),
                        Some(&args[1].1),
                    )
                })?);
            }
            Ok(Value::String(parts.join(&sep)))
        }
        "split" => {
            arity(args, 2, 2)?;
            let sep = string(args, 0)?;
            let s = string(args, 1)?;
            if s.is_empty() {
                return Ok(Value::List(Vec::new()));
            }
            if sep.is_empty() {
                return Ok(Value::List(
                    s.chars().map(|c| Value::String(c.to_string())).collect(),
                ));
            }
            Ok(Value::List(
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ))
        }
        "concat" => {
            let mut out = Vec::new();
            for i in 0..args.len() {
                out.extend(list(args, i)?);
            }
            Ok(Value::List(out))
        }
        "merge" => {
            let mut out = BTreeMap::new();
            for (i, (v, _)) in args.iter().enumerate() {
                if matches!(v, Value::Null) {
                    continue;
                }
                out.extend(map(args, i)?);
            }
            Ok(Value::Object(out))
        }
        "lookup" => {
            arity(args, 2, 3)?;
            let m = map(args, 0)?;
            let key = string(args, 1)?;
            match m.get(&key) {
                Some(v) => Ok(v.clone()),
                None => match args.get(2) {
                    Some((default, _)) => Ok(default.clone()),
                    None => Err(arg_error(
                        format!("key `{key}` is not in the map and no default was given"),
                        Some(&args[1].1),
                    )),
                },
            }
        }
        "length" => {
            arity(args, 1, 1)?;
            match &args[0].0 {
                Value::List(items) => Ok(Value::Number(items.len() as f64)),
                Value::Object(m) => Ok(Value::Number(m.len() as f64)),
                Value::String(s) => Ok(Value::Number(s.chars().count() as f64)),
                other => Err(arg_error(
                    format!("cannot take the length of {}", other.describe()),
                    Some(&args[0].1),
                )),
            }
        }
        "coalesce" => {
            arity(args, 1, usize::MAX)?;
            for (v, _) in args {
                match v {
                    Value::Null => continue,
                    Value::String(s) if s.is_empty() => continue,
                    other => return Ok(other.clone()),
                }
            }
            Err(arg_error(
                "all arguments are null or empty",
                args.last().map(|(_, s)| s),
            ))
        }
        "contains" => {
            arity(args, 2, 2)?;
            Ok(Value::Bool(list(args, 0)?.contains(&args[1].0)))
        }
        "keys" => {
            arity(args, 1, 1)?;
            Ok(Value::List(
                map(args, 0)?.into_keys().map(Value::String).collect(),
            ))
        }
        "values" => {
            arity(args, 1, 1)?;
            Ok(Value::List(map(args, 0)?.into_values().collect()))
        }
        "min" | "max" => {
            arity(args, 1, usize::MAX)?;
            let mut best: Option<f64> = None;
            for (v, span) in args {
                let n = number_of(v).ok_or_else(|| {
                    arg_error(
                        format!("expected a number, found {}", v.describe()),
                        Some(span),
                    )
                })?;
                best = Some(match best {
                    None => n,
                    Some(b) if name == "min" => b.min(n),
                    Some(b) => b.max(n),
                });
            }
            Ok(Value::Number(best.unwrap_or(0.0)))
        }
        _ => Err(CallError::UnknownFunction),
    }
}

/// `format` with the verbs users write: `%s`, `%d`, `%v`, `%q`, `%%`.
fn format(spec: &str, args: Args, spec_span: &Span) -> Result<Value, CallError> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            return Err(arg_error(
                "format string ends with a lone `%`",
                Some(spec_span),
            ));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some((value, span)) = args.get(next) else {
            return Err(arg_error(
                format!("not enough arguments for the format string (needs more than {next})"),
                Some(spec_span),
            ));
        };
        next += 1;
        match verb {
            's' | 'v' => out.push_str(
                &value
                    .to_template_string()
                    .unwrap_or_else(|| value.to_json().to_string()),
            ),
            'q' => out.push_str(&format!(
                "{:?}",
                value.to_template_string().unwrap_or_default()
            )),
            'd' => match number_of(value) {
                Some(n) => out.push_str(&format_number(n.trunc())),
                None => {
                    return Err(arg_error(
                        format!("%d needs a number, found {}", value.describe()),
                        Some(span),
                    ))
                }
            },
            other => {
                return Err(arg_error(
                    format!("unsupported format verb `%{other}` (use %s, %d, %v, %q or %%)"),
                    Some(spec_span),
                ))
            }
        }
    }
    if next < args.len() {
        return Err(arg_error(
            format!(
                "format string uses {next} argument(s) but {} were given",
                args.len()
            ),
            args.get(next).map(|(_, s)| s),
        ));
    }
    Ok(Value::String(out))
}
