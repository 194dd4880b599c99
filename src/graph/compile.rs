//! Model → resource graph. Each web environment becomes its Beanstalk-equivalent resources;
//! edges come from the references in the attributes (so an edge always means "needs a value of"),
//! plus the one ordering rule that is not a value: a CNAME is written after its ownership record.

use super::names::EnvironmentNames;
use super::{
    parse_reference, reference, Address, Resource, ResourceGraph, ResourceKind, MANAGED_BY_VALUE,
    SHARED_APPLICATION, TAG_ADDRESS, TAG_APPLICATION, TAG_ENVIRONMENT, TAG_MANAGED_BY,
};
use crate::model::platform::{architecture_of, Architecture};
use crate::model::{Application, Environment, Platform, Spec};
use crate::platform::boot::user_data;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// TTL of the CNAME and ownership records: short, so a swap reaches clients quickly.
pub const RECORD_TTL: i64 = 60;
/// Prefix of the ownership TXT record's name (a CNAME cannot share its name with a TXT record).
pub const OWNERSHIP_PREFIX: &str = "_beanpole";

/// Builds the resource graph of a compiled spec.
pub fn compile_graph(spec: &Spec) -> ResourceGraph {
    let mut graph = ResourceGraph::new();
    for application in &spec.applications {
        graph.add(versions_bucket(application));
        if let Some(domain) = &application.domain {
            graph.add(Resource {
                address: Address(format!("{}.hosted_zone", application.address())),
                kind: ResourceKind::HostedZone,
                aws_name: format!("{domain}."),
                application: application.name.clone(),
                environment: None,
                attributes: BTreeMap::from([("domain".to_string(), json!(domain))]),
                tags: BTreeMap::new(),
            });
        }
    }
    super::stacks::add_stacks(&mut graph, spec);
    for environment in &spec.environments {
        let Some(application) = spec.application(&environment.application) else {
            continue;
        };
        add_environment(&mut graph, application, environment);
    }
    let mut edges = Vec::new();
    for resource in graph.resources() {
        for value in resource.attributes.values() {
            collect_references(value, &mut |target| {
                edges.push((resource.address.clone(), target))
            });
        }
    }
    for (from, to) in edges {
        graph.depend(&from, &to);
    }
    graph
}

/// AWS's partition of the application's region (`aws` when the region is not in the spec).
fn partition(application: &Application) -> &'static str {
    match application.region.as_deref() {
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        Some(r) if r.starts_with("cn-") => "aws-cn",
        _ => "aws",
    }
}

/// What the platform needs on an instance, and no more: read its application's versions and
/// the engine, write its environment's reports and logs, find its own group, read the
/// secrets its properties name. (Run Command itself comes with
/// `AmazonSSMManagedInstanceCore`.) The bucket's name is bound with the account.
fn platform_statements(application: &Application, env: &Environment) -> Vec<Value> {
    let bucket = format!(
        "arn:{}:s3:::{}",
        partition(application),
        crate::platform::boot::BUCKET_PLACEHOLDER
    );
    let mut statements = vec![
        json!({
            "Sid": "BeanpoleReadVersionsAndEngine",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [
                format!("{bucket}/{}/*", application.name),
                format!("{bucket}/_beanpole/engine/*"),
            ],
        }),
        json!({
            "Sid": "BeanpoleWriteReportsAndLogs",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [format!("{bucket}/{}/environments/{}/*", application.name, env.name)],
        }),
        // At boot: which group launched the instance (a deployment's temporary group boots
        // the new version). The action has no resource-level permissions.
        json!({
            "Sid": "BeanpoleFindOwnGroup",
            "Effect": "Allow",
            "Action": ["autoscaling:DescribeAutoScalingInstances"],
            "Resource": "*",
        }),
    ];
    statements.extend(secret_statements(application, env));
    statements.extend(worker_statements(application, env));
    statements
}

