//! Validators for the values AWS is strict about (ARNs, CIDRs, ports, tags, DNS labels, IDs).
//! Each returns the reason a value is invalid, in words a user can act on.

pub type Check = Result<(), String>;

pub fn arn(value: &str) -> Check {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err("an ARN has the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE".into());
    }
    if !matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov") {
        return Err(format!(
            "unknown partition `{}` (aws, aws-cn or aws-us-gov)",
            parts[1]
        ));
    }
    if parts[2].is_empty()
        || !parts[2]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(
            "the service part must be a lowercase service name such as `iam` or `dynamodb`".into(),
        );
    }
    if !parts[4].is_empty()
        && parts[4] != "aws"
        && !(parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("account `{}` must be 12 digits", parts[4]));
    }
    if parts[5].is_empty() {
        return Err("the resource part is empty".into());
    }
    Ok(())
}

/// An ACM certificate ARN, as an HTTPS listener needs.
pub fn certificate_arn(value: &str) -> Check {
    arn(value)?;
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if !matches!(parts[2], "acm" | "iam")
        || !(parts[5].starts_with("certificate/") || parts[5].starts_with("server-certificate/"))
    {
        return Err(
            "expected an ACM certificate ARN: arn:aws:acm:REGION:ACCOUNT:certificate/ID".into(),
        );
    }
    Ok(())
}

/// A managed policy ARN: arn:aws:iam::aws:policy/NAME or arn:aws:iam::ACCOUNT:policy/NAME.
pub fn policy_arn(value: &str) -> Check {
    arn(value)?;
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts[2] != "iam" || !parts[5].starts_with("policy/") {
        return Err("expected an IAM policy ARN: arn:aws:iam::aws:policy/NAME".into());
    }
    Ok(())
}

/// A resource in a policy statement: `*` or an ARN (wildcards allowed inside).
pub fn policy_resource(value: &str) -> Check {
    if value == "*" {
        return Ok(());
    }
    arn(value)
}

/// An IAM action: `service:Action`, wildcards allowed, or `*`.
pub fn iam_action(value: &str) -> Check {
    if value == "*" {
        return Ok(());
    }
    let Some((service, action)) = value.split_once(':') else {
        return Err("an action has the form SERVICE:ACTION, as in dynamodb:GetItem".into());
    };
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!("`{service}` is not a service prefix"));
    }
    if action.is_empty()
        || !action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    {
        return Err(format!("`{action}` is not an action name"));
    }
    Ok(())
}

pub fn cidr(value: &str) -> Check {
    let Some((address, prefix)) = value.split_once('/') else {
        return Err(
            "a CIDR block has the form ADDRESS/PREFIX, as in 0.0.0.0/0 or 10.0.0.0/16".into(),
        );
    };
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("prefix length `{prefix}` is not a number"))?;
    if let Ok(ip) = address.parse::<std::net::Ipv4Addr>() {
        if prefix > 32 {
            return Err("an IPv4 prefix length is at most 32".into());
        }
        let bits = u32::from(ip);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        if bits & !mask != 0 {
            return Err(format!(
                "host bits are set; the network is {}/{prefix}",
                std::net::Ipv4Addr::from(bits & mask)
            ));
        }
        return Ok(());
    }
    if let Ok(ip) = address.parse::<std::net::Ipv6Addr>() {
        if prefix > 128 {
            return Err("an IPv6 prefix length is at most 128".into());
        }
        let bits = u128::from(ip);
        let mask = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        };
        if bits & !mask != 0 {
            return Err("host bits are set".into());
        }
        return Ok(());
    }
    Err(format!("`{address}` is not an IPv4 or IPv6 address"))
}

pub fn port(value: f64) -> Check {
    if value.fract() != 0.0 || !(1.0..=65535.0).contains(&value) {
        return Err("a port is a whole number from 1 to 65535".into());
    }
    Ok(())
}

const TAG_CHARS: &str = " _.:/=+-@";

pub fn tag_key(key: &str) -> Check {
    if key.is_empty() || key.chars().count() > 128 {
        return Err("a tag key has 1 to 128 characters".into());
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("the `aws:` prefix is reserved for AWS".into());
    }
    if key.starts_with("beanpole:") {
        return Err("the `beanpole:` prefix is reserved for Beanpole's ownership tags".into());
    }
    tag_chars(key)
}

