//! `logs ENV` at the command line: each instance's logs grouped by instance, or whole files
//! in one zip with `--all`. The work is in `ops::logs`.

use super::{error, open, plural, printable, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::logs::{logs as collect_logs, write_zip, LogsRequest};
use clap::Args;
use std::path::PathBuf;

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
        let files = or_exit!(write_zip(&answers, &out).map_err(error));
        let wrote = answers.len() - missing;
        println!(
            "Wrote the logs of {wrote} instance{} ({files} files) to {}",
            plural(wrote),
            out.display()
        );
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
