//! Elastic Beanstalk's option reference for a Python web environment, and what Beanpole does
//! with each option a version's `.ebextensions` sets: applied (and how it ranks against the
//! spec), held by the spec (infrastructure: a deploy compares the version's value with the
//! environment's, see [`infrastructure`]), or what Beanpole does instead. The docs' options
//! table is made from it. Pure.

use crate::model::Environment;

// The namespaces of the options Beanpole applies.
pub(super) const PYTHON: &str = "aws:elasticbeanstalk:container:python";
pub(super) const PROPERTIES: &str = "aws:elasticbeanstalk:application:environment";
pub(super) const PROXY: &str = "aws:elasticbeanstalk:environment:proxy";
pub(super) const STATIC: &str = "aws:elasticbeanstalk:environment:proxy:staticfiles";
/// EB's namespace for an application's own options (read back with `Fn::GetOptionSetting` and
/// `get-config optionsettings`).
pub const CUSTOM: &str = crate::bundle::cfn::CUSTOM;
pub(super) const COMMAND: &str = "aws:elasticbeanstalk:command";
pub(super) const SPLITTING: &str = "aws:elasticbeanstalk:trafficsplitting";
pub(super) const HEALTH_REPORTING: &str = "aws:elasticbeanstalk:healthreporting:system";

