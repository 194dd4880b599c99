//! What Beanpole knows about each kind of resource, in one place per kind (in the spirit of a
//! Terraform provider's schema): its attributes and their shapes, which of them AWS cannot
//! change in place, which are sets, what AWS decides ("known after apply"), what the kind
//! refers to (and so must outlive it when deleting), whether it carries tags, how long AWS
//! takes to make it ready, and its AWS name's limit. Each kind's schema is a constant in its
//! own file under `graph/kinds/`; [`ResourceKind::schema`] is the only match over kinds here.
//! Pure data: no I/O.

use super::ResourceKind;

/// The JSON shape of an attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    String,
    Number,
    Bool,
    /// A list of strings.
    Strings,
    /// A JSON object (a policy document, a health check, a listener action).
    Object,
    /// A list of objects (security group rules).
    Objects,
}

/// One attribute of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub shape: Shape,
    /// AWS cannot change it in place: a change replaces the resource.
    pub forces_replacement: bool,
    /// AWS does not keep its order: compared as a set.
    pub set: bool,
}

impl Attribute {
    /// An attribute updated in place.
    pub const fn new(name: &'static str, shape: Shape) -> Attribute {
        Attribute {
            name,
            shape,
            forces_replacement: false,
            set: false,
        }
    }

    /// An attribute whose change replaces the resource.
    pub const fn replaces(name: &'static str, shape: Shape) -> Attribute {
        Attribute {
            forces_replacement: true,
            ..Attribute::new(name, shape)
        }
    }

    /// An unordered list.
    pub const fn set(name: &'static str, shape: Shape) -> Attribute {
        Attribute {
            set: true,
            ..Attribute::new(name, shape)
        }
    }
}

/// An output name standing for every output of a kind whose outputs are not fixed (a
/// stack's are what the spec reads of it).
pub const ANY_OUTPUT: &str = "*";

/// A value AWS decides when the resource is created: referred to by other resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub name: &'static str,
    /// An in-place update changes it too (a launch template's latest version), so what refers
    /// to it is "known after apply" whenever the resource changes.
    pub changes_on_update: bool,
}

impl Output {
    pub const fn new(name: &'static str) -> Output {
        Output {
            name,
            changes_on_update: false,
        }
    }

    pub const fn changes_on_update(name: &'static str) -> Output {
        Output {
            name,
            changes_on_update: true,
        }
    }
}

/// When apply waits for a resource to be ready, in a step of its own beside its dependents
/// (what depends on it needs only what its create returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Done when its calls return.
    Immediate,
    /// After it is created (a load balancer provisions).
    AfterCreate,
    /// After any change (an Auto Scaling group's change can launch instances).
    AfterChange,
}

/// Everything Beanpole knows about one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSchema {
    pub kind: ResourceKind,
    /// Its name in addresses, plans and JSON: `load_balancer`.
    pub name: &'static str,
    /// Looked up, never created, changed or deleted.
    pub data: bool,
    pub attributes: &'static [Attribute],
    pub outputs: &'static [Output],
    /// Kinds its attributes refer to (the graph's edges, by kind). Deleting runs these edges
    /// backwards: a resource goes before what it refers to.
    pub refers_to: &'static [ResourceKind],
    /// Carries Beanpole's ownership tags (DNS records prove ownership with their TXT marker,
    /// scaling policies through their group).
    pub tagged: bool,
    pub readiness: Readiness,
    /// Roughly how long AWS takes after its calls (seconds, on AWS): what makes a chain of
    /// steps long, so the longest chains start first.
    pub expected_wait_seconds: u64,
    /// The longest AWS name of the kind (`graph::names` fits names to it); 0 for data sources
    /// and names AWS gives no limit of Beanpole's concern.
    pub name_limit: usize,
    /// One resource of the account serves every application (the versions bucket): its
    /// ownership is Beanpole's tags alone, whichever application made it, and no plan deletes
    /// it.
    pub shared: bool,
}

impl KindSchema {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn forces_replacement(&self, attribute: &str) -> bool {
        self.attribute(attribute)
            .is_some_and(|a| a.forces_replacement)
    }

    pub fn is_set(&self, attribute: &str) -> bool {
        self.attribute(attribute).is_some_and(|a| a.set)
    }

    pub fn output_changes_on_update(&self, output: &str) -> bool {
        self.outputs
            .iter()
            .any(|o| (o.name == output || o.name == ANY_OUTPUT) && o.changes_on_update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::compile_graph;
    use crate::spec::{compile_dir, DiskFs, VariableInputs};
    use std::path::Path;

    #[test]
    fn every_kind_has_one_schema_naming_it() {
        for kind in ResourceKind::ALL {
            let schema = kind.schema();
            assert_eq!(schema.kind, *kind);
            assert_eq!(schema.name, kind.as_str());
        }
    }

    #[test]
    fn the_graph_uses_exactly_the_attributes_and_references_the_schemas_declare() {
        for example in ["pets-app", "shop-blue-green", "secure-api"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(example);
            let compilation = compile_dir(&DiskFs, &dir, &VariableInputs::default());
            assert!(compilation.is_valid(), "{example}");
            let graph = compile_graph(&compilation.spec);
            for r in graph.resources() {
                let schema = r.kind.schema();
                for name in r.attributes.keys() {
                    assert!(
                        schema.attribute(name).is_some(),
                        "{}: attribute `{name}` is not in the {} schema",
                        r.address,
                        schema.name
                    );
                }
                assert_eq!(
                    r.tags.is_empty(),
                    !schema.tagged || schema.data,
                    "{}",
                    r.address
                );
                for dependency in graph.dependencies(&r.address) {
                    let to = graph.get(dependency).map(|d| d.kind);
                    assert!(
                        to.is_some_and(|k| schema.refers_to.contains(&k)),
                        "{} refers to {dependency}, a kind its schema does not list",
                        r.address
                    );
                }
            }
        }
    }
}