pub fn tag_value(value: &str) -> Check {
    if value.chars().count() > 256 {
        return Err("a tag value has at most 256 characters".into());
    }
    tag_chars(value)
}

fn tag_chars(s: &str) -> Check {
    match s
        .chars()
        .find(|c| !(c.is_alphanumeric() || TAG_CHARS.contains(*c)))
    {
        Some(c) => Err(format!(
            "`{c}` is not allowed in tags (letters, digits, spaces and {TAG_CHARS:?})"
        )),
        None => Ok(()),
    }
}

/// Elastic Beanstalk's rule for application names: 1 to 100 characters, no `/`.
pub fn application_name(name: &str) -> Check {
    if name.is_empty() || name.chars().count() > 100 {
        return Err("an application name has 1 to 100 characters".into());
    }
    if name.contains('/') {
        return Err("an application name cannot contain `/`".into());
    }
    dns_safe(name, "an application name")
}

/// Elastic Beanstalk's rule for environment names: 4 to 40 letters, digits and hyphens, not
/// starting or ending with a hyphen.
pub fn environment_name(name: &str) -> Check {
    let n = name.chars().count();
    if !(4..=40).contains(&n) {
        return Err(format!(
            "an environment name has 4 to 40 characters, this one has {n}"
        ));
    }
    dns_safe(name, "an environment name")
}

fn dns_safe(name: &str, what: &str) -> Check {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "{what} may contain only letters, digits and hyphens"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!("{what} cannot start or end with a hyphen"));
    }
    Ok(())
}

/// A CNAME prefix: one DNS label, lowercase.
pub fn cname_label(label: &str) -> Check {
    if label.is_empty() || label.len() > 63 {
        return Err("a CNAME is one DNS label of 1 to 63 characters".into());
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("a CNAME may contain only lowercase letters, digits and hyphens".into());
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a CNAME cannot start or end with a hyphen".into());
    }
    Ok(())
}

pub fn domain(name: &str) -> Check {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 || !name.contains('.') {
        return Err("a domain is a DNS name such as example.com".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each label of a domain has 1 to 63 characters".into());
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!("`{label}` is not a valid DNS label"));
        }
    }
    Ok(())
}

pub fn region(name: &str) -> Check {
    let parts: Vec<&str> = name.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(())
    } else {
        Err("a region looks like us-east-2 or eu-west-1".into())
    }
}

pub fn instance_type(name: &str) -> Check {
    let Some((family, size)) = name.split_once('.') else {
        return Err("an instance type looks like t3.small".into());
    };
    let family_ok = family
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let size_ok = !size.is_empty()
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if family_ok && size_ok {
        Ok(())
    } else {
        Err("an instance type looks like t3.small".into())
    }
}

/// An AWS resource id such as `ami-0123456789abcdef0`.
pub fn resource_id(value: &str, prefix: &str) -> Check {
    let ok = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (8..=17).contains(&hex.len())
                && hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected `{prefix}-` followed by 8 or 17 lowercase hex digits"
        ))
    }
}

pub fn health_check_path(path: &str) -> Check {
    if !path.starts_with('/') {
        return Err("a health check path starts with `/`".into());
    }
    if path.len() > 1024 || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a health check path has at most 1024 characters and no spaces".into());
    }
    Ok(())
}

/// HTTP codes a target group accepts as healthy: `200`, `200,302` or `200-399`, within 200–499.
pub fn http_matcher(matcher: &str) -> Check {
    let in_range = |s: &str| s.parse::<u16>().ok().filter(|c| (200..=499).contains(c));
    for part in matcher.split(',') {
        match part.split_once('-') {
            Some((a, b)) => match (in_range(a), in_range(b)) {
                (Some(a), Some(b)) if a <= b => {}
                _ => return Err("ranges look like 200-399, with codes from 200 to 499".into()),
            },
            None => {
                if in_range(part).is_none() {
                    return Err("codes are from 200 to 499, as in 200, 200,302 or 200-399".into());
                }
            }
        }
    }
    Ok(())
}

/// A Secrets Manager secret's ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME.
pub fn secret_arn(value: &str) -> Check {
    arn(value)?;
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts[2] != "secretsmanager"
        || parts[3].is_empty()
        || parts[4].is_empty()
        || !parts[5].starts_with("secret:")
        || parts[5].len() == "secret:".len()
    {
        return Err("expected a Secrets Manager secret's ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME".into());
    }
    Ok(())
}