/// Every namespace and option of Elastic Beanstalk's general and Python option reference for a
/// load-balanced Python web environment (`*`: any option name), in the reference's order; the
/// options table of the docs (`docs/src/options.md`) is made from it.
pub const EB_OPTIONS: &[(&str, &[&str])] = &[
    (
        "aws:autoscaling:asg",
        &[
            "Availability Zones",
            "Cooldown",
            "Custom Availability Zones",
            "EnableCapacityRebalancing",
            "MinSize",
            "MaxSize",
        ],
    ),
    (
        "aws:autoscaling:launchconfiguration",
        &[
            "DisableIMDSv1",
            "EC2KeyName",
            "IamInstanceProfile",
            "ImageId",
            "InstanceType",
            "LaunchTemplateTagPropagationEnabled",
            "MonitoringInterval",
            "SecurityGroups",
            "SSHSourceRestriction",
            "BlockDeviceMappings",
            "RootVolumeType",
            "RootVolumeSize",
            "RootVolumeIOPS",
            "RootVolumeThroughput",
        ],
    ),
    (
        "aws:autoscaling:scheduledaction",
        &[
            "StartTime",
            "EndTime",
            "MaxSize",
            "MinSize",
            "DesiredCapacity",
            "Recurrence",
            "Suspend",
        ],
    ),
    (
        "aws:autoscaling:trigger",
        &[
            "BreachDuration",
            "LowerBreachScaleIncrement",
            "LowerThreshold",
            "MeasureName",
            "Period",
            "EvaluationPeriods",
            "Statistic",
            "Unit",
            "UpperBreachScaleIncrement",
            "UpperThreshold",
        ],
    ),
    (
        "aws:autoscaling:updatepolicy:rollingupdate",
        &[
            "MaxBatchSize",
            "MinInstancesInService",
            "RollingUpdateEnabled",
            "RollingUpdateType",
            "PauseTime",
            "Timeout",
        ],
    ),
    (
        "aws:ec2:instances",
        &[
            "EnableSpot",
            "InstanceTypes",
            "SpotFleetOnDemandBase",
            "SpotFleetOnDemandAboveBasePercentage",
            "SpotMaxPrice",
            "SupportedArchitectures",
        ],
    ),
    (
        "aws:ec2:vpc",
        &[
            "VPCId",
            "Subnets",
            "ELBSubnets",
            "ELBScheme",
            "DBSubnets",
            "AssociatePublicIpAddress",
        ],
    ),
    (
        "aws:elasticbeanstalk:application",
        &["Application Healthcheck URL"],
    ),
    (PROPERTIES, &["*"]),
    (
        "aws:elasticbeanstalk:application:environmentsecrets",
        &["*"],
    ),
    (
        "aws:elasticbeanstalk:cloudwatch:logs",
        &["StreamLogs", "DeleteOnTerminate", "RetentionInDays"],
    ),
    (
        "aws:elasticbeanstalk:cloudwatch:logs:health",
        &[
            "HealthStreamingEnabled",
            "DeleteOnTerminate",
            "RetentionInDays",
        ],
    ),
    (
        COMMAND,
        &[
            "DeploymentPolicy",
            "Timeout",
            "BatchSizeType",
            "BatchSize",
            "IgnoreHealthCheck",
        ],
    ),
    (
        "aws:elasticbeanstalk:environment",
        &[
            "EnvironmentType",
            "ServiceRole",
            "LoadBalancerType",
            "LoadBalancerIsShared",
        ],
    ),
    (
        "aws:elasticbeanstalk:environment:process:default",
        &[
            "DeregistrationDelay",
            "HealthCheckInterval",
            "HealthCheckPath",
            "HealthCheckTimeout",
            "HealthyThresholdCount",
            "MatcherHTTPCode",
            "Port",
            "Protocol",
            "StickinessEnabled",
            "StickinessLBCookieDuration",
            "StickinessType",
            "UnhealthyThresholdCount",
        ],
    ),
    (PROXY, &["ProxyServer"]),
    (STATIC, &["*"]),
    (
        HEALTH_REPORTING,
        &[
            "SystemType",
            "ConfigDocument",
            "EnhancedHealthAuthEnabled",
            "HealthCheckSuccessThreshold",
        ],
    ),
    (
        "aws:elasticbeanstalk:hostmanager",
        &["LogPublicationControl"],
    ),
    (
        "aws:elasticbeanstalk:managedactions",
        &[
            "ManagedActionsEnabled",
            "PreferredStartTime",
            "ServiceRoleForManagedUpdates",
        ],
    ),
    (
        "aws:elasticbeanstalk:managedactions:platformupdate",
        &["UpdateLevel", "InstanceRefreshEnabled"],
    ),
    (
        "aws:elasticbeanstalk:monitoring",
        &["Automatically Terminate Unhealthy Instances"],
    ),
    (
        "aws:elasticbeanstalk:sns:topics",
        &[
            "Notification Endpoint",
            "Notification Protocol",
            "Notification Topic ARN",
            "Notification Topic Name",
        ],
    ),
    (SPLITTING, &["NewVersionPercent", "EvaluationTime"]),
    ("aws:elasticbeanstalk:xray", &["XRayEnabled"]),
    (
        "aws:elbv2:listener:default",
        &["DefaultProcess", "ListenerEnabled", "Protocol", "Rules"],
    ),
    (
        "aws:elbv2:listener:443",
        &[
            "DefaultProcess",
            "ListenerEnabled",
            "Protocol",
            "Rules",
            "SSLCertificateArns",
            "SSLPolicy",
        ],
    ),
    (
        "aws:elbv2:listenerrule:*",
        &["HostHeaders", "PathPatterns", "Priority", "Process"],
    ),
    (
        "aws:elbv2:loadbalancer",
        &[
            "AccessLogsS3Bucket",
            "AccessLogsS3Enabled",
            "AccessLogsS3Prefix",
            "IdleTimeout",
            "ManagedSecurityGroup",
            "SecurityGroups",
        ],
    ),
    ("aws:rds:dbinstance", &["*"]),
    (PYTHON, &["WSGIPath", "NumProcesses", "NumThreads"]),
    (CUSTOM, &["*"]),
];

