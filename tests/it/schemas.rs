//! The deployment document and the engine's report against their JSON Schemas
//! (`src/platform/schema/`): every document Beanpole writes for the examples validates, and so
//! does a report the engine really writes (and Beanpole reads it). The engine's own tests check
//! the same schemas from its side (`src/platform/engine/tests/test_schemas.py`).

use crate::common::{self, TempDir};
use beanpole::bundle::ebextensions::EbExtensions;
use beanpole::ops::bundle::{bundle, BundleRequest};
use beanpole::ops::engine::{EngineDeploy, LocalEngine};
use beanpole::platform::document::{document, Document, HealthCheck, Target, VersionRef};
use beanpole::platform::report::Report;
use beanpole::platform::settings::resolve;
use beanpole::spec::{compile_dir, DiskFs, VariableInputs};
use serde_json::Value;

fn schema(name: &str) -> Value {
    let path = common::manifest_dir()
        .join("src/platform/schema")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every way `value` breaks `schema` (the subset of JSON Schema the two schemas use: type,
/// enum, minimum, maximum, properties, required, additionalProperties, items, oneOf, $ref).
fn errors(value: &Value, schema: &Value, root: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return errors(value, &root["$defs"][name], root, at);
    }
    let mut found = Vec::new();
    if let Some(kinds) = types(&schema["type"]) {
        if !kinds.iter().any(|k| is(value, k)) {
            return vec![format!("{at}: {value} is not {}", kinds.join(" or "))];
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            found.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), schema["minimum"].as_f64()) {
        if n < min {
            found.push(format!("{at}: {n} is below {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), schema["maximum"].as_f64()) {
        if n > max {
            found.push(format!("{at}: {n} is above {max}"));
        }
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let passing = choices
            .iter()
            .filter(|s| errors(value, s, root, at).is_empty())
            .count();
        if passing != 1 {
            found.push(format!("{at}: matches {passing} of the oneOf schemas"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                found.push(format!("{at}: {name} is missing"));
            }
        }
        for (name, item) in object {
            let inner = format!("{at}.{name}");
            match (&schema["properties"][name], &schema["additionalProperties"]) {
                (Value::Null, Value::Bool(false)) => {
                    found.push(format!("{at}: {name} is not in the schema"))
                }
                (Value::Null, extra @ Value::Object(_)) => {
                    found.extend(errors(item, extra, root, &inner))
                }
                (Value::Null, _) => {}
                (property, _) => found.extend(errors(item, property, root, &inner)),
            }
        }
    }
    if let (Some(items), Some(each)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            found.extend(errors(item, each, root, &format!("{at}[{i}]")));
        }
    }
    found
}

fn types(kind: &Value) -> Option<Vec<String>> {
    match kind {
        Value::String(k) => Some(vec![k.clone()]),
        Value::Array(ks) => Some(
            ks.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect(),
        ),
        _ => None,
    }
}

fn is(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

fn validate(value: &Value, schema: &Value) -> Vec<String> {
    errors(value, schema, schema, "$")
}

/// The documents Beanpole writes for every environment of the examples: its sample
/// application's, and a version of the example's application with its `.ebextensions`.
fn example_documents() -> Vec<Document> {
    let mut documents = Vec::new();
    for example in common::sub_folders(&common::manifest_dir().join("examples")) {
        let compilation = compile_dir(&DiskFs, &example, &VariableInputs::default());
        assert!(compilation.is_valid(), "{}", example.display());
        for env in &compilation.spec.environments {
            documents.push(beanpole::platform::boot::sample_document(
                &env.application,
                env,
            ));
            let source = example.join("app");
            let ext = if source.is_dir() {
                let built = bundle(&BundleRequest {
                    source,
                    wsgi_path: env.wsgi.path.clone(),
                    out: None,
                    environment: Some(env.clone()),
                })
                .unwrap();
                built.bundle.ebextensions
            } else {
                EbExtensions::default()
            };
            let (settings, _) = resolve(Some(env), &ext).unwrap();
            documents.push(document(
                Target {
                    application: env.application.clone(),
                    environment: env.name.clone(),
                    deployment_id: 7,
                    python: env.platform.python_version.clone(),
                    port: env.instance.port,
                    listen_address: Some("127.0.0.1".into()),
                    health_check: HealthCheck {
                        path: env.load_balancer.health_check.path.clone(),
                        matcher: env.load_balancer.health_check.matcher.clone(),
                        timeout_secs: 60,
                        threshold: Default::default(),
                    },
                },
                VersionRef {
                    label: "v7".into(),
                    sha256: "ab".repeat(32),
                    source: "s3://bucket/app/versions/v7.zip".into(),
                },
                &settings,
                &ext,
            ));
        }
    }
    documents
}

#[test]
fn every_document_beanpole_writes_validates_and_a_renamed_field_does_not() {
    let schema = schema("document.schema.json");
    let mut documents = example_documents();
    // A property given by reference, with the KMS key that encrypts it.
    let mut with_secret = documents[0].clone();
    with_secret.secrets.insert(
        "DB_PASSWORD".into(),
        beanpole::model::SecretRef {
            store: "secretsmanager".into(),
            id: "arn:aws:secretsmanager:us-east-2:123456789012:secret:db-AbCdEf".into(),
            kms_key: Some("arn:aws:kms:us-east-2:123456789012:key/1234".into()),
        },
    );
    documents.push(with_secret);
    assert!(documents.len() >= 8, "{} documents", documents.len());
    let mut carried = (false, false, false);
    for doc in &documents {
        let value = serde_json::to_value(doc).unwrap();
        assert_eq!(validate(&value, &schema), Vec::<String>::new(), "{value:#}");
        carried.0 |= !doc.container_commands.is_empty();
        carried.1 |= !doc.secrets.is_empty();
        carried.2 |= !doc.static_files.is_empty();
    }
    assert_eq!(
        carried,
        (true, true, true),
        "the examples' documents carry container commands, secrets and static files"
    );
    let mut renamed = serde_json::to_value(&documents[0]).unwrap();
    let port = renamed["upstream_port"].take();
    renamed.as_object_mut().unwrap().remove("upstream_port");
    renamed["upstream"] = port;
    let found = validate(&renamed, &schema);
    assert!(
        found.contains(&"$: upstream_port is missing".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"$: upstream is not in the schema".to_string()),
        "{found:?}"
    );
}

#[test]
fn a_report_the_engine_writes_validates_and_beanpole_reads_it() {
    let schema = schema("report.schema.json");
    let dir = TempDir::new("schema-report");
    let engine = LocalEngine::install(&dir.path().join("engine")).unwrap();
    // A document whose bundle is not there: the engine stops at its first step and reports.
    let mut doc = example_documents().remove(0);
    doc.version.source = dir.path().join("missing.zip").display().to_string();
    let path = dir.path().join("document.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let root = dir.path().join("root");
    let report = engine
        .deploy(&EngineDeploy {
            root: &root,
            document: &path,
            leader: true,
            instance_id: Some("i-schema"),
            env: &[],
        })
        .unwrap();
    assert_eq!(report.failed_step.as_deref(), Some("FetchVersion"));
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/beanpole/reports/latest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        validate(&written, &schema),
        Vec::<String>::new(),
        "{written:#}"
    );
    // What Beanpole's type of it writes back validates too.
    let ours = serde_json::to_value(serde_json::from_value::<Report>(written).unwrap()).unwrap();
    assert_eq!(validate(&ours, &schema), Vec::<String>::new(), "{ours:#}");
    let mut renamed = ours.clone();
    renamed["tail"] = renamed["output_tail"].take();
    renamed.as_object_mut().unwrap().remove("output_tail");
    assert!(!validate(&renamed, &schema).is_empty());
}
