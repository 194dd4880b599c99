//! `logs ENV` at the command line: each instance's logs grouped by instance, or whole files
//! in one zip with `--all`. The work is in `ops::logs`.

use super::{error, open, plural, printable, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::logs::{logs as collect_logs, InstanceLogs, LogsRequest};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The environment whose instances' logs to show
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// Only this instance
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// Last lines of each log
    #[arg(long, default_value_t = 100)]
    pub lines: u32,
    /// Whole log files, written to one zip (see --out) instead of printed
    #[arg(long)]
    pub all: bool,
    /// Where --all writes the zip (default: logs-ENV-UNIXTIME.zip here)
    #[arg(long, value_name = "FILE", requires = "all")]
    pub out: Option<PathBuf>,
}

pub async fn logs(spec_args: &SpecArgs, aws: &AwsArgs, args: &LogsArgs) -> i32 {
    let opened = or_exit!(open(spec_args, aws).await);
    let request = LogsRequest {
        environment: args.environment.clone(),
        instance: args.instance.clone(),
        lines: if args.all { 0 } else { args.lines },
    };
    let answers = or_exit!(collect_logs(opened.context(), &request)
        .await
        .map_err(error));
    let missing = answers.iter().filter(|a| a.missing.is_some()).count();
    if args.all {
        let out = args.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "logs-{}-{}.zip",
                args.environment,
                crate::duration::now_unix()
            ))
        });
        if let Err(code) = write_zip(&answers, &out, missing) {
            return code;
        }
    } else {
        for answer in &answers {
            println!(
                "==================== {} ====================",
                answer.instance
            );
            for (path, text) in &answer.logs {
                println!("---------- {} ----------", printable(path));
                println!("{}", printable(text));
            }
        }
    }
    for answer in &answers {
        if let Some(why) = &answer.missing {
            eprintln!("{}: {why}", answer.instance);
        }
    }
    if missing > 0 {
        return error(format!(
            "{missing} of {} instance{} sent no logs",
            answers.len(),
            plural(answers.len())
        ));
    }
    EXIT_OK
}

/// Every instance's log files in one zip, under a folder per instance.
fn write_zip(answers: &[InstanceLogs], out: &Path, missing: usize) -> Result<(), i32> {
    let mut entries = Vec::new();
    for answer in answers {
        for (path, text) in &answer.logs {
            entries.push(crate::bundle::zip::Entry {
                path: format!("{}/{}", answer.instance, path.trim_start_matches('/')),
                data: crate::bundle::zip::EntryData::File {
                    mode: 0o644,
                    bytes: text.as_bytes().to_vec(),
                },
            });
        }
    }
    let written = crate::bundle::zip::write(&entries).and_then(|bytes| std::fs::write(out, bytes));
    if let Err(e) = written {
        return Err(error(format!("cannot write {}: {e}", out.display())));
    }
    println!(
        "Wrote the logs of {} instance{} ({} files) to {}",
        answers.len() - missing,
        plural(answers.len() - missing),
        entries.len(),
        out.display()
    );
    Ok(())
}
