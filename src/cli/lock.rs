//! `unlock APP --force`: removes an application's lock whoever holds it (for a holder that
//! died, when waiting out its lease is not wanted).

use super::{error, load_spec, AwsArgs, SpecArgs, EXIT_OK};
use crate::ops::lock::{force_unlock, Unlocked};
use crate::ops::Session;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct UnlockArgs {
    /// The application whose lock to remove
    #[arg(value_name = "APP")]
    pub application: String,
    /// Required: the command holding the lock may still be working
    #[arg(long)]
    pub force: bool,
}

pub async fn unlock(spec: &SpecArgs, aws: &AwsArgs, args: &UnlockArgs) -> i32 {
    let (compilation, _) = or_exit!(load_spec(spec));
    if let Err(why) = compilation.spec.the_application(Some(&args.application)) {
        return error(why);
    }
    if !args.force {
        return error(format!(
            "unlocking lets another command start while the holder may still be working: run `beanpole unlock {} --force` if you are sure it is gone (a holder that died is also taken over by the next command once its lease expires)",
            args.application
        ));
    }
    let session = or_exit!(Session::open(&compilation, aws.endpoint_url.as_deref())
        .await
        .map_err(error));
    match force_unlock(&session, &args.application).await {
        Ok(Unlocked::Held(holder)) => {
            println!(
                "Removed the lock of {}: it was held by {}.",
                args.application,
                super::printable(&holder.describe())
            );
            EXIT_OK
        }
        Ok(Unlocked::Unreadable(reason)) => {
            println!(
                "Removed the lock of {}: it was not a lock Beanpole wrote ({reason}).",
                args.application
            );
            EXIT_OK
        }
        Ok(Unlocked::NotLocked) => {
            println!("{} was not locked.", args.application);
            EXIT_OK
        }
        Err(e) => error(e),
    }
}
