//! moto in server mode on 127.0.0.1, one server per test (so no test sees another's
//! resources), and optionally the delaying proxy in front of it. Fails loudly when moto is not
//! installed: run `scripts/test`, which installs it into `.venv`.

use super::free_port;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-2";

static ENVIRONMENT: Once = Once::new();

/// Fake credentials and no shared config, so nothing can reach a real account.
pub fn isolate_from_real_aws() {
    ENVIRONMENT.call_once(|| {
        for (key, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(key, value);
        }
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_ENDPOINT_URL");
    });
}

fn venv() -> PathBuf {
    super::manifest_dir().join(".venv/bin")
}

fn wait_listening(child: &mut Child, port: u16, what: &str) {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on 127.0.0.1:{port}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not listen on 127.0.0.1:{port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A moto server of this test's own; killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    proxy: Option<(Child, u16)>,
}

impl Moto {
    pub fn start() -> Moto {
        isolate_from_real_aws();
        let server = venv().join("moto_server");
        assert!(
            server.exists(),
            "moto is not installed at {}: run scripts/test (it installs moto[server] into .venv)",
            server.display()
        );
        let port = free_port();
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            // Fixes where moto is not AWS (scripts/moto-fixes/sitecustomize.py says which).
            .env(
                "PYTHONPATH",
                super::manifest_dir().join("scripts/moto-fixes"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        wait_listening(&mut child, port, "moto_server");
        Moto {
            child,
            port,
            proxy: None,
        }
    }

    /// Puts the delaying proxy in front: `endpoint()` then goes through it.
    pub fn with_delay(self, delay_ms: u64) -> Moto {
        self.with_proxy(delay_ms, "{}")
    }

    /// Puts the proxy in front with injected faults (see scripts/delay-proxy.py).
    pub fn with_proxy(mut self, delay_ms: u64, faults: &str) -> Moto {
        let port = free_port();
        let script = super::manifest_dir().join("scripts/delay-proxy.py");
        let mut child = Command::new(venv().join("python"))
            .arg(&script)
            .args([
                port.to_string(),
                self.port.to_string(),
                delay_ms.to_string(),
                faults.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the delaying proxy: {e}"));
        if let Some(out) = child.stdout.take() {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
        }
        wait_listening(&mut child, port, "delay-proxy.py");
        self.proxy = Some((child, port));
        self
    }

    /// Replaces the proxy's refusal and loss rules now (see scripts/delay-proxy.py).
    pub fn arm_faults(&self, faults: &serde_json::Value) {
        use std::io::{Read, Write};
        let (_, port) = self.proxy.as_ref().expect("arm_faults needs with_proxy");
        let body = faults.to_string();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", *port)).expect("the proxy");
        write!(
            stream,
            "POST /__faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write to the proxy");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.contains("armed"),
            "the proxy did not take the faults: {answer}"
        );
    }

    /// Where beanpole should send its calls.
    pub fn endpoint(&self) -> String {
        let port = self.proxy.as_ref().map(|(_, p)| *p).unwrap_or(self.port);
        format!("http://127.0.0.1:{port}")
    }

    /// Straight to moto, bypassing any proxy (for the test's own checks).
    pub fn direct_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK clients for the test's own checks and out-of-band changes.
    pub fn clients(&self) -> beanpole::aws::Aws {
        let connection = beanpole::aws::Connection {
            region: Some(REGION.to_string()),
            endpoint_url: Some(self.direct_endpoint()),
        };
        runtime()
            .block_on(beanpole::aws::Aws::connect(
                &connection,
                beanpole::aws::calls::CallCounter::new(),
            ))
            .expect("SDK clients for moto")
    }

    /// The public hosted zone of `domain`, as a user would have made it before using beanpole.
    pub fn create_zone(&self, domain: &str) -> String {
        let aws = self.clients();
        let out = runtime()
            .block_on(
                aws.route53
                    .create_hosted_zone()
                    .name(domain)
                    .caller_reference(format!("test-{domain}"))
                    .send(),
            )
            .expect("create hosted zone");
        out.hosted_zone()
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
            .expect("zone id")
    }

    /// The AWS CLI (the one the fleet's instances use) against this moto; its stdout.
    pub fn aws_cli(&self, args: &[&str]) -> String {
        let out = Command::new(venv().join("aws"))
            .args(args)
            .args(["--output", "json"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", self.direct_endpoint())
            .env_remove("AWS_PROFILE")
            .output()
            .expect("the AWS CLI in .venv (scripts/test installs it)");
        assert!(out.status.success(), "aws {args:?}: {}", super::text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The inline policy (`beanpole`) of the instance role of `environment`, as JSON text
    /// (IAM gives a document URL-encoded: decoded here).
    pub fn inline_policy(&self, environment: &str) -> String {
        let aws = self.clients();
        runtime().block_on(async {
            let roles = aws.iam.list_roles().send().await.unwrap();
            let role = roles
                .roles()
                .iter()
                .find(|r| r.role_name().contains(environment))
                .unwrap_or_else(|| panic!("no role for {environment}"))
                .role_name()
                .to_string();
            let policy = aws
                .iam
                .get_role_policy()
                .role_name(&role)
                .policy_name("beanpole")
                .send()
                .await
                .unwrap();
            url_decoded(policy.policy_document())
        })
    }

    /// The zone's CNAME and TXT records, as Route53 reports them.
    pub fn records(&self, zone: &str) -> Vec<Record> {
        let aws = self.clients();
        runtime().block_on(async {
            let out = aws
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .expect("ListResourceRecordSets");
            out.resource_record_sets()
                .iter()
                .filter(|r| matches!(r.r#type().as_str(), "CNAME" | "TXT"))
                .map(|r| Record {
                    name: r.name().trim_end_matches('.').to_string(),
                    kind: r.r#type().as_str().to_string(),
                    set_identifier: r.set_identifier().map(str::to_string),
                    weight: r.weight(),
                    value: r
                        .resource_records()
                        .first()
                        .map(|v| v.value().to_string())
                        .unwrap_or_default(),
                })
                .collect()
        })
    }

    /// A `beanpole` command for `dir`, pointed at this moto.
    pub fn beanpole(&self, dir: &Path) -> Command {
        let mut command = super::beanpole(dir);
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env_remove("AWS_PROFILE");
        command
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some((proxy, _)) = &mut self.proxy {
            let _ = proxy.kill();
            let _ = proxy.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CNAME or TXT record of a hosted zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub kind: String,
    pub set_identifier: Option<String>,
    pub weight: Option<i64>,
    pub value: String,
}

/// A current-thread runtime for the tests' own SDK calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `text` URL-decoded, unless it is JSON already.
fn url_decoded(text: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
