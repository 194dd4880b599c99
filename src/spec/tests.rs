//! Unit tests of the front end on in-memory specs: evaluation, variables, modules, unknowns.

use super::load::MemoryFs;
use super::{compile_dir, Compilation, VariableInputs};
use std::path::Path;

const APP: &str = r#"
application "pets-app" {
  region = "us-east-2"
  domain = "example.com"
}
"#;

fn compile(fs: &MemoryFs, inputs: &VariableInputs) -> Compilation {
    compile_dir(fs, Path::new("spec"), inputs)
}

fn env_with(instance_type_expr: &str) -> String {
    format!(
        r#"{APP}
environment "pets-env-blue" {{
  application = application.pets-app
  platform    = "python-3.12"
  instance {{
    type = {instance_type_expr}
  }}
}}
"#
    )
}

fn messages(c: &Compilation) -> Vec<String> {
    c.diagnostics.iter().map(|d| d.error.to_string()).collect()
}

#[test]
fn variable_precedence_is_default_env_file_cli() {
    let spec = format!(
        "variable \"instance_type\" {{\n  type = string\n  default = \"t3.small\"\n}}\n{}",
        env_with("var.instance_type")
    );
    let fs = MemoryFs::new()
        .with_file("spec/main.hcl", spec)
        .with_file("prod.hcl", "instance_type = \"m5.large\"\n");
    let instance_type = |inputs: &VariableInputs| {
        let c = compile(&fs, inputs);
        assert!(c.is_valid(), "{:?}", messages(&c));
        c.spec.environments[0].instance.instance_type.clone()
    };
    let mut inputs = VariableInputs::default();
    assert_eq!(instance_type(&inputs), "t3.small");
    inputs.environment = vec![("instance_type".into(), "t3.medium".into())];
    assert_eq!(instance_type(&inputs), "t3.medium");
    inputs.files = vec!["prod.hcl".into()];
    assert_eq!(instance_type(&inputs), "m5.large");
    inputs.cli = vec![("instance_type".into(), "c6i.xlarge".into())];
    assert_eq!(instance_type(&inputs), "c6i.xlarge");
}

#[test]
fn list_and_map_variables_read_hcl_from_the_command_line() {
    let spec = format!(
        r#"variable "actions" {{
  type = list(string)
}}
variable "props" {{
  type = map(string)
}}
{APP}
environment "pets-env-blue" {{
  application = application.pets-app
  platform    = "python-3.12"
  properties  = var.props
  permissions {{
    statement {{
      actions   = var.actions
      resources = ["*"]
    }}
  }}
}}
"#
    );
    let fs = MemoryFs::new().with_file("spec/main.hcl", spec);
    let inputs = VariableInputs {
        cli: vec![
            (
                "actions".into(),
                r#"["s3:GetObject", "s3:PutObject"]"#.into(),
            ),
            ("props".into(), r#"{ MODE = "prod" }"#.into()),
        ],
        ..Default::default()
    };
    let c = compile(&fs, &inputs);
    assert!(c.is_valid(), "{:?}", messages(&c));
    let env = &c.spec.environments[0];
    assert_eq!(
        env.permissions.statements[0].actions,
        vec!["s3:GetObject", "s3:PutObject"]
    );
    assert_eq!(env.permissions.statements[0].resources, vec!["*"]);
    assert_eq!(env.properties.get("MODE").map(String::as_str), Some("prod"));
}