/// A Systems Manager parameter's name: `/pets/api-key` or `api-key` (letters, digits and
/// `_.-/`, at most 1011 characters, as SSM allows).
pub fn parameter_name(value: &str) -> Check {
    let ok = !value.is_empty()
        && value.len() <= 1011
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
        && !value.ends_with('/')
        && !value.contains("//");
    if !ok {
        return Err(
            "a parameter name is like /pets/api-key: letters, digits and _ . - /, not ending in /"
                .into(),
        );
    }
    let lower = value.trim_start_matches('/').to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return Err("parameter names may not begin with aws or ssm".into());
    }
    Ok(())
}

/// A KMS key's ARN (a key or an alias).
pub fn kms_key_arn(value: &str) -> Check {
    arn(value)?;
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts[2] != "kms" || !(parts[5].starts_with("key/") || parts[5].starts_with("alias/")) {
        return Err("expected a KMS key's ARN: arn:aws:kms:REGION:ACCOUNT:key/ID".into());
    }
    Ok(())
}

/// A property name that reads like a secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*_KEY`).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN"]
        .iter()
        .any(|w| upper.contains(w))
        || upper.ends_with("_KEY")
}

/// An environment property name: an environment variable.
pub fn property_name(name: &str) -> Check {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err("a property name is an environment variable name: letters, digits and `_`, not starting with a digit".into())
    }
}

/// An environment property value becomes one line of an environment file on the instance (as
/// in Elastic Beanstalk, which has no multi-line values): no control characters.
pub fn property_value(value: &str) -> Check {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "a property value is one line of text; it holds the control character {} (Elastic Beanstalk allows no multi-line values): remove it, or encode the value (e.g. base64) and decode it in the application",
            c.escape_unicode()
        )),
    }
}

/// Load balancer TLS policies whose minimum protocol is TLS 1.2 or TLS 1.3 (the
/// `ELBSecurityPolicy-*` names AWS documents for Application Load Balancers).
pub const SSL_POLICIES: &[&str] = &[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
];

/// Only TLS policies with a minimum of TLS 1.2 or 1.3: older ones allow TLS 1.0/1.1.
pub fn ssl_policy(name: &str) -> Check {
    if SSL_POLICIES.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "use a policy whose minimum is TLS 1.2 or 1.3: {}",
            SSL_POLICIES.join(", ")
        ))
    }
}

/// A gunicorn WSGI path, `module[:callable]`: dotted Python identifiers, as EB's `WSGIPath`.
/// It becomes part of the web process's command line, so nothing else is allowed.
pub fn wsgi_path(path: &str) -> Check {
    let identifier = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let (module, callable) = match path.split_once(':') {
        Some((m, c)) => (m, Some(c)),
        None => (path, None),
    };
    // Amazon Linux 1's form, a file (`mysite/wsgi.py`): gunicorn takes a module instead.
    if module.ends_with(".py") || module.contains('/') {
        let file = module.strip_suffix(".py").unwrap_or(module);
        let dotted = file.trim_start_matches("./").replace('/', ".");
        if !dotted.is_empty() && dotted.split('.').all(identifier) {
            return Err(format!(
                "`{path}` is Amazon Linux 1's form (a file); on Amazon Linux 2023 the WSGI path is a module and its callable: write `{dotted}:{}`",
                callable.unwrap_or("application")
            ));
        }
    }
    let module_ok = module.split('.').all(identifier);
    let callable_ok = callable.is_none_or(|c| identifier(c.strip_suffix("()").unwrap_or(c)));
    if module_ok && callable_ok {
        Ok(())
    } else {
        Err("write `module:callable` with Python names, as in `application:application` or `mysite.wsgi:application`".into())
    }
}

/// A URL path the proxy serves static files under: `/static`, `/assets/img`.
pub fn url_path(path: &str) -> Check {
    let chars_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._~-".contains(c));
    if !path.starts_with('/') || !chars_ok || path.split('/').any(|p| p == "..") {
        return Err(
            "a URL path starts with `/` and holds letters, digits and `/._~-`, as in \"/static\""
                .into(),
        );
    }
    Ok(())
}

