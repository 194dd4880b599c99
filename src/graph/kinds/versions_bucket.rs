//! The application versions bucket: one per account and region, shared by every application
//! there (`beanpole-versions-ACCOUNT-REGION`, bound when the account is known). Public access
//! blocked, default encryption on. Shared: proven Beanpole's by its tags alone, and never
//! deleted by a plan.

use crate::graph::schema::{Attribute, KindSchema, Output, Readiness, Shape};
use crate::graph::ResourceKind;

/// S3's limit on a bucket name.
pub const NAME_LIMIT: usize = 63;

/// Default encryption with S3-managed keys.
pub const ENCRYPTION: &str = "AES256";

/// The bucket's name before the account and region are known.
pub const NAME_PATTERN: &str = "beanpole-versions-{account}-{region}";

pub const SCHEMA: KindSchema = KindSchema {
    kind: ResourceKind::VersionsBucket,
    name: "versions_bucket",
    data: false,
    attributes: &[
        Attribute::new("block_public_access", Shape::Bool),
        Attribute::new("encryption", Shape::String),
        // The content address of the platform engine this Beanpole ships, which the bucket
        // holds for the instances to fetch at boot.
        Attribute::new("engine", Shape::String),
    ],
    outputs: &[Output::new("name"), Output::new("arn")],
    refers_to: &[],
    tagged: true,
    readiness: Readiness::Immediate,
    expected_wait_seconds: 0,
    name_limit: NAME_LIMIT,
    shared: true,
};

/// The bucket's name for an account and region. Only lowercase letters, digits and hyphens
/// are kept (all an account id and a region hold, and all S3 allows), so the name is safe in
/// the user data's script whatever the region's source (a spec, AWS_REGION, a profile).
pub fn name(account: &str, region: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect()
    };
    NAME_PATTERN
        .replace("{account}", &clean(account))
        .replace("{region}", &clean(region))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_holds_nothing_a_shell_would_read() {
        assert_eq!(
            super::name("123456789012", "us-east-2"),
            "beanpole-versions-123456789012-us-east-2"
        );
        assert_eq!(
            super::name("123456789012", "us-east-2; reboot `x` $(y)"),
            "beanpole-versions-123456789012-us-east-2rebootxy"
        );
    }
}
