//! An environment as one self-contained CloudFormation template: every node of its graph (and
//! its application's extra resources) as its CloudFormation type, each reference between
//! nodes as `Ref`/`Fn::GetAtt`, the data sources as parameters (the VPC and subnets) or
//! CloudFormation's own lookups (the platform's AMI through its public SSM parameter, the
//! hosted zone by name). Beanpole's resources take Elastic Beanstalk's logical names
//! (`AWSEBAutoScalingGroup`, …), which a spec's resource names cannot start with. Pure.

use super::{parse_reference, Address, Resource, ResourceGraph, ResourceKind};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExportError {
    #[error("no environment `{0}` in the spec")]
    NoSuchEnvironment(String),
    #[error("{address}: {what} has no CloudFormation form here")]
    Unsupported { address: Address, what: String },
    #[error("the resource name `{0}` is declared by both the application and the environment: one template cannot hold both (rename one)")]
    Collision(String),
}

/// The VPC parameter's logical id.
pub const VPC_PARAMETER: &str = "VpcId";
/// The subnets parameter's logical id.
pub const SUBNETS_PARAMETER: &str = "Subnets";
/// The network's output holding its subnets as one comma-separated text (a parameter's value).
pub const SUBNET_LIST: &str = "subnet_list";
/// The AMI parameter's logical id (an SSM parameter name resolved by CloudFormation).
pub const IMAGE_PARAMETER: &str = "ImageId";

/// Elastic Beanstalk's logical name for the part of an environment at `part`.
fn logical_id(part: &str) -> Option<&'static str> {
    Some(match part {
        "load_balancer_security_group" => "AWSEBLoadBalancerSecurityGroup",
        "instance_security_group" => "AWSEBSecurityGroup",
        "instance_role" => "AWSEBInstanceRole",
        "instance_profile" => "AWSEBInstanceProfile",
        "launch_template" => "AWSEBEC2LaunchTemplate",
        "target_group" => "AWSEBV2LoadBalancerTargetGroup",
        "load_balancer" => "AWSEBV2LoadBalancer",
        "http_listener" => "AWSEBV2LoadBalancerListener",
        "https_listener" => "AWSEBV2LoadBalancerListener443",
        "auto_scaling_group" => "AWSEBAutoScalingGroup",
        "cpu_scaling_policy" => "AWSEBCPUScalingPolicy",
        "request_scaling_policy" => "AWSEBRequestScalingPolicy",
        "backlog_scaling_policy" => "AWSEBBacklogScalingPolicy",
        "ownership_record" => "AWSEBOwnershipRecord",
        "cname_record" => "AWSEBRecord",
        _ => return None,
    })
}

/// The part of an address after its environment's (`load_balancer`).
fn part(address: &Address) -> &str {
    address.0.rsplit('.').next().unwrap_or_default()
}

struct Exporter<'g> {
    graph: &'g ResourceGraph,
    parameters: Map<String, Value>,
    resources: Map<String, Value>,
    /// The graph's value of each parameter (a reference, or the default's text).
    values: BTreeMap<String, Value>,
    engine: Option<&'g str>,
    outputs: Map<String, Value>,
}

/// A template, and the value the graph gives each of its parameters.
pub struct Exported {
    pub template: Value,
    pub parameters: BTreeMap<String, Value>,
}

/// The template of `environment`, self-contained: `beanpole export cloudformation`.
pub fn export(graph: &ResourceGraph, environment: &str) -> Result<Value, ExportError> {
    export_with(graph, environment, None).map(|e| e.template)
}

/// The template of `environment` as the CloudFormation engine's stack `stack` holds it: its
/// application's extra resources stay in their own stack (their outputs are parameters), its
/// DNS records stay Beanpole's (a swap moves them), and every resource is tagged with the
/// stack that holds it.
pub fn engine_template(
    graph: &ResourceGraph,
    environment: &str,
    stack: &str,
) -> Result<Exported, ExportError> {
    export_with(graph, environment, Some(stack))
}