/// What Beanpole does with an option a bundle's `.ebextensions` sets: applies it (and how it
/// ranks against the spec), or what it does instead.
pub fn option_effect(namespace: &str, option: &str) -> String {
    let applied = |what: &str| format!("applied: {what}");
    match (namespace, option) {
        (PROPERTIES, _) => applied("an environment property; the spec's `properties` win"),
        (PYTHON, "WSGIPath") => applied("the spec's `wsgi { path }` wins"),
        (PYTHON, "NumProcesses") => applied("the spec's `wsgi { processes }` wins"),
        (PYTHON, "NumThreads") => applied("the spec's `wsgi { threads }` wins"),
        (PROXY, "ProxyServer") => applied("nginx or apache; the spec's `proxy` wins"),
        (STATIC, _) => applied("a static folder; the spec's `static_files` win"),
        (COMMAND, "DeploymentPolicy") => applied("the spec's `deployment { policy }` wins"),
        (COMMAND, "BatchSize" | "BatchSizeType") => {
            applied("the spec's `deployment { batch_size }` wins")
        }
        (COMMAND, "Timeout") => applied("the spec's `deployment { timeout }` wins"),
        (HEALTH_REPORTING, "HealthCheckSuccessThreshold") => {
            applied("the spec's `deployment { health_threshold }` wins")
        }
        (SPLITTING, "NewVersionPercent") => {
            applied("the spec's `deployment { new_version_percent }` wins")
        }
        (SPLITTING, "EvaluationTime") => {
            applied("minutes; the spec's `deployment { evaluation_time }` wins")
        }
        (CUSTOM, _) => applied("read by `Fn::GetOptionSetting` and `get-config optionsettings`"),
        ("aws:elasticbeanstalk:application:environmentsecrets", _) => {
            "not taken from a bundle: give a secret as `secret(\"arn:…\")` or `ssm_parameter(\"/…\")` in the spec's `properties`".into()
        }
        _ => what_beanpole_does(namespace, option),
    }
}

/// The options table of the docs (`docs/src/options.md`), made from [`EB_OPTIONS`].
pub fn options_table() -> String {
    let mut out = String::from(
        "# Elastic Beanstalk options\n\nEvery namespace and option of Elastic Beanstalk's general and Python option reference for a load-balanced Python web environment, and what Beanpole does with it when a bundle's `.ebextensions` sets it (`bundle`, `deploy`, `versions create` and `local run` print the same text for every option not applied). Precedence is EB's: the spec (EB's settings applied directly to the environment), then the version's `.ebextensions`, then the default. Generated from `platform::options::EB_OPTIONS` (a test keeps it so).\n\n| Namespace | Option | What Beanpole does |\n|---|---|---|\n",
    );
    for (namespace, options) in EB_OPTIONS {
        for option in *options {
            out.push_str(&format!(
                "| `{namespace}` | {} | {} |\n",
                if *option == "*" {
                    "any".to_string()
                } else {
                    format!("`{option}`")
                },
                option_effect(namespace, option).replace('|', "\\|")
            ));
        }
    }
    out
}