/// A folder inside the source bundle, relative to its root: `static`, `web/assets`.
pub fn bundle_folder(folder: &str) -> Check {
    let chars_ok = !folder.is_empty()
        && folder
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    if folder.starts_with('/') || !chars_ok || folder.split('/').any(|p| p == "..") {
        return Err(
            "a folder of the bundle, relative to its root, as in \"static\" (letters, digits, `/._-`; no `..`)"
                .into(),
        );
    }
    Ok(())
}

/// The application's source folder: a path on this machine, relative to the spec file.
pub fn source_folder(folder: &str) -> Check {
    if folder.trim().is_empty() || folder.chars().any(char::is_control) {
        return Err("give the folder holding application.py, as in \"./app\"".into());
    }
    Ok(())
}

/// A CloudFormation resource type an extra resource may have: `AWS::SERVICE::TYPE`.
pub fn cfn_type(value: &str) -> Check {
    let parts: Vec<&str> = value.split("::").collect();
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        ["AWS", service, kind] if word(service) && word(kind) => Ok(()),
        _ => Err("a resource type is CloudFormation's `AWS::SERVICE::TYPE`, as in `AWS::DynamoDB::Table`".into()),
    }
}

/// A resource's name in its stack (CloudFormation's logical id): letters and digits.
pub fn cfn_logical_id(value: &str) -> Check {
    if !value.is_empty()
        && value.len() <= 255
        && value.chars().all(|c| c.is_ascii_alphanumeric())
        && !value.starts_with("AWSEB")
    {
        Ok(())
    } else if value.starts_with("AWSEB") {
        Err("names starting with `AWSEB` are Elastic Beanstalk's own resources".into())
    } else {
        Err("a resource name is its logical id in a CloudFormation stack: letters and digits only (no `-` or `_`), at most 255".into())
    }
}

/// A MIME type, as a worker's daemon sends it in `Content-Type` (`application/json`).
pub fn mime_type(value: &str) -> Check {
    if value.contains('/') && !value.chars().any(|c| c.is_control() || c == ' ') {
        Ok(())
    } else {
        Err("a MIME type such as application/json or text/plain".to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wsgi_file_path_of_amazon_linux_1_is_refused_with_its_module_form() {
        use super::wsgi_path;
        assert!(wsgi_path("mysite.wsgi:application").is_ok());
        assert!(wsgi_path("application").is_ok());
        for (file, module) in [
            ("todo_app/wsgi.py", "todo_app.wsgi:application"),
            ("application.py", "application:application"),
            ("./api/wsgi.py:app", "api.wsgi:app"),
            ("parts/production/wsgi", "parts.production.wsgi:application"),
        ] {
            let refused = wsgi_path(file).unwrap_err();
            assert!(
                refused.contains("Amazon Linux 1's form")
                    && refused.contains(&format!("write `{module}`")),
                "{refused}"
            );
        }
    }

    use super::*;

    #[test]
    fn arns() {
        assert!(arn("arn:aws:dynamodb:us-east-2:123456789012:table/Pets").is_ok());
        assert!(policy_arn("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy").is_ok());
        assert!(arn("arn:aws:dynamodb:us-east-2:1234:table/Pets").is_err());
        assert!(arn("dynamodb:table").is_err());
        assert!(certificate_arn("arn:aws:acm:us-east-2:123456789012:certificate/abc").is_ok());
        assert!(certificate_arn("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn cidrs() {
        assert!(cidr("0.0.0.0/0").is_ok());
        assert!(cidr("10.0.0.0/16").is_ok());
        assert!(cidr("10.0.0.1/16").is_err());
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("::/0").is_ok());
        assert!(cidr("banana").is_err());
    }

    #[test]
    fn tags_and_names() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("aws:cloudformation").is_err());
        assert!(tag_value("a{b").is_err());
        assert!(environment_name("pets-env-blue").is_ok());
        assert!(environment_name("abc").is_err());
        assert!(cname_label("pets-staging").is_ok());
        assert!(cname_label("Pets").is_err());
        assert!(region("us-east-2").is_ok());
        assert!(region("us-gov-west-1").is_ok());
        assert!(region("moon").is_err());
        assert!(http_matcher("200-399").is_ok());
        assert!(http_matcher("200,302").is_ok());
        assert!(http_matcher("600").is_err());
        assert!(resource_id("ami-0123456789abcdef0", "ami").is_ok());
        assert!(resource_id("ami-xyz", "ami").is_err());
    }
}
