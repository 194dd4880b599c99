//! The spec front end: HCL text in, typed [`crate::model::Spec`] and diagnostics out. Pure: it
//! reads files only through the [`load::SpecFs`] it is handed, and never talks to AWS.

pub mod checks;
pub mod compile;
pub mod decode;
pub mod diagnostic;
pub mod eval;
pub mod functions;
pub mod load;
pub mod report;
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

/// An environment of `tier` with nothing written but its application and platform (a
/// required one): each attribute at the default the compiler gives it (Elastic Beanstalk's),
/// to compare a spec's values with.
pub fn default_environment(tier: crate::model::Tier) -> Option<crate::model::Environment> {
    let platform = crate::model::platform::PLATFORMS.last()?;
    let tier = match tier {
        crate::model::Tier::Web => "web",
        crate::model::Tier::Worker => "worker",
    };
    let fs = MemoryFs::new().with_file(
        "defaults/main.hcl",
        format!(
            "application \"a\" {{\n  region = \"us-east-1\"\n}}\nenvironment \"a-default\" {{\n  application = application.a\n  platform = \"{platform}\"\n  tier = \"{tier}\"\n}}\n"
        ),
    );
    let compilation = compile_dir(
        &fs,
        std::path::Path::new("defaults"),
        &VariableInputs::default(),
    );
    compilation
        .is_valid()
        .then(|| compilation.spec.environments.into_iter().next())
        .flatten()
}

/// For the unit tests of what consumes the model.
#[cfg(test)]
pub mod test_support {
    /// The one environment of a spec: application `a` (us-east-2) and environment `a-prod`
    /// on python-3.12, with `body` added inside the environment block.
    pub fn one_environment(body: &str) -> crate::model::Environment {
        let fs = super::MemoryFs::new().with_file(
            "spec/main.hcl",
            format!(
                "application \"a\" {{\n  region = \"us-east-2\"\n}}\nenvironment \"a-prod\" {{\n  application = application.a\n  platform = \"python-3.12\"\n{body}\n}}\n"
            ),
        );
        let compilation = super::compile_dir(
            &fs,
            std::path::Path::new("spec"),
            &super::VariableInputs::default(),
        );
        assert!(compilation.is_valid(), "{:?}", compilation.diagnostics);
        compilation.spec.environments[0].clone()
    }
}