/// What Beanpole does instead of an Elastic Beanstalk option it does not take from a bundle:
/// the spec's setting that holds it (the spec owns infrastructure: a version's options never
/// change it), or what Beanpole has instead, or that it has nothing yet.
pub fn what_beanpole_does(namespace: &str, option: &str) -> String {
    let spec = |attribute: &str| {
        format!("the spec holds it (`{attribute}`): at deploy, the environment's own value is in effect, a value the spec sets otherwise is overridden by it, and any other is refused (a deploy never changes infrastructure: set it in the spec and `beanpole apply`)")
    };
    if let Some(path) = spec_setting(namespace, option) {
        return spec(&setting_name(path));
    }
    match (namespace, option) {
        ("aws:autoscaling:launchconfiguration", "IamInstanceProfile") => {
            "Beanpole makes the instance profile: give its role what the application needs with `permissions { … }` in the spec".into()
        }
        ("aws:autoscaling:trigger", _) => {
            "Beanpole scales by target tracking, not by CloudWatch alarms: set `capacity { cpu_target }` or `capacity { requests_per_target }` in the spec and `beanpole apply`; the option has no effect".into()
        }
        ("aws:ec2:instances", "SupportedArchitectures") => {
            "the architecture follows `instance { type }` in the spec (Graviton families get arm64)".into()
        }
        ("aws:rds:dbinstance", _) => {
            "Beanpole makes no database inside an environment (EB's is deleted with it): make it apart and give its address as a property".into()
        }
        ("aws:elasticbeanstalk:environment", "LoadBalancerType") => {
            "Beanpole's environments always have an application load balancer: nothing to set".into()
        }
        ("aws:elasticbeanstalk:environment", "EnvironmentType") => {
            "Beanpole's environments are always load-balanced: nothing to set".into()
        }
        ("aws:elasticbeanstalk:environment", "ServiceRole") => {
            "Beanpole needs no service role (it calls AWS with your credentials): nothing to set".into()
        }
        ("aws:autoscaling:updatepolicy:rollingupdate", _) => {
            "Beanpole's apply replaces instances for a new launch template one at a time, each health-checked before the next: nothing to set".into()
        }
        ("aws:elasticbeanstalk:command", "IgnoreHealthCheck") => {
            "Beanpole never ignores the health check: set `deployment { health_threshold }` in the spec to accept a lower rating".into()
        }
        ("aws:elasticbeanstalk:cloudwatch:logs" | "aws:elasticbeanstalk:cloudwatch:logs:health", _) => {
            "Beanpole streams no logs to CloudWatch yet: `beanpole logs ENV` reads them from the instances".into()
        }
        ("aws:elasticbeanstalk:hostmanager", _) => {
            "Beanpole publishes no logs to S3 on its own yet: `beanpole logs ENV --all` gathers them".into()
        }
        ("aws:elasticbeanstalk:healthreporting:system", _) => {
            "Beanpole rates health from the target group and the engine's report (`beanpole status`): nothing to set".into()
        }
        ("aws:elasticbeanstalk:managedactions" | "aws:elasticbeanstalk:managedactions:platformupdate", _) => {
            "no managed platform updates: an instance's platform is the engine the Beanpole that deploys ships".into()
        }
        ("aws:elasticbeanstalk:sns:topics", _) => "Beanpole sends no notifications yet".into(),
        ("aws:elasticbeanstalk:xray", _) => "Beanpole runs no X-Ray daemon yet".into(),
        ("aws:elasticbeanstalk:environment:proxy", "GzipCompression") => {
            "Beanpole's nginx configuration does not compress: add a .platform/nginx/conf.d/*.conf with `gzip on;`".into()
        }
        (n, _) if n.starts_with("aws:") => {
            "no equivalent in Beanpole yet: the option has no effect".into()
        }
        _ => "not an Elastic Beanstalk namespace: the option has no effect".into(),
    }
}

/// A namespace without the EB resource it may be qualified by (`AWSEBCloudwatchAlarmHigh.
/// aws:autoscaling:trigger`, the form saved configurations write): the namespace itself.
pub fn unqualified(namespace: &str) -> &str {
    match namespace.split_once('.') {
        Some((resource, rest))
            if rest.starts_with("aws:") && resource.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            rest
        }
        _ => namespace,
    }
}

/// What a deploy does with an infrastructure option of a version's `.ebextensions` (one the
/// spec holds), against the environment it goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Infrastructure {
    /// The environment has this value already.
    InEffect,
    /// The spec sets it otherwise, and the spec wins (EB's precedence): why it has no effect.
    Overridden(String),
    /// It would change the environment's infrastructure, which only `apply` does: why refused.
    Refused(String),
}

const PROCESS: &str = "aws:elasticbeanstalk:environment:process:default";

