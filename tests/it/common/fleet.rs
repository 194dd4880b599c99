//! The local fleet, for tests: `beanpole local fleet` as a child process (the instances' AWS
//! CLI from `.venv`, pip from the wheelhouse when there is one), read through its fleet.json,
//! stopped with Ctrl-C (SIGINT) when dropped.

use super::moto::Moto;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub struct Fleet {
    child: Option<Child>,
    pub dir: PathBuf,
    pub log: PathBuf,
}

/// One instance as fleet.json shows it.
#[derive(Debug, Clone)]
pub struct Member {
    pub instance: String,
    pub environment: String,
    /// The instance's folder (its EB paths, in its view).
    pub root: PathBuf,
    pub port: u16,
    pub state: String,
}

impl Fleet {
    pub fn start(moto: &Moto, spec_dir: &Path, wheelhouse_env: &[(String, String)]) -> Fleet {
        let dir = spec_dir.join(".fleet");
        let log = spec_dir.join("fleet.log");
        let venv_bin = super::manifest_dir().join(".venv/bin");
        assert!(
            venv_bin.join("aws").exists(),
            "the AWS CLI is not in .venv: scripts/test installs it (the fleet's instances' `aws`)"
        );
        let path = format!(
            "{}:{}",
            venv_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::fs::File::create(&log).unwrap();
        let child = moto
            .beanpole(spec_dir)
            .args(["local", "fleet", "--fleet-dir"])
            .arg(&dir)
            .env("PATH", path)
            // The instances' AWS CLI goes to moto directly (no fault-injecting proxy).
            .env("AWS_ENDPOINT_URL", moto.direct_endpoint())
            .envs(wheelhouse_env.iter().cloned())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("beanpole local fleet");
        Fleet {
            child: Some(child),
            dir,
            log,
        }
    }

    pub fn members(&self) -> Vec<Member> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("fleet.json")) else {
            return Vec::new();
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            return Vec::new();
        };
        json["instances"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| Member {
                instance: m["instance"].as_str().unwrap_or_default().to_string(),
                environment: m["environment"].as_str().unwrap_or_default().to_string(),
                root: PathBuf::from(m["root"].as_str().unwrap_or_default()),
                port: m["port"].as_u64().unwrap_or_default() as u16,
                state: m["state"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// Waits until `count` instances of `environment` serve; returns them.
    pub fn wait_serving(&self, environment: &str, count: usize, within: Duration) -> Vec<Member> {
        let deadline = Instant::now() + within;
        loop {
            let serving: Vec<Member> = self
                .members()
                .into_iter()
                .filter(|m| m.environment == environment && m.state == "serving")
                .collect();
            if serving.len() >= count {
                return serving;
            }
            assert!(
                Instant::now() < deadline,
                "{count} instances of {environment} not serving after {within:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C, as a user stops it; the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: signalling the child this struct started.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}
