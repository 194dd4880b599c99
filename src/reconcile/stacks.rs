//! What a change set says a stack's change does, resource by resource, and which of those
//! changes lose data: the plan shows them under the stack's own change (`+ ~ -`, a replacement
//! flagged), and apply refuses one that replaces or deletes a resource holding data unless
//! `--delete-data` is given. Pure: the shell reads the change set, this reads it.

use crate::model::resources::{replacing_properties, resource_holds_data};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A change set of one stack, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Its ARN: what a saved plan carries and apply executes.
    pub id: String,
    pub name: String,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSet {
    /// The resources whose data the change set loses: `orders (AWS::DynamoDB::Table)`.
    pub fn lost(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.data_loss)
            .map(|c| format!("{} ({})", c.resource, c.type_name))
            .collect()
    }
}

/// One resource's change in a change set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// CloudFormation's action: `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    pub resource: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the resource is replaced: CloudFormation's `True`/`Conditional`, or what Beanpole
    /// knows of the type's properties when the change set does not say.
    pub replacement: bool,
    /// Deleting or replacing it loses data (a table, a bucket, a database…).
    pub data_loss: bool,
}

impl ResourceChange {
    /// `+ jobs (AWS::SQS::Queue)`, `~ orders (AWS::DynamoDB::Table) will be REPLACED (data loss)`.
    pub fn line(&self) -> String {
        let sign = match self.action.as_str() {
            "Add" => "+",
            "Remove" => "-",
            _ if self.replacement => "-/+",
            _ => "~",
        };
        let mut line = format!("{sign} {} ({})", self.resource, self.type_name);
        if self.replacement {
            line.push_str(" will be REPLACED");
        } else if self.action == "Remove" {
            line.push_str(" will be deleted");
        }
        if self.data_loss {
            line.push_str(" (data loss)");
        }
        line
    }
}

/// What CloudFormation's drift detection found in one stack the plan keeps: each of its
/// resources changed (or deleted) outside CloudFormation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackDrift {
    /// The stack's address in the graph.
    pub address: String,
    pub stack: String,
    /// Its resources that drifted; empty when it is in sync.
    pub resources: Vec<ResourceDrift>,
    /// Why its drift is not known (the detection failed), when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// One resource that drifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub resource: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// CloudFormation's `MODIFIED` or `DELETED`.
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

/// A property whose value in the account is not the template's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDifference {
    /// CloudFormation's path: `/MaxSize`, `/Tags/0/Value`.
    pub property: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

impl ResourceDrift {
    /// `jobs (AWS::SQS::Queue) MODIFIED: VisibilityTimeout is 45 in the account, 30 in the
    /// template`.
    pub fn line(&self) -> String {
        let mut line = format!("{} ({}) {}", self.resource, self.type_name, self.status);
        let said: Vec<String> = self
            .differences
            .iter()
            .map(|d| {
                let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".into());
                format!(
                    "{} is {} in the account, {} in the template",
                    d.property.trim_start_matches('/'),
                    value(&d.actual),
                    value(&d.expected)
                )
            })
            .collect();
        if !said.is_empty() {
            line.push_str(": ");
            line.push_str(&said.join("; "));
        } else if self.status == "DELETED" {
            line.push_str(": it is no longer in the account");
        }
        line
    }
}

/// A resource's change flagged: replacement when CloudFormation says so (`replacement`:
/// `True` or `Conditional`) or, when it says nothing, when a property the type cannot change in
/// place differs between the stack's template and the new one; data loss when it holds data
/// and is removed or replaced.
pub fn flag(
    action: &str,
    resource: &str,
    type_name: &str,
    replacement: Option<&str>,
    before: &Value,
    after: &Value,
) -> ResourceChange {
    let replaced = match replacement {
        Some(r) if !r.is_empty() => r == "True" || r == "Conditional",
        _ => action == "Modify" && replaces(type_name, resource, before, after),
    };
    let data_loss = resource_holds_data(resource, type_name) && (replaced || action == "Remove");
    ResourceChange {
        action: action.to_string(),
        resource: resource.to_string(),
        type_name: type_name.to_string(),
        replacement: replaced,
        data_loss,
    }
}

fn replaces(type_name: &str, resource: &str, before: &Value, after: &Value) -> bool {
    let properties = |template: &Value| {
        template
            .get("Resources")
            .and_then(|r| r.get(resource))
            .and_then(|r| r.get("Properties"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (old, new) = (properties(before), properties(after));
    replacing_properties(type_name)
        .iter()
        .any(|p| old.get(p) != new.get(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(key: &str) -> Value {
        json!({"Resources": {"orders": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}}})
    }

    #[test]
    fn a_new_key_replaces_a_table_and_loses_data() {
        let c = flag(
            "Modify",
            "orders",
            "AWS::DynamoDB::Table",
            None,
            &table("id"),
            &table("pk"),
        );
        assert!(c.replacement && c.data_loss);
        assert_eq!(
            c.line(),
            "-/+ orders (AWS::DynamoDB::Table) will be REPLACED (data loss)"
        );
        let same = flag(
            "Modify",
            "orders",
            "AWS::DynamoDB::Table",
            None,
            &table("id"),
            &table("id"),
        );
        assert!(!same.replacement && !same.data_loss);
    }

    #[test]
    fn cloudformation_s_word_wins_and_a_queue_holds_no_data() {
        let c = flag(
            "Modify",
            "jobs",
            "AWS::SQS::Queue",
            Some("True"),
            &json!({}),
            &json!({}),
        );
        assert!(c.replacement && !c.data_loss);
        let c = flag(
            "Remove",
            "orders",
            "AWS::DynamoDB::Table",
            None,
            &json!({}),
            &json!({}),
        );
        assert!(c.data_loss);
        assert_eq!(
            c.line(),
            "- orders (AWS::DynamoDB::Table) will be deleted (data loss)"
        );
    }

    #[test]
    fn a_drifted_resource_says_each_property_s_two_values_and_a_deleted_one_says_so() {
        let modified = ResourceDrift {
            resource: "jobs".into(),
            type_name: "AWS::SQS::Queue".into(),
            status: "MODIFIED".into(),
            differences: vec![
                PropertyDifference {
                    property: "/VisibilityTimeout".into(),
                    expected: Some("30".into()),
                    actual: Some("45".into()),
                },
                PropertyDifference {
                    property: "/DelaySeconds".into(),
                    expected: Some("0".into()),
                    actual: None,
                },
            ],
        };
        assert_eq!(
            modified.line(),
            "jobs (AWS::SQS::Queue) MODIFIED: VisibilityTimeout is 45 in the account, 30 in the template; DelaySeconds is absent in the account, 0 in the template"
        );
        let deleted = ResourceDrift {
            status: "DELETED".into(),
            differences: Vec::new(),
            ..modified
        };
        assert_eq!(
            deleted.line(),
            "jobs (AWS::SQS::Queue) DELETED: it is no longer in the account"
        );
    }
}
