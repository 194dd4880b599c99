//! The `environment` block: its attributes with Elastic Beanstalk's defaults and its nested
//! blocks (each read by its own file), properties checked to be one line each.

use super::*;

impl<'f> Compiler<'f> {
    pub(super) fn eval_environment(
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
            format!("environment `{}`", decl.name),
            decl.header.clone(),
            &[
                "name",
                "application",
                "tier",
                "cname",
                "platform",
                "proxy",
                "properties",
                "static_files",
                "tags",
                "description",
            ],
            &[
                "wsgi",
                "deployment",
                "instance",
                "capacity",
                "load_balancer",
                "network",
                "permissions",
                "resource",
                "worker",
            ],
            &mut diagnostics,
        );
        let instance_block = reader.single_block("instance", &mut diagnostics);
        let capacity_block = reader.single_block("capacity", &mut diagnostics);
        let lb_block = reader.single_block("load_balancer", &mut diagnostics);
        let network_block = reader.single_block("network", &mut diagnostics);
        let permissions_block = reader.single_block("permissions", &mut diagnostics);
        let wsgi_block = reader.single_block("wsgi", &mut diagnostics);
        let deployment_block = reader.single_block("deployment", &mut diagnostics);
        let worker_block = reader.single_block("worker", &mut diagnostics);
        self.diagnostics.append(&mut diagnostics);