/// A worker's daemon: EB's worker role's access, on exactly its queue (and dead-letter queue)
/// and its leader table. Beanpole's are its stack's outputs (references, so the role follows
/// the stack); the user's queue is named by the ARN of its URL.
fn worker_statements(application: &Application, env: &Environment) -> Vec<Value> {
    let (Some(worker), Some(values)) = (&env.worker, env.worker_values()) else {
        return Vec::new();
    };
    let output =
        |r: &crate::model::OutputRef| reference(&Address(r.stack.clone()), &r.output_key());
    let queues: Vec<Value> = match (&values.queue, &worker.queue_url) {
        (Some([_, arn, _, _, dead_letter_arn]), _) => vec![output(arn), output(dead_letter_arn)],
        (None, Some(url)) => crate::model::worker::queue_arn(url, partition(application))
            .map(|arn| vec![json!(arn)])
            .unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    vec![
        json!({
            "Sid": "BeanpoleWorkerQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
            ],
            "Resource": queues,
        }),
        json!({
            "Sid": "BeanpoleWorkerLeaderTable",
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
            ],
            "Resource": [output(&values.leader_table[1])],
        }),
    ]
}

/// Read access to exactly the secrets the environment's properties name (and decryption with
/// the keys given for them): nothing when it names none.
fn secret_statements(application: &Application, env: &Environment) -> Vec<Value> {
    let partition = partition(application);
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    let mut parameters: BTreeSet<String> = BTreeSet::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for reference in env.secrets.values() {
        match reference.store.as_str() {
            crate::spec::functions::SSM_PARAMETER => {
                let name = reference.id.trim_start_matches('/');
                parameters.insert(format!(
                    "arn:{partition}:ssm:{}:{}:parameter/{name}",
                    application
                        .region
                        .clone()
                        .unwrap_or_else(|| super::REGION_PLACEHOLDER.to_string()),
                    super::ACCOUNT_PLACEHOLDER
                ));
            }
            _ => {
                secrets.insert(reference.id.clone());
                // A secret's full ARN ends in `-` and six characters; one given without them
                // matches the secret's full ARN only with the wildcard (as AWS documents).
                if !has_secret_suffix(&reference.id) {
                    secrets.insert(format!("{}-??????", reference.id));
                }
            }
        }
        keys.extend(reference.kms_key.iter().cloned());
    }
    let mut statements = Vec::new();
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "BeanpoleReadSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secrets,
        }));
    }
    if !parameters.is_empty() {
        statements.push(json!({
            "Sid": "BeanpoleReadParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": parameters,
        }));
    }
    if !keys.is_empty() {
        statements.push(json!({
            "Sid": "BeanpoleDecryptSecrets",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": keys,
        }));
    }
    statements
}

