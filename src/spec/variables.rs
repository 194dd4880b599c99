//! Input variables: their declared types, and the values a user gives them on the command line
//! (`--var`), in files (`--var-file`) and in the environment (`BEANPOLE_VAR_NAME`), converted to
//! the declared type. Precedence, lowest first: default, environment, var files, `--var`.

use super::value::Value;
use hcl_edit::expr::Expression;
use std::fmt;

/// The type constraint of a `variable` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Bool,
    ListOfString,
    MapOfString,
    Any,
}

pub const TYPE_NAMES: &[&str] = &[
    "string",
    "number",
    "bool",
    "list(string)",
    "map(string)",
    "any",
];

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Bool => "bool",
            VarType::ListOfString => "list(string)",
            VarType::MapOfString => "map(string)",
            VarType::Any => "any",
        })
    }
}

impl VarType {
    /// Reads a type expression: `string`, `list(string)`, …; `None` if it is none of them.
    pub fn from_expression(expr: &Expression) -> Option<VarType> {
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "string" => Some(VarType::String),
                "number" => Some(VarType::Number),
                "bool" => Some(VarType::Bool),
                "any" => Some(VarType::Any),
                _ => None,
            },
            Expression::FuncCall(call) if call.args.len() == 1 => {
                let inner = call.args.iter().next()?;
                let inner_is_string =
                    matches!(inner, Expression::Variable(v) if v.as_str() == "string");
                match call.name.name.as_str() {
                    "list" | "set" if inner_is_string => Some(VarType::ListOfString),
                    "map" if inner_is_string => Some(VarType::MapOfString),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Converts a value to this type the way HCL does (numbers and bools to strings and back);
    /// `Err` with the value's description when it cannot.
    pub fn convert(self, value: Value) -> Result<Value, String> {
        let scalar_to_string = |v: &Value| match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                v.to_template_string().map(Value::String)
            }
            _ => None,
        };
        match (self, value) {
            (VarType::Any, v) => Ok(v),
            (_, Value::Unknown(w)) => Ok(Value::Unknown(w)),
            (VarType::String, v) => scalar_to_string(&v).ok_or_else(|| v.describe()),
            (VarType::Number, v) => super::value::number_of(&v)
                .map(Value::Number)
                .ok_or_else(|| v.describe()),
            (VarType::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
            (VarType::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (VarType::Bool, v) => Err(v.describe()),
            (VarType::ListOfString, Value::List(items)) => items
                .iter()
                .map(|i| {
                    scalar_to_string(i).ok_or_else(|| format!("a list holding {}", i.describe()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            (VarType::MapOfString, Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    scalar_to_string(v)
                        .map(|s| (k.clone(), s))
                        .ok_or_else(|| format!("a map holding {}", v.describe()))
                })
                .collect::<Result<_, _>>()
                .map(Value::Object),
            (_, v) => Err(v.describe()),
        }
    }

    /// True when a command-line string must be read as an HCL expression (lists, maps).
    pub fn needs_expression(self) -> bool {
        matches!(self, VarType::ListOfString | VarType::MapOfString)
    }
}

/// Values given from outside the spec for the root module's variables.
#[derive(Debug, Clone, Default)]
pub struct VariableInputs {
    /// `--var NAME=VALUE`, in order.
    pub cli: Vec<(String, String)>,
    /// `--var-file FILE`, in order.
    pub files: Vec<std::path::PathBuf>,
    /// `BEANPOLE_VAR_NAME=VALUE` from the process environment (the CLI collects them).
    pub environment: Vec<(String, String)>,
}

impl VariableInputs {
    /// Splits `NAME=VALUE` from `--var`.
    pub fn parse_cli(assignment: &str) -> Result<(String, String), String> {
        match assignment.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.to_string()))
            }
            _ => Err(format!(
                "`--var {assignment}` must have the form NAME=VALUE"
            )),
        }
    }

    /// Reads `BEANPOLE_VAR_*` pairs out of a process environment.
    pub fn from_environment(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vars
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("BEANPOLE_VAR_").map(|n| (n.to_string(), v)))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        out.sort();
        out
    }
}
