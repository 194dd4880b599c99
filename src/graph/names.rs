//! Deterministic AWS names. The same spec always yields the same names (there is no state file:
//! names and tags are how live resources are found again), every name fits its service's limit,
//! and names cut to fit keep a hash of the full name so that two environments never collide.

use sha2::{Digest, Sha256};

/// ALB and target group names: 32 characters.
pub const ELB_NAME_LIMIT: usize = 32;
/// IAM role names: 64 characters.
pub const IAM_ROLE_LIMIT: usize = 64;
/// Instance profile and launch template names: 128 characters.
pub const LONG_NAME_LIMIT: usize = 128;
/// Security group and Auto Scaling group names: 255 characters.
pub const GROUP_NAME_LIMIT: usize = 255;

const HASH_LEN: usize = 7;

/// Hex digest prefix of the identity a name stands for.
pub fn short_hash(identity: &str) -> String {
    let digest = Sha256::digest(identity.as_bytes());
    digest
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_LEN]
        .to_string()
}

/// `readable-suffix-HASH` within `limit`: `readable` is cut when needed, the (short) `suffix`
/// never is, and the hash of `identity` is always there: readable forms are ambiguous (`shop` +
/// `a-prod` and `shop-a` + `prod` read alike; IAM ignores case), the exact identity is not.
/// Only letters, digits and hyphens survive; no leading, trailing or doubled hyphens.
pub fn fit(readable: &str, suffix: &str, identity: &str, limit: usize) -> String {
    let suffix = sanitize(suffix);
    let reserved = HASH_LEN
        + 1
        + if suffix.is_empty() {
            0
        } else {
            suffix.len() + 1
        };
    let head: String = sanitize(readable)
        .chars()
        .take(limit.saturating_sub(reserved))
        .collect();
    let head = head.trim_end_matches('-');
    let hash = short_hash(identity);
    [head, suffix.as_str(), hash.as_str()]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-")
}

fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_string()
}

/// The names of one environment's resources.
#[derive(Debug, Clone)]
pub struct EnvironmentNames {
    base: String,
    identity: String,
}

impl EnvironmentNames {
    pub fn new(application: &str, environment: &str) -> EnvironmentNames {
        EnvironmentNames {
            base: format!("{application}-{environment}"),
            identity: format!("{application}\u{0}{environment}"),
        }
    }

    fn named(&self, suffix: &str, limit: usize) -> String {
        fit(
            &self.base,
            suffix,
            &format!("{}\u{0}{suffix}", self.identity),
            limit,
        )
    }

    pub fn load_balancer(&self) -> String {
        // "internal-" is a reserved ALB name prefix.
        let identity = format!("{}\u{0}", self.identity);
        if self.base.to_ascii_lowercase().starts_with("internal-") {
            fit(&format!("bp-{}", self.base), "", &identity, ELB_NAME_LIMIT)
        } else {
            fit(&self.base, "", &identity, ELB_NAME_LIMIT)
        }
    }

    /// The target group's name also hashes what AWS cannot change in place (port and
    /// protocol): a replacement gets a new name, so it can be created, put behind the listener
    /// and only then the old group deleted (AWS refuses to delete a group a listener uses).
    pub fn target_group(&self, port: u16, protocol: &str) -> String {
        fit(
            &self.base,
            "tg",
            &format!("{}\u{0}tg\u{0}{protocol}:{port}", self.identity),
            ELB_NAME_LIMIT,
        )
    }

    /// A deployment's temporary Auto Scaling group (immutable, traffic splitting).
    pub fn temporary_group(&self, deployment_id: u64) -> String {
        self.named(&format!("d{deployment_id}"), GROUP_NAME_LIMIT)
    }

    /// A deployment's temporary target group (traffic splitting).
    pub fn temporary_target_group(&self, deployment_id: u64) -> String {
        self.named(&format!("d{deployment_id}"), ELB_NAME_LIMIT)
    }

    pub fn load_balancer_security_group(&self) -> String {
        self.named("alb", GROUP_NAME_LIMIT)
    }

    pub fn instance_security_group(&self) -> String {
        self.named("instances", GROUP_NAME_LIMIT)
    }

    pub fn instance_role(&self) -> String {
        self.named("ec2", IAM_ROLE_LIMIT)
    }

    pub fn instance_profile(&self) -> String {
        self.named("ec2", LONG_NAME_LIMIT)
    }

    pub fn launch_template(&self) -> String {
        self.named("", LONG_NAME_LIMIT)
    }

    pub fn auto_scaling_group(&self) -> String {
        self.named("", GROUP_NAME_LIMIT)
    }

    pub fn scaling_policy(&self, metric: &str) -> String {
        self.named(metric, GROUP_NAME_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_readable() {
        let names = EnvironmentNames::new("pets-app", "pets-env-blue");
        assert!(names.load_balancer().starts_with("pets-app-pets-env-blue-"));
        assert!(names
            .instance_role()
            .starts_with("pets-app-pets-env-blue-ec2-"));
    }

    #[test]
    fn ambiguous_readable_forms_get_distinct_names() {
        let a = EnvironmentNames::new("shop", "a-prod");
        let b = EnvironmentNames::new("shop-a", "prod");
        assert_ne!(a.load_balancer(), b.load_balancer());
        let c = EnvironmentNames::new("shop", "Web-Prod");
        let d = EnvironmentNames::new("shop", "web-prod");
        assert_ne!(
            c.instance_role().to_lowercase(),
            d.instance_role().to_lowercase()
        );
    }

    #[test]
    fn long_names_fit_and_stay_unique() {
        // A 60-character application plus environment name.
        let app = "a-very-long-application-name-for-pets";
        let blue = "production-blue-env";
        let green = "production-green-env";
        assert_eq!(app.len() + blue.len() + 1, 57);
        let mut seen = std::collections::HashSet::new();
        for env in [blue, green, "production-blue-en2", "production-blue-env-"] {
            let names = EnvironmentNames::new(app, env);
            for name in [names.load_balancer(), names.target_group(80, "HTTP")] {
                assert!(
                    name.len() <= ELB_NAME_LIMIT,
                    "{name} is {} long",
                    name.len()
                );
                assert!(
                    !name.starts_with('-') && !name.ends_with('-') && !name.contains("--"),
                    "{name}"
                );
                assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                assert!(seen.insert(name.clone()), "{name} collides");
            }
        }
    }

    #[test]
    fn names_are_deterministic() {
        let a = EnvironmentNames::new("x".repeat(50).as_str(), "env-one").load_balancer();
        let b = EnvironmentNames::new("x".repeat(50).as_str(), "env-one").load_balancer();
        assert_eq!(a, b);
    }

    #[test]
    fn internal_prefix_is_avoided() {
        let names = EnvironmentNames::new("internal", "tools");
        assert!(!names.load_balancer().starts_with("internal-"));
    }
}
