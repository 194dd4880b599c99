//! Times `validate` on a large spec: one application and 200 environments, each with an instance,
//! capacity, a load balancer with a health check (every 4th also HTTPS), permissions, properties
//! and tags, referring to variables, locals and the application. Measures `compile_dir` +
//! `compile_graph` (what `beanpole validate` and `beanpole graph` do before printing) on an
//! in-memory spec, so the disk is not timed.
//!
//! `cargo bench --bench validate` runs warm-up and timed iterations and prints min/median/max.
//! Under `cargo test --all-targets` (no `--bench` argument) it only checks, once, that the
//! generated spec is valid. Exits non-zero if the spec is not valid.

use beanpole::graph::compile_graph;
use beanpole::spec::report::{render_all, Style};
use beanpole::spec::{compile_dir, MemoryFs, VariableInputs};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const ENVIRONMENTS: usize = 200;
const WARM_UP: usize = 3;
const RUNS: usize = 20;

/// The spec: variables, locals and the application in `main.hcl`, environments in `envs.hcl`.
fn spec(environments: usize) -> MemoryFs {
    let main = r#"
variable "instance_type" {
  description = "Default EC2 instance type."
  type        = string
  default     = "t3.small"
}

variable "min" {
  type    = number
  default = 2
}

variable "max" {
  type    = number
  default = 8
}

variable "certificate_arn" {
  type    = string
  default = "arn:aws:acm:us-east-2:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
}

locals {
  app    = "fleet"
  team   = "platform"
  common = {
    LOG_LEVEL = "info"
    REGION    = "us-east-2"
  }
  table_arn = "arn:aws:dynamodb:us-east-2:123456789012:table/Fleet"
}

application "fleet" {
  description = "A fleet of ${length([1, 2, 3])} hundred environments for ${local.team}"
  region      = "us-east-2"
  domain      = "example.com"
  tags = {
    team = local.team
  }
}
"#;
    let mut envs = String::new();
    for i in 0..environments {
        let https = if i % 4 == 0 {
            "    https {\n      certificate_arn = var.certificate_arn\n    }\n".to_string()
        } else {
            String::new()
        };
        let instance_type = if i % 3 == 0 {
            "var.instance_type".to_string()
        } else {
            format!("\"{}\"", ["m7g.large", "c6i.xlarge"][i % 2])
        };
        envs.push_str(&format!(
            r#"
environment "svc-{i:03}" {{
  application = application.fleet
  cname       = "svc-{i:03}"
  platform    = "{platform}"
  proxy       = "{proxy}"
  description = "Service ${{upper("svc-{i:03}")}} of ${{application.fleet.name}}"
  properties = merge(local.common, {{
    SERVICE_INDEX = "{i}"
    APP_NAME      = local.app
    TABLE         = local.table_arn
  }})
  tags = {{
    team    = local.team
    service = "svc-{i:03}"
    tier    = "{tier}"
  }}

  instance {{
    type = {instance_type}
    port = 8000
  }}

  capacity {{
    min        = var.min
    max        = var.max + {extra}
    cpu_target = 60
  }}

  load_balancer {{
    idle_timeout = 60
{https}    health_check {{
      path     = "/health/svc-{i:03}"
      interval = 15
      timeout  = 5
      matcher  = "200-299"
    }}
  }}

  permissions {{
    managed_policies = ["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]
    statement {{
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
      resources = [local.table_arn]
    }}
    statement {{
      actions   = ["s3:GetObject"]
      resources = ["arn:aws:s3:::fleet-assets/svc-{i:03}/*"]
    }}
  }}
}}
"#,
            platform = beanpole::model::platform::PLATFORMS
                [i % beanpole::model::platform::PLATFORMS.len()],
            proxy = ["nginx", "apache"][i % 2],
            tier = ["gold", "silver", "bronze"][i % 3],
            extra = i % 4,
        ));
    }
    MemoryFs::new()
        .with_file("spec/main.hcl", main)
        .with_file("spec/envs.hcl", envs)
}

/// One `validate` + graph: (nodes, edges). `Err` with the rendered diagnostics if invalid.
fn run(fs: &MemoryFs) -> Result<(usize, usize), String> {
    let compilation = compile_dir(fs, Path::new("spec"), &VariableInputs::default());
    if !compilation.is_valid() {
        return Err(render_all(
            &compilation.diagnostics,
            &compilation.sources,
            &Style { color: false },
        ));
    }
    let graph = compile_graph(&compilation.spec);
    Ok((graph.len(), graph.graph.edge_count()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let fs = spec(ENVIRONMENTS);
    let text_bytes: usize = fs.files.iter().map(|(_, t)| t.len()).sum();
    let (nodes, edges) = match run(&fs) {
        Ok(counts) => counts,
        Err(diagnostics) => {
            eprintln!("benches/validate: the generated spec is not valid:\n{diagnostics}");
            return ExitCode::FAILURE;
        }
    };
    if !benchmarking {
        println!("validate: generated spec is valid ({nodes} nodes, {edges} edges); run `cargo bench --bench validate` to time it");
        return ExitCode::SUCCESS;
    }
    for _ in 0..WARM_UP {
        let _ = run(&fs);
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let result = run(&fs);
            let elapsed = started.elapsed();
            assert!(result.is_ok());
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "validate: 1 application, {ENVIRONMENTS} environments ({} KiB of HCL) -> {nodes} nodes, {edges} edges",
        text_bytes / 1024
    );
    println!(
        "compile_dir + compile_graph over {RUNS} runs ({WARM_UP} warm-up): min {:.2} ms, median {:.2} ms, max {:.2} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
    ExitCode::SUCCESS
}