/// The spec's attribute that holds an infrastructure option, dotted as written
/// ([`setting_name`] names it as the docs do). The one table of what the spec holds:
/// `what_beanpole_does` says it, a deploy compares against it, `plan` says where it is set.
pub(super) fn spec_setting(namespace: &str, option: &str) -> Option<&'static str> {
    Some(match (namespace, option) {
        ("aws:autoscaling:asg", "MinSize") => "capacity.min",
        ("aws:autoscaling:asg", "MaxSize") => "capacity.max",
        (
            "aws:autoscaling:launchconfiguration" | "aws:ec2:instances",
            "InstanceType" | "InstanceTypes",
        ) => "instance.type",
        ("aws:autoscaling:launchconfiguration", "EC2KeyName") => "instance.key_name",
        ("aws:autoscaling:launchconfiguration", "ImageId") => "instance.ami",
        (PROCESS, "HealthCheckPath")
        | ("aws:elasticbeanstalk:application", "Application Healthcheck URL") => {
            "load_balancer.health_check.path"
        }
        (PROCESS, "MatcherHTTPCode") => "load_balancer.health_check.matcher",
        (PROCESS, "HealthCheckInterval") => "load_balancer.health_check.interval",
        (PROCESS, "HealthCheckTimeout") => "load_balancer.health_check.timeout",
        (PROCESS, "HealthyThresholdCount") => "load_balancer.health_check.healthy_threshold",
        (PROCESS, "UnhealthyThresholdCount") => "load_balancer.health_check.unhealthy_threshold",
        (PROCESS, "Port") => "instance.port",
        ("aws:elbv2:loadbalancer", "IdleTimeout") => "load_balancer.idle_timeout",
        ("aws:elbv2:listener:443", "SSLCertificateArns") => "load_balancer.https.certificate_arn",
        ("aws:elbv2:listener:443", "SSLPolicy") => "load_balancer.https.ssl_policy",
        ("aws:ec2:vpc", "VPCId") => "network.vpc_id",
        // The load balancer's and the instances' subnets are one list in the spec.
        ("aws:ec2:vpc", "Subnets" | "ELBSubnets") => "network.subnets",
        ("aws:ec2:vpc", "ELBScheme") => "load_balancer.internal",
        _ => return None,
    })
}

/// A spec attribute as the docs write it: `capacity.min` is `capacity { min }`.
pub fn setting_name(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut name = parts.join(" { ");
    name.push_str(&" }".repeat(parts.len().saturating_sub(1)));
    name
}

/// The environment's value of a spec attribute of [`spec_setting`], in the option's form.
pub(super) fn environment_value(env: &Environment, path: &str) -> Option<String> {
    let check = &env.load_balancer.health_check;
    let https = env.load_balancer.https.as_ref();
    let network = env.network.as_ref();
    Some(match path {
        "capacity.min" => env.capacity.min.to_string(),
        "capacity.max" => env.capacity.max.to_string(),
        "instance.type" => env.instance.instance_type.clone(),
        "instance.key_name" => env.instance.key_name.clone().unwrap_or_default(),
        "instance.ami" => env
            .instance
            .ami
            .clone()
            .unwrap_or_else(|| "the platform's AMI".into()),
        "instance.port" => env.instance.port.to_string(),
        "load_balancer.health_check.path" => check.path.clone(),
        "load_balancer.health_check.matcher" => check.matcher.clone(),
        "load_balancer.health_check.interval" => check.interval.to_string(),
        "load_balancer.health_check.timeout" => check.timeout.to_string(),
        "load_balancer.health_check.healthy_threshold" => check.healthy_threshold.to_string(),
        "load_balancer.health_check.unhealthy_threshold" => check.unhealthy_threshold.to_string(),
        "load_balancer.idle_timeout" => env.load_balancer.idle_timeout.to_string(),
        "load_balancer.internal" => if env.load_balancer.internal {
            "internal"
        } else {
            "public"
        }
        .to_string(),
        "load_balancer.https.certificate_arn" => {
            https.map(|h| h.certificate_arn.clone()).unwrap_or_default()
        }
        "load_balancer.https.ssl_policy" => https.map(|h| h.ssl_policy.clone()).unwrap_or_default(),
        "network.vpc_id" => network
            .map(|n| n.vpc_id.clone())
            .unwrap_or_else(|| "the default VPC".into()),
        "network.subnets" => network
            .map(|n| normalised("Subnets", &n.subnets.join(",")))
            .unwrap_or_else(|| "the default VPC's".into()),
        _ => return None,
    })
}

/// An infrastructure option the spec holds: the spec's attribute (dotted, as written), how
/// the docs name it, and the environment's value in the option's form.
pub(super) struct Held {
    pub path: &'static str,
    pub setting: String,
    pub value: String,
}

