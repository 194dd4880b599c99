//! `bundle` at the command line: which folder, what went in and why, the sha256 and the
//! default version label, or every reason the bundle is refused.

use super::{error, load_spec, plural, SpecArgs, EXIT_OK};
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
            let (compilation, _) = or_exit!(load_spec(spec));
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
            for line in report.lines(&source, now_unix()) {
                println!("{line}");
            }
            for u in &report.warnings {
                eprintln!("warning: {u}");
            }
            if let Some(out) = &args.out {
                println!("Wrote the bundle to {}.", out.display());
            }
            EXIT_OK
        }
        Err(BundleError::Refused {
            source_dir,
            problems,
            warnings,
        }) => {
            for u in &warnings {
                eprintln!("warning: {u}");
            }
            for problem in &problems {
                error(problem);
            }
            error(format!(
                "the bundle of {source_dir} is refused ({} problem{} above); nothing was written",
                problems.len(),
                plural(problems.len())
            ))
        }
        Err(e) => error(e),
    }
}
