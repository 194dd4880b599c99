//! `bundle` at the command line: which folder, what went in and why, the sha256 and the
//! default version label, or every reason the bundle is refused.

use super::{error, load_spec, plural, SpecArgs, EXIT_ERROR, EXIT_OK};
use crate::ops::bundle::{bundle as build_bundle, BundleError, BundleRequest};
use crate::ops::now_unix;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// The application's source folder (default: `app` beside the spec of the one application)
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Write the zip to FILE
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The WSGI entry point to require when there is no Procfile (default: the spec's
    /// `wsgi.path`, else the bundle's `.ebextensions` WSGIPath, else application:application)
    #[arg(long = "wsgi-path", value_name = "MODULE:CALLABLE")]
    pub wsgi_path: Option<String>,
}

pub fn bundle(spec: &SpecArgs, args: &BundleArgs) -> i32 {
    let (source, environment) = match &args.source {
        Some(dir) => (dir.clone(), None),
        None => {
            let (compilation, _) = match load_spec(spec) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match compilation.spec.the_application(None) {
                Ok(application) => (
                    application.source.clone(),
                    // With one environment, its settings are what the options join.
                    match compilation
                        .spec
                        .environments
                        .iter()
                        .filter(|e| e.application == application.name)
                        .collect::<Vec<_>>()
                        .as_slice()
                    {
                        [only] => Some((*only).clone()),
                        _ => None,
                    },
                ),
                Err(why) => return error(format!("{why}: pass `--source DIR`")),
            }
        }
    };
    let request = BundleRequest {
        source: source.clone(),
        wsgi_path: args.wsgi_path.clone(),
        out: args.out.clone(),
        environment,
    };
    match build_bundle(&request) {
        Ok(report) => {
            println!(
                "Bundle of {}{}:",
                source.display(),
                report
                    .rules_file
                    .as_deref()
                    .map(|f| format!(" (ignore rules: {f})"))
                    .unwrap_or_default()
            );
            for (path, why) in &report.included {
                if why.is_empty() {
                    println!("  + {path}");
                } else {
                    println!("  + {path}  ({why})");
                }
            }
            for (path, why) in &report.excluded {
                println!("  - {path}  ({why})");
            }
            let files = report.bundle.paths.len();
            println!(
                "{files} file{}, {} bytes zipped, sha256 {}",
                if files == 1 { "" } else { "s" },
                report.bundle.bytes.len(),
                report.bundle.sha256
            );
            println!(
                "Default version label: {}",
                report.bundle.default_label(now_unix())
            );
            let ext = &report.bundle.ebextensions;
            let carried = ext.packages.len()
                + ext.files.len()
                + ext.commands.len()
                + ext.container_commands.len()
                + ext.option_settings.len();
            if carried > 0 {
                println!(
                    ".ebextensions: {} option setting{}, {} package{}, {} file{}, {} command{}, {} container command{}; WSGI path {}",
                    ext.option_settings.len(),
                    plural(ext.option_settings.len()),
                    ext.packages.len(),
                    plural(ext.packages.len()),
                    ext.files.len(),
                    plural(ext.files.len()),
                    ext.commands.len(),
                    plural(ext.commands.len()),
                    ext.container_commands.len(),
                    plural(ext.container_commands.len()),
                    report.bundle.wsgi_path
                );
            }
            for u in &ext.unsupported {
                eprintln!(
                    "warning: {}: `{}` is not carried out: {}",
                    u.file, u.key, u.reason
                );
            }
            if let Some(out) = &args.out {
                println!("Wrote the bundle to {}.", out.display());
            }
            EXIT_OK
        }
        Err(BundleError::Refused {
            source_dir,
            problems,
        }) => {
            for problem in &problems {
                error(problem);
            }
            error(format!(
                "the bundle of {source_dir} is refused ({} problem{} above); nothing was written",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            EXIT_ERROR
        }
        Err(e) => error(e),
    }
}