/// Whether a secret's ARN ends in the `-XXXXXX` Secrets Manager appends to its name.
fn has_secret_suffix(arn: &str) -> bool {
    arn.rsplit_once('-')
        .is_some_and(|(_, tail)| tail.len() == 6 && tail.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The application's node for the account's versions bucket. Every application of a region
/// has one, all naming the same shared bucket: its tags say Beanpole and nothing about an
/// application, so that whichever applies first makes it and the others find it theirs.
fn versions_bucket(application: &Application) -> Resource {
    let tags = BTreeMap::from([
        (TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (TAG_APPLICATION.to_string(), SHARED_APPLICATION.to_string()),
        (TAG_ADDRESS.to_string(), "versions_bucket".to_string()),
    ]);
    Resource {
        address: Address(format!("{}.versions_bucket", application.address())),
        kind: ResourceKind::VersionsBucket,
        aws_name: super::kinds::versions_bucket::NAME_PATTERN.to_string(),
        application: application.name.clone(),
        environment: None,
        attributes: BTreeMap::from([
            ("block_public_access".to_string(), json!(true)),
            (
                "encryption".to_string(),
                json!(super::kinds::versions_bucket::ENCRYPTION),
            ),
            (
                "engine".to_string(),
                json!(crate::platform::engine_digest()),
            ),
        ]),
        tags,
    }
}

pub(super) fn collect_references(value: &Value, found: &mut impl FnMut(Address)) {
    if let Some((address, _)) = parse_reference(value) {
        found(address);
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

struct EnvironmentBuilder<'a> {
    application: &'a Application,
    environment: &'a Environment,
    prefix: String,
    names: EnvironmentNames,
}

impl EnvironmentBuilder<'_> {
    fn address(&self, part: &str) -> Address {
        Address(format!("{}.{part}", self.prefix))
    }

    fn resource(
        &self,
        part: &str,
        kind: ResourceKind,
        aws_name: String,
        attributes: Value,
    ) -> Resource {
        let address = self.address(part);
        let mut tags = BTreeMap::new();
        // Records and scaling policies cannot carry tags: a DNS record's owner is its TXT
        // marker, a policy's is its group (the kind's schema says which).
        if kind.schema().tagged && !kind.is_data() {
            tags.extend(self.application.tags.clone());
            tags.extend(self.environment.tags.clone());
            tags.entry("Name".to_string())
                .or_insert_with(|| aws_name.clone());
            tags.insert(TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
            tags.insert(TAG_APPLICATION.to_string(), self.application.name.clone());
            tags.insert(TAG_ENVIRONMENT.to_string(), self.environment.name.clone());
            tags.insert(TAG_ADDRESS.to_string(), address.0.clone());
        }
        let attributes = match attributes {
            Value::Object(map) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        Resource {
            address,
            kind,
            aws_name,
            application: self.application.name.clone(),
            environment: Some(self.environment.name.clone()),
            attributes,
            tags,
        }
    }
}

fn add_environment(
    graph: &mut ResourceGraph,
    application: &Application,
    environment: &Environment,
) {
    let b = EnvironmentBuilder {
        application,
        environment,
        prefix: environment.address(),
        names: EnvironmentNames::new(&application.name, &environment.name),
    };
    let env = environment;
    let network = b.address("network");
    let lb_sg = b.address("load_balancer_security_group");
    let instance_sg = b.address("instance_security_group");
    let role = b.address("instance_role");
    let profile = b.address("instance_profile");
    let image = b.address("platform_image");
    let template = b.address("launch_template");
    let target_group = b.address("target_group");
    let load_balancer = b.address("load_balancer");
    let asg = b.address("auto_scaling_group");

    let (vpc, subnets) = match &env.network {
        Some(n) => (json!(n.vpc_id), json!(n.subnets)),
        None => (json!("default"), json!("default")),
    };
    graph.add(
        b.resource(
            "network",
            ResourceKind::Network,
            env.network
                .as_ref()
                .map(|n| n.vpc_id.clone())
                .unwrap_or_else(|| "default VPC".to_string()),
            json!({ "vpc": vpc, "subnets": subnets }),
        ),
    );

    if env.is_worker() {
        // EB's worker: no load balancer, nothing reaches the instances.
        graph.add(b.resource(
            "instance_security_group",
            ResourceKind::SecurityGroup,
            b.names.instance_security_group(),
            json!({
                "description": format!("Beanpole {}: instances of worker {}", application.name, env.name),
                "vpc_id": reference(&network, "vpc_id"),
                "ingress": [],
            }),
        ));
    } else {
        let mut lb_ingress = Vec::new();
        let mut lb_ports = vec![80];
        if env.load_balancer.https.is_some() {
            lb_ports.push(443);
        }
        for port in lb_ports {
            for cidr in &env.load_balancer.allowed_cidrs {
                lb_ingress.push(
                    json!({ "protocol": "tcp", "from_port": port, "to_port": port, "cidr": cidr }),
                );
            }
        }
        graph.add(b.resource(
            "load_balancer_security_group",
            ResourceKind::SecurityGroup,
            b.names.load_balancer_security_group(),
            json!({
                "description": format!("Beanpole {}: load balancer of {}", application.name, env.name),
                "vpc_id": reference(&network, "vpc_id"),
                "ingress": lb_ingress,
            }),
        ));
        graph.add(b.resource(
            "instance_security_group",
            ResourceKind::SecurityGroup,
            b.names.instance_security_group(),
            json!({
                "description": format!("Beanpole {}: instances of {}, reachable only from its load balancer", application.name, env.name),
                "vpc_id": reference(&network, "vpc_id"),
                "ingress": [{
                    "protocol": "tcp",
                    "from_port": env.instance.port,
                    "to_port": env.instance.port,
                    "source_security_group_id": reference(&lb_sg, "id"),
                }],
            }),
        ));
    }

    let mut statements: Vec<Value> = env
        .permissions
        .statements
        .iter()
        .map(|s| {
            // An extra resource's ARN is its stack's output: a reference, so the role
            // follows the stack.
            let mut resources: Vec<Value> = s.resources.iter().map(|r| json!(r)).collect();
            resources.extend(
                s.resource_refs
                    .iter()
                    .map(|r| reference(&Address(r.stack.clone()), &r.output_key())),
            );
            let mut statement = json!({
                "Effect": s.effect,
                "Action": s.actions,
                "Resource": resources,
            });
            if let (Some(sid), Some(map)) = (&s.sid, statement.as_object_mut()) {
                map.insert("Sid".to_string(), json!(sid));
            }
            statement
        })
        .collect();
    statements.extend(platform_statements(b.application, env));
    let inline_policy = json!({
        "Version": "2012-10-17",
        "Statement": statements,
    });
    let mut managed_policy_arns = env.permissions.managed_policies.clone();
    let ssm_core = format!(
        "arn:{}:iam::aws:policy/AmazonSSMManagedInstanceCore",
        partition(b.application)
    );
    if !managed_policy_arns.contains(&ssm_core) {
        managed_policy_arns.push(ssm_core);
    }
    graph.add(b.resource(
        "instance_role",
        ResourceKind::IamRole,
        b.names.instance_role(),
        json!({
            "assume_role_policy": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "ec2.amazonaws.com" },
                    "Action": "sts:AssumeRole",
                }],
            },
            "inline_policy": inline_policy,
            "managed_policy_arns": managed_policy_arns,
        }),
    ));
    graph.add(b.resource(
        "instance_profile",
        ResourceKind::InstanceProfile,
        b.names.instance_profile(),
        json!({ "role": reference(&role, "name") }),
    ));

    let image_id = match &env.instance.ami {
        Some(ami) => json!(ami),
        None => {
            let architecture = architecture_of(&env.instance.instance_type);
            let parameter = Platform::ami_parameter(architecture);
            graph.add(b.resource(
                "platform_image",
                ResourceKind::PlatformImage,
                parameter.to_string(),
                json!({
                    "ssm_parameter": parameter,
                    "architecture": match architecture { Architecture::X86_64 => "x86_64", Architecture::Arm64 => "arm64" },
                }),
            ));
            reference(&image, "image_id")
        }
    };
    graph.add(b.resource(
        "launch_template",
        ResourceKind::LaunchTemplate,
        b.names.launch_template(),
        json!({
            "image_id": image_id,
            "instance_type": env.instance.instance_type,
            "key_name": env.instance.key_name,
            "iam_instance_profile_arn": reference(&profile, "arn"),
            "security_group_ids": [reference(&instance_sg, "id")],
            "http_tokens": "required",
            "user_data": user_data(&b.application.name, env),
        }),
    ));

    if !env.is_worker() {
        let hc = &env.load_balancer.health_check;
        graph.add(b.resource(
            "target_group",
            ResourceKind::TargetGroup,
            b.names.target_group(env.instance.port, "HTTP"),
            json!({
                "vpc_id": reference(&network, "vpc_id"),
                "port": env.instance.port,
                "protocol": "HTTP",
                "target_type": "instance",
                "health_check": {
                    "path": hc.path,
                    "interval": hc.interval,
                    "timeout": hc.timeout,
                    "healthy_threshold": hc.healthy_threshold,
                    "unhealthy_threshold": hc.unhealthy_threshold,
                    "matcher": hc.matcher,
                },
            }),
        ));
        graph.add(b.resource(
            "load_balancer",
            ResourceKind::LoadBalancer,
            b.names.load_balancer(),
            json!({
                "scheme": if env.load_balancer.internal { "internal" } else { "internet-facing" },
                "subnet_ids": reference(&network, "subnet_ids"),
                "security_group_ids": [reference(&lb_sg, "id")],
                "idle_timeout": env.load_balancer.idle_timeout,
            }),
        ));

        let forward =
            json!({ "type": "forward", "target_group_arn": reference(&target_group, "arn") });
        let http_action = match &env.load_balancer.https {
            Some(https) if https.redirect_http => {
                json!({ "type": "redirect", "protocol": "HTTPS", "port": 443, "status_code": "HTTP_301" })
            }
            _ => forward.clone(),
        };
        graph.add(b.resource(
            "http_listener",
            ResourceKind::Listener,
            format!("{}:80", b.names.load_balancer()),
            json!({
                "load_balancer_arn": reference(&load_balancer, "arn"),
                "port": 80,
                "protocol": "HTTP",
                "default_action": http_action,
            }),
        ));
        if let Some(https) = &env.load_balancer.https {
            graph.add(b.resource(
                "https_listener",
                ResourceKind::Listener,
                format!("{}:443", b.names.load_balancer()),
                json!({
                    "load_balancer_arn": reference(&load_balancer, "arn"),
                    "port": 443,
                    "protocol": "HTTPS",
                    "certificate_arn": https.certificate_arn,
                    "ssl_policy": https.ssl_policy,
                    "default_action": forward,
                }),
            ));
        }
    }

    let capacity = &env.capacity;
    graph.add(b.resource(
        "auto_scaling_group",
        ResourceKind::AutoScalingGroup,
        b.names.auto_scaling_group(),
        json!({
            "launch_template_id": reference(&template, "id"),
            "launch_template_version": reference(&template, "latest_version"),
            "min_size": capacity.min,
            "max_size": capacity.max,
            "desired_capacity": capacity.desired.unwrap_or(capacity.min),
            "target_group_arns": if env.is_worker() { json!([]) } else { json!([reference(&target_group, "arn")]) },
            // A worker has no load balancer to judge its instances: EC2's status checks.
            "health_check_type": if env.is_worker() { "EC2" } else { "ELB" },
            "health_check_grace_period": 300,
            "subnet_ids": reference(&network, "subnet_ids"),
        }),
    ));
    if let Some(target) = capacity.cpu_target {
        graph.add(b.resource(
            "cpu_scaling_policy",
            ResourceKind::ScalingPolicy,
            b.names.scaling_policy("cpu"),
            json!({
                "auto_scaling_group_name": reference(&asg, "name"),
                "metric": "ASGAverageCPUUtilization",
                "target_value": target,
            }),
        ));
    }
    if let (Some(backlog), Some(values)) = (capacity.backlog_per_instance, env.worker_values()) {
        // Visible messages per in-service instance: the queue's depth over the group's size,
        // by metric math (what AWS's guide to scaling on SQS computes).
        let queue_name = match (
            &values.queue,
            env.worker.as_ref().and_then(|w| w.queue_url.as_deref()),
        ) {
            (Some([_, _, name, _, _]), _) => {
                reference(&Address(name.stack.clone()), &name.output_key())
            }
            (None, Some(url)) => json!(url.rsplit('/').next().unwrap_or_default()),
            (None, None) => json!(null),
        };
        graph.add(b.resource(
            "backlog_scaling_policy",
            ResourceKind::ScalingPolicy,
            b.names.scaling_policy("backlog"),
            json!({
                "auto_scaling_group_name": reference(&asg, "name"),
                "metric": crate::graph::kinds::scaling_policy::BACKLOG_METRIC,
                "target_value": backlog,
                "queue_name": queue_name,
            }),
        ));
    }
    if let Some(requests) = capacity.requests_per_target {
        graph.add(b.resource(
            "request_scaling_policy",
            ResourceKind::ScalingPolicy,
            b.names.scaling_policy("requests"),
            json!({
                "auto_scaling_group_name": reference(&asg, "name"),
                "metric": "ALBRequestCountPerTarget",
                "target_value": requests,
                "load_balancer_arn": reference(&load_balancer, "arn"),
                "target_group_arn": reference(&target_group, "arn"),
            }),
        ));
    }

    if let (false, Some(domain)) = (env.is_worker(), &application.domain) {
        let zone = Address(format!("{}.hosted_zone", application.address()));
        let fqdn = format!("{}.{domain}", env.cname);
        let ownership_name = format!("{OWNERSHIP_PREFIX}.{fqdn}");
        graph.add(b.resource(
            "ownership_record",
            ResourceKind::OwnershipRecord,
            ownership_name.clone(),
            json!({
                "zone_id": reference(&zone, "id"),
                "name": ownership_name,
                "type": "TXT",
                "ttl": RECORD_TTL,
                "value": ownership_marker(&application.name, &env.name),
            }),
        ));
        graph.add(b.resource(
            "cname_record",
            ResourceKind::CnameRecord,
            fqdn.clone(),
            json!({
                "zone_id": reference(&zone, "id"),
                "name": fqdn,
                "type": "CNAME",
                "ttl": RECORD_TTL,
                "value": reference(&load_balancer, "dns_name"),
            }),
        ));
        graph.depend(&b.address("cname_record"), &b.address("ownership_record"));
    }
}

/// The text of an ownership TXT record: which application and environment serve a name.
pub fn ownership_marker(application: &str, environment: &str) -> String {
    format!("\"heritage=beanpole,application={application},environment={environment}\"")
}