        let mut ev = self.evaluator(symbols, decl.file, unit);
        let explicit_name = reader.string(&mut ev, "name");
        let name_failed = reader.has("name") && explicit_name.is_none();
        let (name, name_span) =
            explicit_name.unwrap_or_else(|| (decl.name.clone(), decl.header.clone()));
        let name_ok = !name_failed
            && reader.check(
                &mut ev,
                "environment name",
                &name,
                &name_span,
                checks::environment_name(&name),
            );
        let application = read_application_ref(&reader, &mut ev);
        let (tier, tier_ok) = match reader.string(&mut ev, "tier") {
            None => (Tier::Web, true),
            Some((tier, span)) => match tier.as_str() {
                "web" | "WebServer" => (Tier::Web, true),
                "worker" | "Worker" => (Tier::Worker, true),
                other => {
                    reader.mark_failed();
                    let hint = suggest(other, &["web", "worker"]);
                    ev.diagnostics.push(
                        Diagnostic::new(
                            SpecError::UnknownTier {
                                name: other.to_string(),
                            },
                            span,
                        )
                        .with_hint(hint),
                    );
                    (Tier::Web, false)
                }
            },
        };
        let mut tier_ok = tier_ok;
        if tier == Tier::Worker {
            // What only a load-balanced, named environment has, located.
            let web_only = [
                ("cname", reader.attribute("cname").map(|a| a.value.span())),
                ("load_balancer", lb_block.map(|b| b.ident.span())),
            ];
            for (setting, at) in web_only {
                let Some(range) = at else { continue };
                tier_ok = false;
                ev.diagnostics.push(
                    Diagnostic::new(
                        SpecError::WebOnly {
                            setting: format!("`{setting}`"),
                        },
                        Span::new(decl.file, range.unwrap_or(0..0)),
                    )
                    .with_hint(format!("remove `{setting}` from this worker environment, or make it `tier = \"web\"`")),
                );
            }
        } else if let Some(block) = worker_block {
            tier_ok = false;
            ev.diagnostics.push(
                Diagnostic::new(
                    SpecError::WorkerOnly {
                        setting: "the `worker` block".into(),
                    },
                    Span::new(decl.file, block.ident.span().unwrap_or(0..0)),
                )
                .with_hint("add `tier = \"worker\"` to make this a worker environment, or remove the block"),
            );
        }
        let cname = reader.string(&mut ev, "cname");
        if let Some((c, span)) = &cname {
            reader.check(&mut ev, "CNAME", c, span, checks::cname_label(c));
        }
        let platform = match reader.required_string(
            &mut ev,
            "platform",
            "add `platform = \"python-3.12\"` (python-3.9, python-3.11, python-3.12 or python-3.13)",
        ) {
            None => None,
            Some((p, span)) => match Platform::parse(&p) {
                Some(platform) => Some(platform),
                None => {
                    reader.mark_failed();
                    let hint = if p == "python-3.10" {
                        format!(
                            "Amazon Linux 2023 packages no Python 3.10, so Elastic Beanstalk has no such branch: use python-3.11 (the branches: {})",
                            PLATFORMS.join(", ")
                        )
                    } else {
                        did_you_mean(&p, PLATFORMS.iter().copied()).unwrap_or_else(|| {
                            format!("supported platforms: {}", PLATFORMS.join(", "))
                        })
                    };
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::UnknownPlatform { name: p }, span)
                            .with_hint(hint),
                    );
                    None
                }
            },
        };
        let proxy_in_spec = reader.has("proxy");
        let proxy = match reader.string(&mut ev, "proxy") {
            None => Some(Proxy::Nginx),
            Some((p, span)) => match Proxy::parse(&p) {
                Some(proxy) => Some(proxy),
                None => {
                    reader.mark_failed();
                    let hint = suggest(&p, PROXIES);
                    ev.diagnostics.push(
                        Diagnostic::new(SpecError::UnknownProxy { name: p }, span).with_hint(hint),
                    );
                    None
                }
            },
        };
        let stack = format!("{}environment.{}.resources", unit.prefix, decl.name);
        let resources = read_resources(decl.file, &reader.blocks("resource"), &stack, &mut ev);
        if let Some((_, bound)) = &resources {
            ev.bind("resource", bound.clone());
        }
        let read = reader.string_or_reference_map(&mut ev, "properties");
        let (properties, references) = match read {
            Some((strings, references, span)) => (Some((strings, span)), references),
            None => (None, BTreeMap::new()),
        };
        // A property given by reference (a secret, a stack's output): its name is checked
        // here, as the plain ones' below.
        for name in references.keys() {
            let at = reader.map_key_span("properties", name);
            reader.check(
                &mut ev,
                "property name",
                &name.escape_debug().to_string(),
                &at,
                checks::property_name(name),
            );
        }
        let (outputs, secrets): (BTreeMap<_, _>, BTreeMap<_, _>) = references
            .into_iter()
            .partition(|(_, fields)| output_ref(fields).is_some());
        let resource_properties: BTreeMap<String, OutputRef> = outputs
            .into_iter()
            .filter_map(|(name, fields)| Some((name, output_ref(&fields)?)))
            .collect();
        let secrets: BTreeMap<String, SecretRef> = secrets
            .into_iter()
            .map(|(name, fields)| {
                let get = |f: &str| fields.get(f).cloned();
                (
                    name,
                    SecretRef {
                        store: get(crate::spec::functions::REFERENCE_KEY).unwrap_or_default(),
                        id: get("id").unwrap_or_default(),
                        kms_key: get("kms_key"),
                    },
                )
            })
            .collect();
        if let Some((props, _)) = &properties {
            // A secret given as plain text is visible to anyone who reads the spec, the plan
            // or the launch template: say so.
            for key in props.keys().filter(|k| checks::looks_secret(k)) {
                ev.warnings.push(
                    Diagnostic::new(
                        SpecError::SecretInPlainText { name: key.clone() },
                        reader.map_value_span("properties", key),
                    )
                    .with_hint(format!(
                        "keep it in Secrets Manager or Parameter Store and write `{key} = secret(\"arn:aws:secretsmanager:…\")` or `{key} = ssm_parameter(\"/…\")`: the instance reads it at deploy time and it appears nowhere else"
                    )),
                );
            }
            for (key, value) in props {
                let at = reader.map_key_span("properties", key);
                reader.check(
                    &mut ev,
                    "property name",
                    &key.escape_debug().to_string(),
                    &at,
                    checks::property_name(key),
                );
                let at = reader.map_value_span("properties", key);
                reader.check(
                    &mut ev,
                    &format!("value of property `{}`", key.escape_debug()),
                    &value.escape_debug().to_string(),
                    &at,
                    checks::property_value(value),
                );
            }
        }
        let static_files = read_static_files(&reader, &mut ev);
        let tags = read_tags(&reader, &mut ev);
        reader.string(&mut ev, "description");

        let file = decl.file;
        let instance = read_instance(file, instance_block, &mut ev);
        let capacity = read_capacity(file, capacity_block, tier, &mut ev);
        let worker = match tier {
            Tier::Worker => read_worker(file, worker_block, &mut ev).map(Some),
            Tier::Web => Some(None),
        };
        let load_balancer = read_load_balancer(file, lb_block, &mut ev);
        let network = read_network(file, network_block, &mut ev);
        let permissions = read_permissions(file, permissions_block, &mut ev);
        let wsgi = read_wsgi(file, wsgi_block, &mut ev);
        let deployment = read_deployment(file, deployment_block, &mut ev);
        let warnings = std::mem::take(&mut ev.warnings);
        drop(ev);
        self.warnings.extend(warnings);

        let Some((mut resources, bound_resources)) = resources else {
            return Binding::Failed;
        };
        let (
            Some((application, application_span)),
            Some(platform),
            Some(proxy),
            Some(instance),
            Some(capacity),
            Some(load_balancer),
            Some(network),
            Some(permissions),
            Some(wsgi),
            Some(deployment),
            Some(worker),
        ) = (
            application,
            platform,
            proxy,
            instance,
            capacity,
            load_balancer,
            network,
            permissions,
            wsgi,
            deployment,
            worker,
        )
        else {
            return Binding::Failed;
        };
        if reader.failed() || !name_ok || !tier_ok {
            return Binding::Failed;
        }
        let (cname, cname_span) = match cname {
            Some((c, span)) => (c, span),
            None => (name.to_lowercase(), name_span.clone()),
        };
        // A worker's queue (unless the spec names one) and leader table live in its stack.
        if let Some(worker) = &worker {
            resources.extend(crate::model::worker::platform_resources(worker));
        }
        self.environment_sites.push(EnvironmentSite {
            name: name.clone(),
            application: application.clone(),
            cname: (tier == Tier::Web).then(|| cname.clone()),
            header: name_span,
            cname_span,
            application_span,
        });
        let mut object = BTreeMap::new();
        object.insert("name".to_string(), Value::String(name.clone()));
        object.insert(
            "application".to_string(),
            Value::String(application.clone()),
        );
        object.insert("cname".to_string(), Value::String(cname.clone()));
        object.insert("platform".to_string(), Value::String(platform.to_string()));
        object.insert("resource".to_string(), bound_resources);
        let address = format!("{}environment.{}", unit.prefix, decl.name);
        for attribute in [
            "url",
            "load_balancer_dns_name",
            "load_balancer_arn",
            "auto_scaling_group_name",
        ] {
            object.insert(
                attribute.to_string(),
                Value::Unknown(format!("{address}.{attribute}")),
            );
        }
        let in_spec = written(&block.body, "")
            .into_iter()
            .map(|(path, range)| {
                let at = self.location(&Span::new(decl.file, range));
                (path, at)
            })
            .collect();
        self.spec.environments.push(Environment {
            name,
            label: decl.name.clone(),
            module_prefix: unit.prefix.clone(),
            application,
            tier,
            cname,
            platform,
            proxy,
            instance,
            capacity,
            load_balancer,
            network,
            permissions,
            properties: properties.map(|(p, _)| p).unwrap_or_default(),
            secrets,
            resource_properties,
            resources,
            proxy_in_spec,
            in_spec,
            wsgi,
            static_files,
            deployment,
            tags,
            worker,
        });
        Binding::Value(Value::Object(object))
    }
}

/// Every attribute written in `body` and its unlabelled blocks, dotted (`capacity.min`), with
/// where it is written.
fn written(
    body: &hcl_edit::structure::Body,
    prefix: &str,
) -> std::collections::BTreeMap<String, std::ops::Range<usize>> {
    use hcl_edit::structure::Structure;
    use hcl_edit::Span as _;
    let mut found = std::collections::BTreeMap::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                found.insert(
                    format!("{prefix}{}", attr.key.as_str()),
                    attr.key.span().unwrap_or(0..0),
                );
            }
            Structure::Block(block) if block.labels.is_empty() => {
                found.extend(written(
                    &block.body,
                    &format!("{prefix}{}.", block.ident.as_str()),
                ));
            }
            Structure::Block(_) => {}
        }
    }
    found
}
