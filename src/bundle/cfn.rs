//! CloudFormation functions in `.ebextensions`, resolved as Elastic Beanstalk resolves them
//! before anything runs on an instance: a backtick-quoted JSON object in an option value or in
//! a `files` entry's content (`` `{"Ref": "AWS::Region"}` ``, `` `{"Fn::GetOptionSetting":
//! {...}}` ``) becomes its value. `Ref` of the pseudo parameters and of EB's logical names
//! Beanpole has a resource for, `Fn::GetAtt` of those, `Fn::Join`, `Fn::Sub`, `Fn::Select`,
//! `Fn::Base64` and `Fn::GetOptionSetting`. What has no value is an error naming it, never
//! literal text. Pure: the values come in a [`CfnContext`] the caller fills.
//!
//! A backtick pair whose inside is not a JSON object with one function key is left alone
//! (shell command substitution in a script's content is common).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the functions can read.
#[derive(Debug, Clone, Default)]
pub struct CfnContext {
    /// `Ref` name → value: pseudo parameters (`AWS::Region`) and EB's logical names.
    pub refs: BTreeMap<String, String>,
    /// (logical name, attribute) → value, for `Fn::GetAtt`.
    pub attributes: BTreeMap<(String, String), String>,
    /// Names known not to have a value here, with why (a `local run` has no load balancer).
    pub missing: BTreeMap<String, String>,
    /// (namespace, option) → value: the environment's option settings.
    pub options: BTreeMap<(String, String), String>,
}

/// EB's namespace for an application's own options (`Fn::GetOptionSetting`'s default).
pub const CUSTOM: &str = "aws:elasticbeanstalk:customoption";

/// EB's logical names of the resources Beanpole makes for an environment.
pub const EB_LOGICAL_NAMES: &[&str] = &[
    "AWSEBEnvironmentName",
    "AWSEBEnvironmentId",
    "AWSEBAutoScalingGroup",
    "AWSEBV2LoadBalancer",
    "AWSEBV2LoadBalancerListener",
    "AWSEBV2LoadBalancerTargetGroup",
    "AWSEBSecurityGroup",
    "AWSEBLoadBalancerSecurityGroup",
];

/// A function's value: text, or a list (what `Fn::Select` picks from).
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
}

impl Resolved {
    fn text(self, at: &str) -> Result<String, String> {
        match self {
            Resolved::Text(t) => Ok(t),
            Resolved::List(_) => Err(format!("{at}: a list where text is needed")),
        }
    }
}

/// The backtick-quoted functions in `text`, each as (byte range including the backticks,
/// the function object).
fn functions(text: &str) -> Vec<(std::ops::Range<usize>, Value)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find('`').map(|i| from + i) {
        let Some(close) = text[open + 1..].find('`').map(|i| open + 1 + i) else {
            break;
        };
        let inside = text[open + 1..close].trim();
        match serde_json::from_str::<Value>(inside) {
            Ok(Value::Object(object))
                if object.len() == 1
                    && object.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) =>
            {
                found.push((open..close + 1, Value::Object(object)));
                from = close + 1;
            }
            // Not a function (a shell's `date`): the closing backtick may open the next pair.
            _ => from = open + 1,
        }
    }
    found
}

/// Whether `text` holds any function.
pub fn has_functions(text: &str) -> bool {
    !functions(text).is_empty()
}

/// The logical names `text`'s functions refer to (`Ref`, `Fn::GetAtt`, `${…}` of `Fn::Sub`).
pub fn references(text: &str) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("Ref", Value::String(name)) => {
                            out.insert(name.clone());
                        }
                        ("Fn::GetAtt", Value::Array(a)) => {
                            if let Some(Value::String(name)) = a.first() {
                                out.insert(name.clone());
                            }
                        }
                        ("Fn::GetAtt", Value::String(s)) => {
                            out.insert(s.split('.').next().unwrap_or_default().to_string());
                        }
                        ("Fn::Sub", v) => {
                            let template = match v {
                                Value::Array(a) => a.first().and_then(Value::as_str),
                                other => other.as_str(),
                            };
                            for name in sub_names(template.unwrap_or_default()) {
                                out.insert(name.split('.').next().unwrap_or_default().to_string());
                            }
                            walk(v, out);
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for (_, f) in functions(text) {
        walk(&f, &mut out);
    }
    out
}

