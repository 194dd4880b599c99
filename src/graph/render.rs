//! Renders a resource graph as JSON (`{"nodes": […], "edges": […]}`) or Graphviz DOT. Output is
//! deterministic: nodes and edges are sorted by address.

use super::ResourceGraph;
use serde_json::json;

pub fn to_json(graph: &ResourceGraph) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = graph
        .resources()
        .map(|r| {
            json!({
                "address": r.address,
                "kind": r.kind,
                "aws_name": r.aws_name,
                "application": r.application,
                "environment": r.environment,
                "data": r.kind.is_data(),
                "depends_on": graph.dependencies(&r.address),
                "attributes": r.attributes,
                "tags": r.tags,
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .edges()
        .into_iter()
        .map(|(from, to)| json!({ "from": from, "to": to }))
        .collect();
    json!({ "nodes": nodes, "edges": edges })
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn to_dot(graph: &ResourceGraph) -> String {
    let mut out = String::from("digraph beanpole {\n  rankdir = \"LR\";\n  node [shape = \"box\", fontname = \"Helvetica\"];\n");
    let mut current_env: Option<String> = None;
    for resource in graph.resources() {
        let cluster = resource
            .address
            .0
            .rsplit_once('.')
            .map(|(prefix, _)| prefix.to_string())
            .unwrap_or_default();
        if current_env.as_deref() != Some(cluster.as_str()) {
            if current_env.is_some() {
                out.push_str("  }\n");
            }
            out.push_str(&format!(
                "  subgraph \"cluster_{}\" {{\n    label = \"{}\";\n",
                dot_escape(&cluster),
                dot_escape(&cluster)
            ));
            current_env = Some(cluster);
        }
        let style = if resource.kind.is_data() {
            ", style = \"dashed\""
        } else {
            ""
        };
        out.push_str(&format!(
            "    \"{}\" [label = \"{}\\n{}\"{style}];\n",
            dot_escape(&resource.address.0),
            dot_escape(resource.kind.as_str()),
            dot_escape(&resource.aws_name),
        ));
    }
    if current_env.is_some() {
        out.push_str("  }\n");
    }
    for (from, to) in graph.edges() {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\";\n",
            dot_escape(&from.0),
            dot_escape(&to.0)
        ));
    }
    out.push_str("}\n");
    out
}
