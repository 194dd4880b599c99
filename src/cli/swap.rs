//! `swap` at the command line: the plan shown and confirmed, each gradual step, the outcome
//! and the records' TTL. The work is in `ops::swap`.

use super::{
    confirm, error, lock_refused, open, show_lock_event, AwsArgs, SpecArgs, EXIT_ERROR,
    EXIT_INTERRUPTED, EXIT_OK,
};
use crate::duration::parse_duration;
use crate::graph::compile::RECORD_TTL;
use crate::ops::swap::decide::{Refusal, SwapPlan, SwapRequest};
use crate::ops::swap::{
    swap as run_swap, SwapError, SwapEvent, SwapOutcome, SwapProgress, Swapped,
};
use crate::reconcile::render::render_calls;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct SwapArgs {
    /// One environment of the pair
    #[arg(value_name = "ENV_A")]
    pub environment_a: String,
    /// The other environment (same application)
    #[arg(value_name = "ENV_B")]
    pub environment_b: String,
    /// Swap even if the environment taking the production name is not healthy
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Move the production name in weighted steps, percentages ending at 100 (e.g. 10,50,100)
    #[arg(long, value_name = "PERCENTS", value_delimiter = ',')]
    pub gradual: Vec<u8>,
    /// Time between gradual steps: 60s, 2m, 500ms, or seconds (at most 24h)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub interval: String,
    /// When another command holds the application's lock, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
}

pub async fn swap(spec: &SpecArgs, aws: &AwsArgs, args: &SwapArgs) -> i32 {
    let interval = match parse_duration(&args.interval) {
        Ok(d) => d,
        Err(reason) => {
            return error(Refusal::BadInterval {
                given: args.interval.clone(),
                reason,
            })
        }
    };
    let request = SwapRequest {
        environment_a: args.environment_a.clone(),
        environment_b: args.environment_b.clone(),
        gradual: args.gradual.clone(),
        interval,
        force: args.force,
    };
    let opened = or_exit!(open(spec, aws).await);
    let mut plan: Option<SwapPlan> = None;
    let result = run_swap(
        opened.context(),
        &request,
        args.wait,
        &mut |_| confirm(args.yes, "swap", "--yes"),
        &mut |event| match event {
            SwapProgress::Lock(e) => show_lock_event(e),
            SwapProgress::Prepared(prepared) => {
                if aws.verbose {
                    eprintln!("{}", render_calls(&prepared.calls));
                }
                print_plan(&prepared.plan);
                plan = Some(prepared.plan.clone());
            }
            SwapProgress::Swap(e) => {
                if let Some(plan) = &plan {
                    show_step(plan, e)
                }
            }
            SwapProgress::NotRecorded { application, error } => eprintln!(
                "warning: could not record this swap in the events of {application}: {error}"
            ),
        },
    )
    .await;
    match (result, plan) {
        (Ok(Swapped::NotApproved), _) => EXIT_ERROR,
        (Ok(Swapped::Performed(outcome)), Some(plan)) => performed(&plan, outcome),
        (Ok(Swapped::Performed(_)), None) => EXIT_ERROR,
        (Err(SwapError::Lock(e)), _) => lock_refused(&e),
        (Err(e), _) => error(e),
    }
}

fn print_plan(plan: &SwapPlan) {
    if let Some(warning) = &plan.forced {
        eprintln!("warning: {warning}");
    }
    for line in plan.lines() {
        println!("{line}");
    }
}

fn show_step(plan: &SwapPlan, event: SwapEvent) {
    match event {
        SwapEvent::Step {
            number,
            of,
            take,
            interval,
        } => println!("{}", plan.step_line(number, of, take, interval)),
        SwapEvent::Checked { health } => println!("{}", plan.checked_line(&health)),
        SwapEvent::RollingBack { reason } => eprintln!("rolling back: {reason}"),
    }
}

fn performed(plan: &SwapPlan, outcome: SwapOutcome) -> i32 {
    match outcome {
        SwapOutcome::Swapped { at } => {
            for line in plan.swapped_lines(at, RECORD_TTL as u64) {
                println!("{line}");
            }
            EXIT_OK
        }
        SwapOutcome::RolledBack {
            reason,
            interrupted,
        } => {
            error(format!(
                "{reason}; rolled back: {} is served by {} again",
                plan.production, plan.giving.environment
            ));
            if interrupted {
                EXIT_INTERRUPTED
            } else {
                EXIT_ERROR
            }
        }
    }
}
