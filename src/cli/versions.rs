//! `versions` at the command line: list an application's versions (label, created, size,
//! sha256, message, environments running it), create one from the source folder, delete one
//! no environment runs.

use super::{error, load_spec, AwsArgs, SpecArgs, EXIT_OK};
use crate::model::Spec;
use crate::ops::bundle::BundleError;
use crate::ops::versions::{self, VersionError};
use crate::ops::Session;
use crate::spec::Compilation;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The application (default: the spec's only application)
    #[arg(long = "app", value_name = "NAME")]
    pub application: Option<String>,
    /// Print JSON: {"application", "bucket", "versions": [{label, created, size, sha256, message, environments}]}
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum VersionsCommand {
    /// Bundle the source folder and store it as a version (no deployment), like `eb appversion --create`
    Create {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        args: CreateArgs,
    },
    /// Delete a version (its bundle too); refused while an environment runs it
    Delete {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// The version's label
        label: String,
        /// The application (default: the spec's only application)
        #[arg(long = "app", value_name = "NAME")]
        application: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The application (default: the spec's only application)
    #[arg(long = "app", value_name = "NAME")]
    pub application: Option<String>,
    /// The version's label (default: app-YYMMDD_HHMMSS-SHA7)
    #[arg(long)]
    pub label: Option<String>,
    /// A description of the version (one line, at most 200 characters)
    #[arg(long, default_value = "")]
    pub message: String,
    /// The source folder (default: the application's `source`)
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

/// The application a command names, or the spec's only one.
fn application_of(spec: &Spec, named: Option<&str>) -> Result<String, i32> {
    spec.the_application(named)
        .map(|a| a.name.clone())
        .map_err(|why| match named {
            Some(_) => error(why),
            None => error(format!("{why}: name one with `--app`")),
        })
}

/// The spec, the application named (or the only one) and an AWS session for it.
async fn open(
    spec_args: &SpecArgs,
    aws: &AwsArgs,
    named: Option<&str>,
) -> Result<(Compilation, String, Session), i32> {
    let (compilation, _) = load_spec(spec_args)?;
    let application = application_of(&compilation.spec, named)?;
    let session = Session::open(&compilation, aws.endpoint_url.as_deref())
        .await
        .map_err(error)?;
    Ok((compilation, application, session))
}

pub async fn list(spec_args: &SpecArgs, aws: &AwsArgs, args: &ListArgs) -> i32 {
    let (_, application, session) =
        or_exit!(open(spec_args, aws, args.application.as_deref()).await);
    let report = or_exit!(versions::list(&session, &application).await.map_err(error));
    super::warn_skipped(&report.unreadable);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
        return EXIT_OK;
    }
    if report.versions.is_empty() {
        println!("{application} has no versions yet (in {}).", report.bucket);
        return EXIT_OK;
    }
    for line in report.table() {
        println!("{}", super::printable(&line));
    }
    EXIT_OK
}

pub async fn command(command: &VersionsCommand) -> i32 {
    match command {
        VersionsCommand::Create { spec, aws, args } => create(spec, aws, args).await,
        VersionsCommand::Delete {
            spec,
            aws,
            label,
            application,
        } => delete(spec, aws, label, application.as_deref()).await,
    }
}

async fn create(spec_args: &SpecArgs, aws: &AwsArgs, args: &CreateArgs) -> i32 {
    let (compilation, application, session) =
        or_exit!(open(spec_args, aws, args.application.as_deref()).await);
    let source = args.source.clone().unwrap_or_else(|| {
        compilation
            .spec
            .application(&application)
            .map(|a| a.source.clone())
            .unwrap_or_default()
    });
    let request = versions::CreateRequest {
        application: application.clone(),
        source,
        wsgi_path: None,
        label: args.label.clone(),
        message: args.message.clone(),
    };
    let created = versions::create(&session, &request).await;
    if let Ok(report) = &created {
        for u in &report.bundle.warnings {
            eprintln!("warning: {u}");
        }
    }
    match created {
        Ok(report) if report.created.reused => {
            println!(
                "Version {} of {application} has the same sha256 ({}): nothing uploaded.",
                report.created.manifest.label, report.created.manifest.sha256
            );
            EXIT_OK
        }
        Ok(report) => {
            println!(
                "Created version {} of {application}: {} bytes, sha256 {}, in s3://{}/{}.",
                report.created.manifest.label,
                report.created.manifest.size,
                report.created.manifest.sha256,
                report.bucket,
                crate::bucket::bundle_key(&application, &report.created.manifest.label)
            );
            EXIT_OK
        }
        Err(VersionError::Bundle(BundleError::Refused {
            source_dir,
            problems,
            warnings,
        })) => {
            for u in &warnings {
                eprintln!("warning: {u}");
            }
            for problem in &problems {
                error(problem);
            }
            error(format!(
                "the bundle of {source_dir} is refused ({} problem{} above); nothing was uploaded",
                problems.len(),
                super::plural(problems.len())
            ))
        }
        Err(e) => error(e),
    }
}

async fn delete(spec_args: &SpecArgs, aws: &AwsArgs, label: &str, named: Option<&str>) -> i32 {
    let (_, application, session) = or_exit!(open(spec_args, aws, named).await);
    match versions::delete(&session, &application, label).await {
        Ok(manifest) => {
            println!(
                "Deleted version {} of {application} (sha256 {}).",
                manifest.label, manifest.sha256
            );
            EXIT_OK
        }
        Err(e) => error(e),
    }
}