fn export_with(
    graph: &ResourceGraph,
    environment: &str,
    engine: Option<&str>,
) -> Result<Exported, ExportError> {
    let nodes: Vec<&Resource> = graph
        .resources()
        .filter(|r| r.environment.as_deref() == Some(environment))
        .collect();
    let Some(first) = nodes.first() else {
        return Err(ExportError::NoSuchEnvironment(environment.to_string()));
    };
    let application = first.application.clone();
    let mut ex = Exporter {
        graph,
        parameters: Map::new(),
        resources: Map::new(),
        values: BTreeMap::new(),
        engine,
        outputs: Map::new(),
    };
    // The application's extra resources, then the environment's, then the web tier.
    let stacks = graph
        .resources()
        .filter(|r| {
            r.kind == ResourceKind::Stack
                && r.application == application
                && (r.environment.as_deref() == Some(environment)
                    || (r.environment.is_none() && engine.is_none()))
        })
        .collect::<Vec<_>>();
    for stack in stacks {
        ex.stack(stack)?;
    }
    for node in nodes.iter().filter(|r| r.kind != ResourceKind::Stack) {
        if engine.is_some() && is_record(node.kind) {
            continue;
        }
        ex.node(node)?;
    }
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert(
        "Description".into(),
        json!(format!(
            "Beanpole environment {environment} of application {application}, exported"
        )),
    );
    if !ex.parameters.is_empty() {
        template.insert("Parameters".into(), Value::Object(ex.parameters));
    }
    let has_load_balancer = ex.resources.contains_key("AWSEBV2LoadBalancer");
    template.insert("Resources".into(), Value::Object(ex.resources));
    let mut outputs = ex.outputs;
    if has_load_balancer {
        outputs.insert(
            DNS_NAME_OUTPUT.into(),
            json!({ "Value": { "Fn::GetAtt": ["AWSEBV2LoadBalancer", "DNSName"] } }),
        );
    }
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Value::Object(outputs));
    }
    Ok(Exported {
        template: Value::Object(template),
        parameters: ex.values,
    })
}

/// The DNS records: Beanpole's own under the CloudFormation engine.
pub fn is_record(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::CnameRecord | ResourceKind::OwnershipRecord
    )
}

/// The output of an engine's stack that holds its load balancer's DNS name.
pub const DNS_NAME_OUTPUT: &str = "LoadBalancerDNSName";

/// The tag on every resource of an engine's stack: the stack that holds it.
pub const TAG_STACK: &str = "beanpole:stack";

