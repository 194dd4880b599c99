//! The saved plan (`plan --out FILE`, `apply FILE`). It holds what the plan was made from (the
//! spec folder, variable inputs and scope), the changes as shown, and a fingerprint of every
//! live resource read. Apply recomputes the plan and refuses when the account or the spec
//! changed since: what is applied is exactly what was shown.

use super::plan::{Change, PlanScope};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const PLAN_FILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub dir: PathBuf,
    pub vars: Vec<String>,
    pub var_files: Vec<PathBuf>,
    pub scope: PlanScope,
    pub changes: Vec<Change>,
    /// `kind/aws_name` → fingerprint of each live resource the plan was computed from.
    pub fingerprints: BTreeMap<String, String>,
}

/// What changed in the account between a saved plan and now.
pub fn stale_reasons(
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    for (key, print) in saved {
        match now.get(key) {
            None => reasons.push(format!("{key} was deleted")),
            Some(p) if p != print => reasons.push(format!("{key} was changed")),
            Some(_) => {}
        }
    }
    for key in now.keys() {
        if !saved.contains_key(key) {
            reasons.push(format!("{key} appeared"));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_reasons_name_every_difference() {
        let saved = BTreeMap::from([
            ("a/1".to_string(), "x".to_string()),
            ("b/2".to_string(), "y".to_string()),
        ]);
        let now = BTreeMap::from([
            ("a/1".to_string(), "x2".to_string()),
            ("c/3".to_string(), "z".to_string()),
        ]);
        assert_eq!(
            stale_reasons(&saved, &now),
            vec!["a/1 was changed", "b/2 was deleted", "c/3 appeared"]
        );
        assert!(stale_reasons(&saved, &saved).is_empty());
    }
}
