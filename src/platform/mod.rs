//! Elastic Beanstalk's Python platform, as Beanpole runs it: the settings an application runs
//! with ([`settings`]), the deployment document handed to the platform engine ([`document`]),
//! and the engine itself: `engine/`, a Python 3.9 standard-library package shipped inside
//! the Beanpole binary that does on an instance (or in a folder of this machine) what EB's
//! platform engine does. Pure: nothing here runs the engine.

pub mod boot;
pub mod command;
pub mod daemon;
pub mod document;
pub mod engine;
pub mod options;
pub mod precedence;
pub mod report;
pub mod settings;

/// The engine's content address: the first 16 hex digits of its archive's sha256.
pub fn engine_digest() -> String {
    engine::digest().to_string()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