/// The `(resource, attribute)` pairs the functions in `text` read with `Fn::GetAtt` (or
/// `${resource.attribute}` in `Fn::Sub`).
pub fn attribute_references(text: &str) -> BTreeSet<(String, String)> {
    fn walk(value: &Value, out: &mut BTreeSet<(String, String)>) {
        match value {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("Fn::GetAtt", Value::Array(a)) if a.len() == 2 => {
                            if let (Some(r), Some(at)) = (a[0].as_str(), a[1].as_str()) {
                                out.insert((r.to_string(), at.to_string()));
                            }
                        }
                        ("Fn::GetAtt", Value::String(s)) => {
                            if let Some((r, at)) = s.split_once('.') {
                                out.insert((r.to_string(), at.to_string()));
                            }
                        }
                        ("Fn::Sub", v) => {
                            let template = match v {
                                Value::Array(a) => a.first().and_then(Value::as_str),
                                other => other.as_str(),
                            };
                            for name in sub_names(template.unwrap_or_default()) {
                                if let Some((r, at)) = name.split_once('.') {
                                    out.insert((r.to_string(), at.to_string()));
                                }
                            }
                            walk(v, out);
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for (_, f) in functions(text) {
        walk(&f, &mut out);
    }
    out
}

/// `text` with every function replaced by its value; the first that cannot be resolved is the
/// error (what it is and why).
pub fn resolve_text(text: &str, ctx: &CfnContext) -> Result<String, String> {
    let mut out = String::new();
    let mut last = 0;
    for (range, function) in functions(text) {
        out.push_str(&text[last..range.start]);
        let shown = text[range.clone()].to_string();
        let value = eval(&function, ctx, &BTreeMap::new())
            .and_then(|v| v.text(&shown))
            .map_err(|e| format!("{shown}: {e}"))?;
        out.push_str(&value);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// The `${name}` references of a `Fn::Sub` template (`${!x}` is a literal `${x}`).
fn sub_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            names.push(name.trim().to_string());
        }
        rest = &after[end + 1..];
    }
    names
}

fn eval(
    value: &Value,
    ctx: &CfnContext,
    variables: &BTreeMap<String, String>,
) -> Result<Resolved, String> {
    let object = match value {
        Value::String(s) => return Ok(Resolved::Text(s.clone())),
        Value::Number(n) => return Ok(Resolved::Text(n.to_string())),
        Value::Bool(b) => return Ok(Resolved::Text(b.to_string())),
        Value::Array(items) => {
            return items
                .iter()
                .map(|i| eval(i, ctx, variables).and_then(|r| r.text("a list item")))
                .collect::<Result<Vec<_>, _>>()
                .map(Resolved::List)
        }
        Value::Object(o) if o.len() == 1 => o,
        other => return Err(format!("`{other}` is not a value or one function")),
    };
    let Some((name, argument)) = object.iter().next() else {
        return Err("an empty object".into());
    };
    let text = |v: &Value| eval(v, ctx, variables).and_then(|r| r.text(name));
    match (name.as_str(), argument) {
        ("Ref", Value::String(target)) => reference(target, ctx).map(Resolved::Text),
        ("Fn::GetAtt", Value::Array(a)) if a.len() == 2 => {
            let (Some(resource), Some(attribute)) = (a[0].as_str(), a[1].as_str()) else {
                return Err("Fn::GetAtt takes [\"LogicalName\", \"Attribute\"]".into());
            };
            attribute_of(resource, attribute, ctx).map(Resolved::Text)
        }
        ("Fn::GetAtt", Value::String(s)) if s.contains('.') => {
            let (resource, attribute) = s.split_once('.').unwrap_or_default();
            attribute_of(resource, attribute, ctx).map(Resolved::Text)
        }
        ("Fn::Join", Value::Array(a)) if a.len() == 2 => {
            let delimiter = text(&a[0])?;
            match eval(&a[1], ctx, variables)? {
                Resolved::List(items) => Ok(Resolved::Text(items.join(&delimiter))),
                Resolved::Text(_) => Err("Fn::Join takes [\"delimiter\", [values]]".into()),
            }
        }
        ("Fn::Select", Value::Array(a)) if a.len() == 2 => {
            let index: usize = text(&a[0])?
                .trim()
                .parse()
                .map_err(|_| "Fn::Select's index is not a whole number".to_string())?;
            match eval(&a[1], ctx, variables)? {
                Resolved::List(items) => items
                    .get(index)
                    .cloned()
                    .map(Resolved::Text)
                    .ok_or_else(|| format!("Fn::Select: no item {index} in a list of {}", items.len())),
                Resolved::Text(_) => Err("Fn::Select takes [index, [values]]".into()),
            }
        }
        ("Fn::Base64", v) => Ok(Resolved::Text(crate::base64::encode(text(v)?.as_bytes()))),
        ("Fn::Sub", Value::String(template)) => sub(template, ctx, variables),
        ("Fn::Sub", Value::Array(a)) if a.len() == 2 => {
            let (Some(template), Some(Value::Object(vars))) = (a[0].as_str(), a.get(1)) else {
                return Err("Fn::Sub takes \"template\" or [\"template\", {variables}]".into());
            };
            let mut own = variables.clone();
            for (k, v) in vars {
                own.insert(k.clone(), text(v)?);
            }
            sub(template, ctx, &own)
        }
        ("Fn::GetOptionSetting", Value::Object(o)) => {
            let get = |k: &str| o.get(k).map(text).transpose();
            let namespace =
                get("Namespace")?.unwrap_or_else(|| CUSTOM.to_string());
            let Some(option) = get("OptionName")? else {
                return Err("Fn::GetOptionSetting needs OptionName".into());
            };
            match ctx.options.get(&(namespace.clone(), option.clone())) {
                Some(v) => Ok(Resolved::Text(v.clone())),
                None => match get("DefaultValue")? {
                    Some(d) => Ok(Resolved::Text(d)),
                    None => Err(format!(
                        "option {namespace}.{option} is not set and the function gives no DefaultValue"
                    )),
                },
            }
        }
        (other, _) if other == "Ref" || other.starts_with("Fn::") => Err(format!(
            "{other} in this form is not one Beanpole resolves (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Base64, Fn::GetOptionSetting)"
        )),
        (other, _) => Err(format!("`{other}` is not a CloudFormation function")),
    }
}

pub(crate) fn reference(name: &str, ctx: &CfnContext) -> Result<String, String> {
    if let Some(v) = ctx.refs.get(name) {
        return Ok(v.clone());
    }
    Err(why_missing(name, ctx))
}

pub(crate) fn attribute_of(
    resource: &str,
    attribute: &str,
    ctx: &CfnContext,
) -> Result<String, String> {
    if let Some(v) = ctx
        .attributes
        .get(&(resource.to_string(), attribute.to_string()))
    {
        return Ok(v.clone());
    }
    if ctx.refs.contains_key(resource) {
        let known: Vec<&str> = ctx
            .attributes
            .keys()
            .filter(|(r, _)| r == resource)
            .map(|(_, a)| a.as_str())
            .collect();
        return Err(format!(
            "{resource} has no attribute {attribute} here (it has: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    Err(why_missing(resource, ctx))
}

fn why_missing(name: &str, ctx: &CfnContext) -> String {
    if let Some(why) = ctx.missing.get(name) {
        return format!("{name} has no value here: {why}");
    }
    if EB_LOGICAL_NAMES.contains(&name) || name.starts_with("AWS::") {
        return format!("{name} has no value here");
    }
    format!(
        "{name} is not a resource Beanpole has: refer to a resource of the bundle's `Resources:`, EB's logical names ({}) or the pseudo parameters",
        EB_LOGICAL_NAMES.join(", ")
    )
}

fn sub(
    template: &str,
    ctx: &CfnContext,
    variables: &BTreeMap<String, String>,
) -> Result<Resolved, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("Fn::Sub: `${{` without `}}` in `{template}`"));
        };
        let name = after[..end].trim();
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str(&format!("${{{literal}}}"));
        } else if let Some(v) = variables.get(name) {
            out.push_str(v);
        } else if let Some((resource, attribute)) = name.split_once('.') {
            out.push_str(&attribute_of(resource, attribute, ctx)?);
        } else {
            out.push_str(&reference(name, ctx)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Resolved::Text(out))
}

/// The pseudo parameters for an environment in `region` of `account`.
pub fn pseudo_parameters(region: &str, account: Option<&str>) -> BTreeMap<String, String> {
    let (partition, suffix) = if region.starts_with("cn-") {
        ("aws-cn", "amazonaws.com.cn")
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", "amazonaws.com")
    } else {
        ("aws", "amazonaws.com")
    };
    let mut refs = BTreeMap::from([
        ("AWS::Region".to_string(), region.to_string()),
        ("AWS::Partition".to_string(), partition.to_string()),
        ("AWS::URLSuffix".to_string(), suffix.to_string()),
        ("AWS::NoValue".to_string(), String::new()),
    ]);
    if let Some(account) = account {
        refs.insert("AWS::AccountId".into(), account.to_string());
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CfnContext {
        let mut c = CfnContext {
            refs: pseudo_parameters("eu-west-1", Some("123456789012")),
            ..Default::default()
        };
        c.refs
            .insert("AWSEBEnvironmentName".into(), "shop-blue".into());
        c.refs.insert(
            "AWSEBV2LoadBalancer".into(),
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/abc".into(),
        );
        c.attributes.insert(
            ("AWSEBV2LoadBalancer".into(), "DNSName".into()),
            "shop-1.eu-west-1.elb.amazonaws.com".into(),
        );
        c.options.insert(
            ("aws:elasticbeanstalk:customoption".into(), "Colour".into()),
            "green".into(),
        );
        c.missing.insert(
            "AWSEBAutoScalingGroup".into(),
            "`local run` plays no Auto Scaling group".into(),
        );
        c
    }

    fn resolve(text: &str) -> Result<String, String> {
        resolve_text(text, &ctx())
    }

    #[test]
    fn pseudo_parameters_and_eb_names_resolve() {
        assert_eq!(resolve(r#"`{"Ref": "AWS::Region"}`"#).unwrap(), "eu-west-1");
        assert_eq!(
            resolve(r#"`{"Ref":"AWS::AccountId"}`"#).unwrap(),
            "123456789012"
        );
        assert_eq!(
            resolve(r#"`{"Ref": "AWS::Partition"}`.`{"Ref": "AWS::URLSuffix"}`"#).unwrap(),
            "aws.amazonaws.com"
        );
        assert_eq!(
            resolve(r#"env=`{"Ref": "AWSEBEnvironmentName"}` lb=`{"Fn::GetAtt": ["AWSEBV2LoadBalancer", "DNSName"]}`"#).unwrap(),
            "env=shop-blue lb=shop-1.eu-west-1.elb.amazonaws.com"
        );
        assert_eq!(
            resolve(r#"`{"Fn::GetAtt": "AWSEBV2LoadBalancer.DNSName"}`"#).unwrap(),
            "shop-1.eu-west-1.elb.amazonaws.com"
        );
    }

    #[test]
    fn join_sub_select_base64() {
        assert_eq!(
            resolve(r#"`{"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}, "z"]]}`"#).unwrap(),
            "a-eu-west-1-z"
        );
        let e = resolve(
            r#"`{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}-${AWSEBEnvironmentName}"}`"#,
        )
        .unwrap_err();
        assert!(e.contains("Bucket is not a resource Beanpole has"), "{e}");
        assert_eq!(
            resolve(r#"`{"Fn::Sub": ["${Name}@${AWS::Region} ${!Literal} ${AWSEBV2LoadBalancer.DNSName}", {"Name": "x"}]}`"#).unwrap(),
            "x@eu-west-1 ${Literal} shop-1.eu-west-1.elb.amazonaws.com"
        );
        assert_eq!(
            resolve(r#"`{"Fn::Select": ["1", ["a", "b", "c"]]}`"#).unwrap(),
            "b"
        );
        assert_eq!(resolve(r#"`{"Fn::Base64": "hello"}`"#).unwrap(), "aGVsbG8=");
        assert_eq!(resolve(r#"`{"Fn::Base64": "hi"}`"#).unwrap(), "aGk=");
    }

    #[test]
    fn get_option_setting_reads_options_and_falls_back_to_the_default() {
        assert_eq!(
            resolve(r#"`{"Fn::GetOptionSetting": {"Namespace": "aws:elasticbeanstalk:customoption", "OptionName": "Colour"}}`"#).unwrap(),
            "green"
        );
        assert_eq!(
            resolve(r#"`{"Fn::GetOptionSetting": {"OptionName": "Colour"}}`"#).unwrap(),
            "green"
        );
        assert_eq!(
            resolve(r#"`{"Fn::GetOptionSetting": {"OptionName": "Size", "DefaultValue": "m"}}`"#)
                .unwrap(),
            "m"
        );
        let e = resolve(r#"`{"Fn::GetOptionSetting": {"OptionName": "Size"}}`"#).unwrap_err();
        assert!(
            e.contains("aws:elasticbeanstalk:customoption.Size is not set"),
            "{e}"
        );
    }

    #[test]
    fn what_has_no_value_is_an_error_never_text() {
        let e = resolve(r#"`{"Ref": "AWSEBAutoScalingGroup"}`"#).unwrap_err();
        assert!(e.contains("`local run` plays no Auto Scaling group"), "{e}");
        let e = resolve(r#"`{"Ref": "OrdersTable"}`"#).unwrap_err();
        assert!(
            e.contains("OrdersTable is not a resource Beanpole has"),
            "{e}"
        );
        let e = resolve(r#"`{"Fn::GetAtt": ["AWSEBV2LoadBalancer", "Nope"]}`"#).unwrap_err();
        assert!(
            e.contains("has no attribute Nope here (it has: DNSName)"),
            "{e}"
        );
        let e = resolve(r#"`{"Fn::FindInMap": ["a", "b", "c"]}`"#).unwrap_err();
        assert!(e.contains("Fn::FindInMap"), "{e}");
    }

    #[test]
    fn backticks_that_are_not_functions_stay() {
        let script = "echo `date` and `{\"Ref\": \"AWS::Region\"}` and `hostname`";
        assert_eq!(
            resolve(script).unwrap(),
            "echo `date` and eu-west-1 and `hostname`"
        );
        assert!(!has_functions("echo `date`; echo `{not json}`"));
        assert_eq!(
            references(
                r#"`{"Fn::Sub": "${AWSEBV2LoadBalancer.DNSName}/${AWS::Region}"}` `{"Ref": "X"}`"#
            ),
            BTreeSet::from([
                "AWSEBV2LoadBalancer".to_string(),
                "AWS::Region".to_string(),
                "X".to_string()
            ])
        );
    }
}
