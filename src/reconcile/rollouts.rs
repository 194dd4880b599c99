//! What a plan's change to an environment's launch template asks of its running instances,
//! as Elastic Beanstalk tells configuration changes apart: a change to what an instance *is*
//! (instance type, AMI, key, profile, security groups, the boot script) needs new instances,
//! rolled out through the environment's deployment policy; a change only to the settings the
//! boot script carries (properties, proxy, static files, WSGI) is a configuration deployment
//! in place, on the same instances. Pure.

use crate::platform::boot::user_data_parts;
use crate::reconcile::AttributeChange;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceChange {
    /// Every instance is replaced by one launched from the new launch template.
    NewInstances,
    /// The environment's version is deployed again in place with the new settings.
    Configuration,
}

/// From a launch template update's attribute changes; `None` when nothing reaches instances.
pub fn of_launch_template(attributes: &[AttributeChange]) -> Option<InstanceChange> {
    let mut configuration = false;
    for a in attributes {
        if a.name == "user_data" {
            let parts = |v: &serde_json::Value| user_data_parts(v.as_str().unwrap_or_default());
            let (before, after) = (parts(&a.before), parts(&a.after));
            if before.script != after.script {
                return Some(InstanceChange::NewInstances);
            }
            configuration |= before.settings != after.settings;
        } else if a.name != "tags" && a.before != a.after {
            // (Tags are changed in place, on the template and by Auto Scaling on its
            // instances' next launch: no instance needs replacing for them.)
            return Some(InstanceChange::NewInstances);
        }
    }
    configuration.then_some(InstanceChange::Configuration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(name: &str, before: serde_json::Value, after: serde_json::Value) -> AttributeChange {
        AttributeChange {
            name: name.into(),
            before,
            after,
            after_unknown: false,
            forces_replacement: false,
        }
    }

    fn user_data(body: &str) -> String {
        crate::platform::boot::user_data(
            "pets-app",
            &crate::spec::test_support::one_environment(body),
        )
    }

    #[test]
    fn a_setting_is_a_configuration_deployment_and_an_instance_type_new_instances() {
        let before = user_data("  properties = { GREETING = \"hello\" }");
        let after = user_data("  properties = { GREETING = \"bonjour\" }");
        assert_ne!(before, after);
        assert_eq!(
            of_launch_template(&[change("user_data", json!(before), json!(after))]),
            Some(InstanceChange::Configuration)
        );
        assert_eq!(
            of_launch_template(&[
                change("user_data", json!(before), json!(after)),
                change("instance_type", json!("t3.small"), json!("t3.medium")),
            ]),
            Some(InstanceChange::NewInstances)
        );
        // The boot script itself needs new instances; a proxy, a configuration deployment.
        let other = before.replace("--application pets-app ", "--application other-app ");
        assert_eq!(
            of_launch_template(&[change("user_data", json!(before), json!(other))]),
            Some(InstanceChange::NewInstances)
        );
        assert_eq!(
            of_launch_template(&[change("user_data", json!(before), json!(before))]),
            None
        );
        // Tags alone neither.
        assert_eq!(
            of_launch_template(&[change("tags", json!({"team": "a"}), json!({"team": "b"}))]),
            None
        );
        // Another engine alone asks nothing of running instances (their next deployment
        // fetches it).
        let engine_line = before
            .lines()
            .find(|l| l.contains("/opt/beanpole/engine.pyz\""))
            .unwrap()
            .to_string();
        let upgraded = before.replace(&engine_line, "aws s3 cp --only-show-errors \"s3://b/_beanpole/engine/0000.py\" \"$root/opt/beanpole/engine.pyz\"");
        assert_ne!(upgraded, before);
        assert_eq!(
            of_launch_template(&[change("user_data", json!(before), json!(upgraded))]),
            None
        );
        let apache = user_data("  properties = { GREETING = \"hello\" }\n  proxy = \"apache\"");
        assert_eq!(
            of_launch_template(&[change("user_data", json!(before), json!(apache))]),
            Some(InstanceChange::Configuration)
        );
    }
}