pub(super) fn held(env: &Environment, namespace: &str, option: &str) -> Option<Held> {
    // A worker has no load balancer: its options are not infrastructure it has.
    let load_balancer = matches!(
        namespace,
        PROCESS
            | "aws:elbv2:loadbalancer"
            | "aws:elbv2:listener:443"
            | "aws:elasticbeanstalk:application"
    ) || matches!(
        (namespace, option),
        ("aws:ec2:vpc", "ELBScheme" | "ELBSubnets")
    );
    if env.is_worker() && load_balancer && option != "Port" {
        return None;
    }
    let path = spec_setting(namespace, option)?;
    Some(Held {
        path,
        setting: setting_name(path),
        value: environment_value(env, path)?,
    })
}

/// The option's value as the environment's is written: EB's `Application Healthcheck URL`
/// may name a protocol and port (`HTTP:80/health`), `InstanceTypes` is a list whose first
/// type Beanpole's one type must be, numbers are compared as numbers.
fn normalised(option: &str, value: &str) -> String {
    let value = value.trim();
    match option {
        "Application Healthcheck URL" => match value.find('/') {
            Some(at) => value[at..].to_string(),
            None => "/".to_string(),
        },
        "InstanceTypes" => value
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        // A set of subnets, in any order.
        "Subnets" | "ELBSubnets" => {
            let mut ids: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            ids.sort_unstable();
            ids.join(",")
        }
        _ => match value.parse::<i64>() {
            Ok(n) => n.to_string(),
            Err(_) => value.to_string(),
        },
    }
}

/// What a deploy to `env` does with `namespace`/`option` = `value` from a version's
/// `.ebextensions`: `None` when the spec does not hold that option (it is not
/// infrastructure Beanpole has), else in effect, overridden by the spec, or refused.
pub fn infrastructure(
    env: &Environment,
    namespace: &str,
    option: &str,
    value: &str,
) -> Option<Infrastructure> {
    let held = held(env, namespace, option)?;
    let asked = normalised(option, value);
    // Beanpole's environments have one instance type: a list of several is never in effect.
    let one =
        option != "InstanceTypes" || value.split(',').filter(|t| !t.trim().is_empty()).count() == 1;
    if one && asked == held.value {
        return Some(Infrastructure::InEffect);
    }
    if env.in_spec.contains_key(held.path) {
        return Some(Infrastructure::Overridden(format!(
            "overridden by the spec's `{}` ({}): the spec's settings win over a version's, as Elastic Beanstalk's settings applied to the environment do",
            held.setting, held.value
        )));
    }
    Some(Infrastructure::Refused(format!(
        "would change the environment's infrastructure (it has {}, the default of `{}`), and a deploy never does: set it in the spec (`{}`) and run `beanpole apply`, then deploy this version; or remove the option from it",
        if held.value.is_empty() { "none".to_string() } else { held.value.clone() },
        held.setting,
        held.setting
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_said_to_be_the_spec_s_is_compared_at_deploy() {
        let env = crate::spec::test_support::one_environment("");
        for (namespace, options) in EB_OPTIONS {
            for option in options.iter().filter(|o| **o != "*") {
                if what_beanpole_does(namespace, option).starts_with("the spec holds it") {
                    assert!(
                        held(&env, namespace, option).is_some(),
                        "{namespace} {option}: said to be the spec's, not compared at deploy"
                    );
                }
            }
        }
        assert_eq!(
            infrastructure(&env, "aws:ec2:vpc", "Subnets", "subnet-b, subnet-a"),
            infrastructure(&env, "aws:ec2:vpc", "Subnets", "subnet-a,subnet-b"),
        );
        assert_eq!(
            unqualified("AWSEBCloudwatchAlarmHigh.aws:autoscaling:trigger"),
            "aws:autoscaling:trigger"
        );
        assert_eq!(
            unqualified("aws:elasticbeanstalk:command"),
            "aws:elasticbeanstalk:command"
        );
    }
}