impl Exporter<'_> {
    /// A stack's resources, as they are (their names are the spec's, which cannot collide
    /// with Elastic Beanstalk's).
    fn stack(&mut self, stack: &Resource) -> Result<(), ExportError> {
        let resources = stack
            .attributes
            .get("template")
            .and_then(|t| t.get("Resources"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, body) in resources {
            if self.resources.insert(name.clone(), body).is_some() {
                return Err(ExportError::Collision(name));
            }
        }
        // Under the engine, what the spec reads of them is this stack's output.
        if self.engine.is_some() {
            if let Some(outputs) = stack
                .attributes
                .get("template")
                .and_then(|t| t.get("Outputs"))
                .and_then(Value::as_object)
            {
                self.outputs.extend(outputs.clone());
            }
        }
        Ok(())
    }

    /// The CloudFormation form of a reference between nodes.
    fn reference(&mut self, from: &Address, value: &Value) -> Result<Value, ExportError> {
        let Some((address, attribute)) = parse_reference(value) else {
            return Ok(self.plain(value));
        };
        let unsupported = || ExportError::Unsupported {
            address: from.clone(),
            what: format!("the reference to {address}.{attribute}"),
        };
        let target = self.graph.get(&address).ok_or_else(unsupported)?;
        if target.kind == ResourceKind::Stack
            && target.environment.is_none()
            && self.engine.is_some()
        {
            // The application's own stack: its output is a parameter of this one.
            let parameter = format!("App{attribute}");
            self.parameters.insert(
                parameter.clone(),
                json!({ "Type": "String", "Description": format!("Output {attribute} of the application's stack {}", target.aws_name) }),
            );
            self.values.insert(parameter.clone(), value.clone());
            return Ok(json!({ "Ref": parameter }));
        }
        if target.kind == ResourceKind::Stack {
            // The stack's output: its template says how it is read.
            return target
                .attributes
                .get("template")
                .and_then(|t| t.get("Outputs"))
                .and_then(|o| o.get(attribute))
                .and_then(|o| o.get("Value"))
                .cloned()
                .ok_or_else(unsupported);
        }
        let id = logical_id(part(&address));
        Ok(match (target.kind, attribute, id) {
            (ResourceKind::Network, "vpc_id", _) => {
                self.network_parameters(target);
                json!({ "Ref": VPC_PARAMETER })
            }
            (ResourceKind::Network, "subnet_ids", _) => {
                self.network_parameters(target);
                json!({ "Ref": SUBNETS_PARAMETER })
            }
            (ResourceKind::Network, _, _) => return Err(unsupported()),
            (ResourceKind::PlatformImage, "image_id", _) => {
                let parameter = target
                    .attributes
                    .get("ssm_parameter")
                    .cloned()
                    .unwrap_or(Value::Null);
                self.values
                    .insert(IMAGE_PARAMETER.into(), parameter.clone());
                self.parameters.insert(
                    IMAGE_PARAMETER.into(),
                    json!({
                        "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                        "Default": parameter,
                        "Description": "The platform's AMI: Amazon Linux 2023's public SSM parameter",
                    }),
                );
                json!({ "Ref": IMAGE_PARAMETER })
            }
            (ResourceKind::LaunchTemplate, "latest_version", Some(id)) => {
                json!({ "Fn::GetAtt": [id, "LatestVersionNumber"] })
            }
            (ResourceKind::LoadBalancer, "dns_name", Some(id)) => {
                json!({ "Fn::GetAtt": [id, "DNSName"] })
            }
            (ResourceKind::LoadBalancer, "canonical_hosted_zone_id", Some(id)) => {
                json!({ "Fn::GetAtt": [id, "CanonicalHostedZoneID"] })
            }
            (ResourceKind::IamRole | ResourceKind::InstanceProfile, "arn", Some(id)) => {
                json!({ "Fn::GetAtt": [id, "Arn"] })
            }
            (_, "id" | "arn" | "name", Some(id)) => json!({ "Ref": id }),
            _ => return Err(unsupported()),
        })
    }

    /// A value without references: the versions bucket's name (known once the account is)
    /// becomes CloudFormation's own account and region.
    fn plain(&self, value: &Value) -> Value {
        match value {
            Value::String(s)
                if [
                    crate::platform::boot::BUCKET_PLACEHOLDER,
                    super::ACCOUNT_PLACEHOLDER,
                    super::REGION_PLACEHOLDER,
                ]
                .iter()
                .any(|p| s.contains(p)) =>
            {
                json!({ "Fn::Sub": sub_text(s) })
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.plain(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.plain(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Every reference inside `value` in CloudFormation's form.
    fn resolve(&mut self, from: &Address, value: &Value) -> Result<Value, ExportError> {
        if parse_reference(value).is_some() {
            return self.reference(from, value);
        }
        Ok(match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve(from, v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.resolve(from, v)?)))
                    .collect::<Result<_, ExportError>>()?,
            ),
            other => self.plain(other),
        })
    }

    fn network_parameters(&mut self, network: &Resource) {
        let given = |key: &str| {
            network
                .attributes
                .get(key)
                .filter(|v| v.as_str() != Some("default"))
                .cloned()
        };
        let mut vpc = json!({
            "Type": "AWS::EC2::VPC::Id",
            "Description": "The VPC the environment runs in",
        });
        if let (Some(v), Some(map)) = (given("vpc"), vpc.as_object_mut()) {
            map.insert("Default".into(), v);
        }
        let mut subnets = json!({
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Its subnets (the load balancer needs two Availability Zones)",
        });
        if let (Some(Value::Array(list)), Some(map)) = (given("subnets"), subnets.as_object_mut()) {
            let joined: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            map.insert("Default".into(), json!(joined.join(",")));
        }
        self.parameters.insert(VPC_PARAMETER.into(), vpc);
        self.parameters.insert(SUBNETS_PARAMETER.into(), subnets);
        self.values.insert(
            VPC_PARAMETER.into(),
            super::reference(&network.address, "vpc_id"),
        );
        self.values.insert(
            SUBNETS_PARAMETER.into(),
            super::reference(&network.address, SUBNET_LIST),
        );
    }

    fn attr(&mut self, node: &Resource, key: &str) -> Result<Value, ExportError> {
        let value = node.attributes.get(key).cloned().unwrap_or(Value::Null);
        self.resolve(&node.address, &value)
    }

    fn node(&mut self, node: &Resource) -> Result<(), ExportError> {
        if node.kind.is_data() {
            return Ok(());
        }
        let Some(id) = logical_id(part(&node.address)) else {
            return Err(ExportError::Unsupported {
                address: node.address.clone(),
                what: format!("a {}", node.kind),
            });
        };
        let mut tag_map = node.tags.clone();
        if let Some(stack) = self.engine {
            tag_map.insert(TAG_STACK.to_string(), stack.to_string());
        }
        let tags: Vec<Value> = tag_map
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect();
        let name = json!(node.aws_name);
        let a = |ex: &mut Self, key: &str| ex.attr(node, key);
        let (type_name, properties) = match node.kind {
            ResourceKind::SecurityGroup => {
                let ingress = a(self, "ingress")?;
                let rules: Vec<Value> = ingress
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| {
                        let mut rule = json!({
                            "IpProtocol": r["protocol"],
                            "FromPort": r["from_port"],
                            "ToPort": r["to_port"],
                        });
                        if let Some(map) = rule.as_object_mut() {
                            if let Some(cidr) = r.get("cidr") {
                                map.insert("CidrIp".into(), cidr.clone());
                            }
                            if let Some(group) = r.get("source_security_group_id") {
                                map.insert("SourceSecurityGroupId".into(), group.clone());
                            }
                        }
                        rule
                    })
                    .collect();
                (
                    "AWS::EC2::SecurityGroup",
                    json!({
                        "GroupName": name,
                        "GroupDescription": a(self, "description")?,
                        "VpcId": a(self, "vpc_id")?,
                        "SecurityGroupIngress": rules,
                        "Tags": tags,
                    }),
                )
            }
            ResourceKind::IamRole => (
                "AWS::IAM::Role",
                json!({
                    "RoleName": name,
                    "AssumeRolePolicyDocument": a(self, "assume_role_policy")?,
                    "Policies": [{ "PolicyName": "beanpole", "PolicyDocument": a(self, "inline_policy")? }],
                    "ManagedPolicyArns": a(self, "managed_policy_arns")?,
                    "Tags": tags,
                }),
            ),
            ResourceKind::InstanceProfile => (
                "AWS::IAM::InstanceProfile",
                json!({
                    "InstanceProfileName": name,
                    "Roles": [a(self, "role")?],
                }),
            ),
            ResourceKind::LaunchTemplate => {
                let user_data = node
                    .attributes
                    .get("user_data")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let mut data = json!({
                    "ImageId": a(self, "image_id")?,
                    "InstanceType": a(self, "instance_type")?,
                    "IamInstanceProfile": { "Arn": a(self, "iam_instance_profile_arn")? },
                    "SecurityGroupIds": a(self, "security_group_ids")?,
                    "MetadataOptions": { "HttpTokens": a(self, "http_tokens")?, "HttpEndpoint": "enabled" },
                    "UserData": { "Fn::Base64": { "Fn::Sub": sub_text(user_data) } },
                });
                if let (Some(key), Some(map)) = (
                    node.attributes.get("key_name").filter(|k| !k.is_null()),
                    data.as_object_mut(),
                ) {
                    map.insert("KeyName".into(), key.clone());
                }
                (
                    "AWS::EC2::LaunchTemplate",
                    json!({
                        "LaunchTemplateName": name,
                        "LaunchTemplateData": data,
                        "TagSpecifications": [{ "ResourceType": "launch-template", "Tags": tags }],
                    }),
                )
            }
            ResourceKind::TargetGroup => {
                let check = a(self, "health_check")?;
                (
                    "AWS::ElasticLoadBalancingV2::TargetGroup",
                    json!({
                        "Name": name,
                        "Port": a(self, "port")?,
                        "Protocol": a(self, "protocol")?,
                        "TargetType": a(self, "target_type")?,
                        "VpcId": a(self, "vpc_id")?,
                        "HealthCheckPath": check["path"],
                        "HealthCheckIntervalSeconds": check["interval"],
                        "HealthCheckTimeoutSeconds": check["timeout"],
                        "HealthyThresholdCount": check["healthy_threshold"],
                        "UnhealthyThresholdCount": check["unhealthy_threshold"],
                        "Matcher": { "HttpCode": check["matcher"] },
                        "Tags": tags,
                    }),
                )
            }
            ResourceKind::LoadBalancer => (
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                json!({
                    "Name": name,
                    "Type": "application",
                    "Scheme": a(self, "scheme")?,
                    "Subnets": a(self, "subnet_ids")?,
                    "SecurityGroups": a(self, "security_group_ids")?,
                    "LoadBalancerAttributes": [{
                        "Key": "idle_timeout.timeout_seconds",
                        "Value": a(self, "idle_timeout")?.to_string().trim_matches('"'),
                    }],
                    "Tags": tags,
                }),
            ),
            ResourceKind::Listener => {
                let action = a(self, "default_action")?;
                let default_action = match action["type"].as_str() {
                    Some("redirect") => json!({
                        "Type": "redirect",
                        "RedirectConfig": {
                            "Protocol": action["protocol"],
                            "Port": action["port"].to_string().trim_matches('"'),
                            "StatusCode": action["status_code"],
                        },
                    }),
                    _ => json!({ "Type": "forward", "TargetGroupArn": action["target_group_arn"] }),
                };
                let mut properties = json!({
                    "LoadBalancerArn": a(self, "load_balancer_arn")?,
                    "Port": a(self, "port")?,
                    "Protocol": a(self, "protocol")?,
                    "DefaultActions": [default_action],
                });
                if let Some(map) = properties.as_object_mut() {
                    if let Some(cert) = node.attributes.get("certificate_arn") {
                        map.insert("Certificates".into(), json!([{ "CertificateArn": cert }]));
                    }
                    if let Some(policy) = node.attributes.get("ssl_policy") {
                        map.insert("SslPolicy".into(), policy.clone());
                    }
                }
                ("AWS::ElasticLoadBalancingV2::Listener", properties)
            }
            ResourceKind::AutoScalingGroup => (
                "AWS::AutoScaling::AutoScalingGroup",
                json!({
                    "AutoScalingGroupName": name,
                    "LaunchTemplate": {
                        "LaunchTemplateId": a(self, "launch_template_id")?,
                        "Version": a(self, "launch_template_version")?,
                    },
                    "MinSize": a(self, "min_size")?.to_string(),
                    "MaxSize": a(self, "max_size")?.to_string(),
                    "DesiredCapacity": a(self, "desired_capacity")?.to_string(),
                    "VPCZoneIdentifier": a(self, "subnet_ids")?,
                    "TargetGroupARNs": a(self, "target_group_arns")?,
                    "HealthCheckType": a(self, "health_check_type")?,
                    "HealthCheckGracePeriod": a(self, "health_check_grace_period")?,
                    "Tags": tag_map.iter().map(|(k, v)| json!({ "Key": k, "Value": v, "PropagateAtLaunch": true })).collect::<Vec<_>>(),
                }),
            ),
            ResourceKind::ScalingPolicy
                if a(self, "metric")? == json!(super::kinds::scaling_policy::BACKLOG_METRIC) =>
            {
                // A worker's backlog per instance: the queue's visible messages over the
                // group's in-service instances, by metric math.
                let stat = |id: &str,
                            namespace: &str,
                            metric: &str,
                            dimension: &str,
                            value: Value,
                            stat: &str| {
                    json!({
                        "Id": id,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": namespace,
                                "MetricName": metric,
                                "Dimensions": [{ "Name": dimension, "Value": value }],
                            },
                            "Stat": stat,
                        },
                        "ReturnData": false,
                    })
                };
                let group = a(self, "auto_scaling_group_name")?;
                (
                    "AWS::AutoScaling::ScalingPolicy",
                    json!({
                        "AutoScalingGroupName": group.clone(),
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingConfiguration": {
                            "CustomizedMetricSpecification": {
                                "Metrics": [
                                    stat("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", a(self, "queue_name")?, "Sum"),
                                    stat("instances", "AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", group, "Average"),
                                    { "Id": "backlog", "Expression": "visible / instances", "Label": "Visible messages per in-service instance", "ReturnData": true },
                                ],
                            },
                            "TargetValue": a(self, "target_value")?,
                        },
                    }),
                )
            }
            ResourceKind::ScalingPolicy => {
                let metric = a(self, "metric")?;
                let mut specification = json!({ "PredefinedMetricType": metric });
                if metric == json!("ALBRequestCountPerTarget") {
                    // CloudFormation's label: the load balancer's and target group's full names.
                    let lb = logical_id("load_balancer").unwrap_or_default();
                    let tg = logical_id("target_group").unwrap_or_default();
                    if let Some(map) = specification.as_object_mut() {
                        map.insert(
                            "ResourceLabel".into(),
                            json!({ "Fn::Join": ["/", [
                                { "Fn::GetAtt": [lb, "LoadBalancerFullName"] },
                                { "Fn::GetAtt": [tg, "TargetGroupFullName"] },
                            ]] }),
                        );
                    }
                }
                (
                    "AWS::AutoScaling::ScalingPolicy",
                    json!({
                        "AutoScalingGroupName": a(self, "auto_scaling_group_name")?,
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingConfiguration": {
                            "PredefinedMetricSpecification": specification,
                            "TargetValue": a(self, "target_value")?,
                        },
                    }),
                )
            }
            ResourceKind::CnameRecord | ResourceKind::OwnershipRecord => {
                let zone = self.zone_name(node);
                (
                    "AWS::Route53::RecordSet",
                    json!({
                        "HostedZoneName": zone,
                        "Name": a(self, "name")?,
                        "Type": a(self, "type")?,
                        "TTL": a(self, "ttl")?.to_string(),
                        "ResourceRecords": [a(self, "value")?],
                    }),
                )
            }
            ResourceKind::VersionsBucket
            | ResourceKind::Stack
            | ResourceKind::Network
            | ResourceKind::PlatformImage
            | ResourceKind::HostedZone => return Ok(()),
        };
        let mut body = json!({ "Type": type_name, "Properties": properties });
        // A CNAME is written after its ownership record, as apply writes it.
        if node.kind == ResourceKind::CnameRecord {
            if let Some(map) = body.as_object_mut() {
                map.insert("DependsOn".into(), json!(["AWSEBOwnershipRecord"]));
            }
        }
        self.resources.insert(id.to_string(), body);
        Ok(())
    }

    /// The hosted zone's name a record of `node` goes in (`example.com.`).
    fn zone_name(&self, node: &Resource) -> Value {
        let zone = node
            .attributes
            .get("zone_id")
            .and_then(parse_reference)
            .and_then(|(address, _)| self.graph.get(&address).map(|z| z.aws_name.clone()));
        zone.map(Value::String).unwrap_or(Value::Null)
    }
}

/// Text for `Fn::Sub`: its own `${` kept literal (`${!`), the versions bucket's name made of
/// CloudFormation's account and region.
fn sub_text(text: &str) -> String {
    text.replace("${", "${!")
        .replace(
            crate::platform::boot::BUCKET_PLACEHOLDER,
            "beanpole-versions-${AWS::AccountId}-${AWS::Region}",
        )
        .replace(super::ACCOUNT_PLACEHOLDER, "${AWS::AccountId}")
        .replace(super::REGION_PLACEHOLDER, "${AWS::Region}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_text_keeps_the_shell_s_own_expansions() {
        let text = format!(
            "root=\"${{BEANPOLE_ROOT:-}}\" s3://{}/x",
            crate::platform::boot::BUCKET_PLACEHOLDER
        );
        assert_eq!(
            sub_text(&text),
            "root=\"${!BEANPOLE_ROOT:-}\" s3://beanpole-versions-${AWS::AccountId}-${AWS::Region}/x"
        );
    }
}
