//! The `application` block, and what every block reader shares: application references, tags,
//! nested blocks.

use super::*;

impl<'f> Compiler<'f> {
    pub(super) fn eval_application(
        &mut self,
        decl: &Decl,
        unit: &Unit,
        symbols: &Symbols,
    ) -> Binding {
        let Some(block) = decl.block else {
            return Binding::Failed;
        };
        let mut diagnostics = Vec::new();
        let reader = BlockReader::new(
            decl.file,
            &block.body,
            format!("application `{}`", decl.name),
            decl.header.clone(),
            &[
                "name",
                "region",
                "domain",
                "source",
                "tags",
                "description",
                "engine",
            ],
            &["resource"],
            &mut diagnostics,
        );
        self.diagnostics.append(&mut diagnostics);
        let mut ev = self.evaluator(symbols, decl.file, unit);
        let stack = format!("{}application.{}.resources", unit.prefix, decl.name);
        let resources = read_resources(decl.file, &reader.blocks("resource"), &stack, &mut ev);
        let explicit_name = reader.string(&mut ev, "name");
        let name_failed = reader.has("name") && explicit_name.is_none();
        let (name, name_span) =
            explicit_name.unwrap_or_else(|| (decl.name.clone(), decl.header.clone()));
        let name_ok = !name_failed
            && reader.check(
                &mut ev,
                "application name",
                &name,
                &name_span,
                checks::application_name(&name),
            );
        let region = reader.string(&mut ev, "region");
        if let Some((r, span)) = &region {
            reader.check(&mut ev, "region", r, span, checks::region(r));
        }
        let domain = reader.string(&mut ev, "domain");
        if let Some((d, span)) = &domain {
            reader.check(&mut ev, "domain", d, span, checks::domain(d));
        }
        let source = reader.string(&mut ev, "source");
        if let Some((folder, span)) = &source {
            reader.check(
                &mut ev,
                "source folder",
                folder,
                span,
                checks::source_folder(folder),
            );
        }
        let tags = read_tags(&reader, &mut ev);
        reader.string(&mut ev, "description");
        let engine = match reader.string(&mut ev, "engine") {
            None => Engine::Direct,
            Some((e, span)) => match e.as_str() {
                "direct" => Engine::Direct,
                "cloudformation" => Engine::CloudFormation,
                _ => {
                    reader.check(
                        &mut ev,
                        "engine",
                        &e,
                        &span,
                        Err("`direct` (Beanpole's own calls, the default) or `cloudformation` (one CloudFormation stack per environment)".into()),
                    );
                    Engine::Direct
                }
            },
        };
        let Some((resources, bound_resources)) = resources else {
            return Binding::Failed;
        };
        if reader.failed() || !name_ok {
            return Binding::Failed;
        }
        // Relative to the folder of the file that declares the application (a shipped module
        // has no folder: then relative to where Beanpole runs); `app` when not given.
        let folder = source
            .map(|(s, _)| PathBuf::from(s))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOURCE));
        let source = match &unit.base_dir {
            Some(base) if folder.is_relative() => base.join(folder),
            _ => folder,
        };
        let domain = domain.map(|(d, _)| d.trim_end_matches('.').to_lowercase());
        let region = region.map(|(r, _)| r);
        let mut object = BTreeMap::new();
        object.insert("name".to_string(), Value::String(name.clone()));
        object.insert(
            "region".to_string(),
            region.clone().map(Value::String).unwrap_or(Value::Null),
        );
        object.insert(
            "domain".to_string(),
            domain.clone().map(Value::String).unwrap_or(Value::Null),
        );
        object.insert(
            "tags".to_string(),
            Value::Object(
                tags.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        object.insert("resource".to_string(), bound_resources);
        object.insert(
            "engine".to_string(),
            Value::String(
                match engine {
                    Engine::Direct => "direct",
                    Engine::CloudFormation => "cloudformation",
                }
                .into(),
            ),
        );
        self.application_sites.push((name.clone(), name_span));
        self.spec.applications.push(Application {
            name,
            label: decl.name.clone(),
            module_prefix: unit.prefix.clone(),
            region,
            domain,
            source,
            tags,
            resources,
            engine,
        });
        Binding::Value(Value::Object(object))
    }
}

/// `application = application.NAME` (or the application's name as a string).
pub(super) fn read_application_ref(
    reader: &BlockReader,
    ev: &mut Evaluator,
) -> Option<(String, Span)> {
    let (value, span) =
        reader.required_value(ev, "application", "add `application = application.NAME`")?;
    match value {
        Value::String(name) => Some((name, span)),
        Value::Object(map) => match map.get("name") {
            Some(Value::String(name)) => Some((name.clone(), span)),
            _ => {
                reader.mark_failed();
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::WrongType {
                            name: "application".into(),
                            expected: "a reference to an application".into(),
                            found: "map".into(),
                        },
                        span,
                    )
                    .with_hint("write `application = application.NAME`"),
                );
                None
            }
        },
        other => {
            reader.mark_failed();
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::WrongType {
                        name: "application".into(),
                        expected: "a reference to an application".into(),
                        found: other.describe(),
                    },
                    span,
                )
                .with_hint("write `application = application.NAME`"),
            );
            None
        }
    }
}

pub(super) fn read_tags(reader: &BlockReader, ev: &mut Evaluator) -> BTreeMap<String, String> {
    let Some((tags, _)) = reader.string_map(ev, "tags") else {
        return BTreeMap::new();
    };

    for (key, value) in &tags {
        let at = reader.map_key_span("tags", key);
        reader.check(ev, "tag key", key, &at, checks::tag_key(key));
        reader.check(ev, "tag value", value, &at, checks::tag_value(value));
    }
    tags
}

pub(super) fn sub_reader<'b>(
    file: FileId,
    block: &'b Block,
    name: &str,
    attrs: &[&str],
    blocks: &[&str],
    ev: &mut Evaluator,
) -> BlockReader<'b> {
    BlockReader::new(
        file,
        &block.body,
        format!("`{name}` block"),
        header_span(file, block),
        attrs,
        blocks,
        ev.diagnostics,
    )
}