#[test]
fn functions_evaluate() {
    let cases = [
        (r#"lower("T3.SMALL")"#, "t3.small"),
        (r#"format("%s.%s", "t3", "small")"#, "t3.small"),
        (r#"join(".", split("-", "t3-small"))"#, "t3.small"),
        (
            r#"lookup({ prod = "m5.large" }, "dev", "t3.small")"#,
            "t3.small",
        ),
        (r#"coalesce("", "t3.small")"#, "t3.small"),
        (
            r#"length(concat(["a"], ["b", "c"])) == 3 ? "t3.small" : "no""#,
            "t3.small",
        ),
        (r#"merge({ a = "x" }, { a = "t3.small" }).a"#, "t3.small"),
        (r#"trimspace(file("type.txt"))"#, "t3.small"),
        (
            r#"replace(upper("t3_small"), "_", ".") == "T3.SMALL" ? "t3.small" : "no""#,
            "t3.small",
        ),
        (
            r#"[for t in ["t3.small", "x"] : t if t != "x"][0]"#,
            "t3.small",
        ),
        (
            r#""${"t3"}.%{ if true }small%{ else }large%{ endif }""#,
            "t3.small",
        ),
    ];
    for (expr, expected) in cases {
        let fs = MemoryFs::new()
            .with_file("spec/main.hcl", env_with(expr))
            .with_file("spec/type.txt", "  t3.small\n");
        let c = compile(&fs, &VariableInputs::default());
        assert!(c.is_valid(), "{expr}: {:?}", messages(&c));
        assert_eq!(
            c.spec.environments[0].instance.instance_type, expected,
            "{expr}"
        );
    }
}

#[test]
fn values_known_after_apply_flow_into_outputs_but_not_into_settings() {
    let spec = format!(
        "{}\noutput \"url\" {{\n  value = environment.pets-env-blue.url\n}}\n",
        env_with("\"t3.small\"")
    );
    let fs = MemoryFs::new().with_file("spec/main.hcl", spec);
    let c = compile(&fs, &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", messages(&c));
    assert_eq!(c.spec.outputs[0].name, "url");
    assert!(!c.spec.outputs[0].known);

    let fs = MemoryFs::new().with_file(
        "spec/main.hcl",
        format!(
            "{}\nenvironment \"other-env\" {{\n  application = application.pets-app\n  platform = \"python-3.12\"\n  cname = environment.pets-env-blue.url\n}}\n",
            env_with("\"t3.small\"")
        ),
    );
    let c = compile(&fs, &VariableInputs::default());
    assert_eq!(
        messages(&c),
        vec!["value of `cname` is not known until apply"]
    );
}

#[test]
fn a_module_called_twice_gives_distinct_environments() {
    let module = r#"
variable "name" {
  type = string
}
application "app" {
  name   = var.name
  domain = "example.com"
}
environment "blue" {
  name        = "${var.name}-blue"
  application = application.app
  cname       = var.name
  platform    = "python-3.12"
}
output "env" {
  value = environment.blue.name
}
"#;
    let root = r#"
module "a" {
  source = "./mod"
  name   = "shop"
}
module "b" {
  source = "./mod"
  name   = "admin"
}
output "names" {
  value = [module.a.env, module.b.env]
}
"#;
    let fs = MemoryFs::new()
        .with_file("spec/main.hcl", root)
        .with_file("spec/mod/main.hcl", module);
    let c = compile(&fs, &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", messages(&c));
    let addresses: Vec<String> = c.spec.environments.iter().map(|e| e.address()).collect();
    assert_eq!(
        addresses,
        vec!["module.a.environment.blue", "module.b.environment.blue"]
    );
    assert_eq!(
        c.spec.outputs[0].value,
        serde_json::json!(["shop-blue", "admin-blue"])
    );
}

#[test]
fn module_inputs_must_be_declared_variables() {
    let fs = MemoryFs::new()
        .with_file(
            "spec/main.hcl",
            "module \"a\" {\n  source = \"./mod\"\n  nmae = \"x\"\n}\n",
        )
        .with_file(
            "spec/mod/main.hcl",
            "variable \"name\" {\n  default = \"y\"\n}\n",
        );
    let c = compile(&fs, &VariableInputs::default());
    assert_eq!(c.diagnostics.len(), 1, "{:?}", messages(&c));
    assert_eq!(
        c.diagnostics[0].hint.as_deref(),
        Some("did you mean `name`?")
    );
}

#[test]
fn every_error_of_a_run_is_reported() {
    let spec = r#"
application "pets-app" {
  regoin = "us-east-2"
}
environment "pets-env-blue" {
  application = application.pets-app
  platform    = "python-2.7"
  proxy       = "caddy"
  capacity {
    min = 3
    max = 1
  }
}
"#;
    let fs = MemoryFs::new().with_file("spec/main.hcl", spec);
    let c = compile(&fs, &VariableInputs::default());
    assert_eq!(
        messages(&c),
        vec![
            "unknown attribute `regoin` in application `pets-app`",
            "unknown platform `python-2.7`",
            "unknown proxy `caddy`",
            "capacity: min (3) is greater than max (1)",
        ]
    );
}

#[test]
fn substr_with_a_huge_length_does_not_overflow() {
    let fs = MemoryFs::new().with_file(
        "spec/main.hcl",
        env_with(r#"substr("t3.small", 0, 1e300) == "t3.small" ? "t3.small" : "no""#),
    );
    let c = compile(&fs, &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", messages(&c));
}

#[test]
fn secret_properties_are_references_and_plain_secret_names_are_warned_about() {
    let spec = format!(
        r#"{APP}
environment "pets-env-blue" {{
  application = application.pets-app
  platform    = "python-3.12"
  properties  = {{
    DB_PASSWORD = secret("arn:aws:secretsmanager:us-east-2:123456789012:secret:pets/db-AbC123", "arn:aws:kms:us-east-2:123456789012:key/1234")
    API_KEY     = ssm_parameter("/pets/api-key")
    AUTH_TOKEN  = "pasted-in-plain-text"
    PETS_TABLE  = "Pets"
  }}
}}
"#
    );
    let fs = MemoryFs::new().with_file("spec/main.hcl", spec);
    let c = compile(&fs, &VariableInputs::default());
    assert!(c.is_valid(), "{:?}", messages(&c));
    let env = &c.spec.environments[0];
    assert_eq!(
        env.properties.keys().collect::<Vec<_>>(),
        vec!["AUTH_TOKEN", "PETS_TABLE"]
    );
    let db = &env.secrets["DB_PASSWORD"];
    assert_eq!(db.store, "secretsmanager");
    assert!(db.id.ends_with(":secret:pets/db-AbC123"));
    assert_eq!(
        db.kms_key.as_deref(),
        Some("arn:aws:kms:us-east-2:123456789012:key/1234")
    );
    assert_eq!(env.secrets["API_KEY"].store, "ssm-parameter");
    assert_eq!(env.secrets["API_KEY"].id, "/pets/api-key");
    let warnings: Vec<String> = c.warnings.iter().map(|w| w.error.to_string()).collect();
    assert_eq!(
        warnings,
        vec!["property `AUTH_TOKEN` looks like a secret but is given in plain text"]
    );

    // A reference that is not one is refused where it is written.
    let bad = format!(
        r#"{APP}
environment "pets-env-blue" {{
  application = application.pets-app
  platform    = "python-3.12"
  properties  = {{ DB_PASSWORD = secret("arn:aws:s3:::not-a-secret") }}
}}
"#
    );
    let c = compile(
        &MemoryFs::new().with_file("spec/main.hcl", bad),
        &VariableInputs::default(),
    );
    assert!(!c.is_valid());
    assert!(
        c.diagnostics.iter().any(|d| d
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("Secrets Manager")
            || d.error.to_string().contains("Secrets Manager")),
        "{:?}",
        messages(&c)
    );
}
