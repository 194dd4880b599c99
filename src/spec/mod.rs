//! The spec front end: HCL text in, typed [`crate::model::Spec`] and diagnostics out. Pure: it
//! reads files only through the [`load::SpecFs`] it is handed, and never talks to AWS.

pub mod checks;
pub mod compile;
pub mod decode;
pub mod diagnostic;
pub mod eval;
pub mod functions;
pub mod load;
pub mod source;
pub mod value;
pub mod variables;

pub use compile::{compile_dir, Compilation};
pub use diagnostic::{Diagnostic, SpecError};
pub use load::{DiskFs, MemoryFs, SpecFs};
pub use source::{FileId, SourceMap, Span};
pub use variables::VariableInputs;

#[cfg(test)]
mod tests;
