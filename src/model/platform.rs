//! Elastic Beanstalk's Python platform branches and proxies, and what they imply for an instance:
//! the AMI parameter, the Python package, the proxy's configuration and the WSGI server's bind.

use serde::Serialize;
use std::fmt;

/// The Python platform branches of Elastic Beanstalk on Amazon Linux 2023, which are the
/// Pythons that distribution packages: its system Python 3.9 (`python3`) and `python3.11`,
/// `python3.12`, `python3.13`. There is no 3.10 on Amazon Linux 2023.
pub const PLATFORMS: &[&str] = &["python-3.9", "python-3.11", "python-3.12", "python-3.13"];

pub const PROXIES: &[&str] = &["nginx", "apache"];

/// The WSGI server's bind address behind the proxy, as on Elastic Beanstalk.
pub const WSGI_BIND: &str = "127.0.0.1:8000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Platform {
    /// "3.12"
    pub python_version: String,
}

impl Platform {
    pub fn parse(name: &str) -> Option<Platform> {
        PLATFORMS.contains(&name).then(|| Platform {
            python_version: name.trim_start_matches("python-").to_string(),
        })
    }

    /// The Amazon Linux 2023 package providing this Python (3.9 is the system `python3`).
    pub fn python_package(&self) -> String {
        if self.python_version == "3.9" {
            "python3".to_string()
        } else {
            format!("python{}", self.python_version)
        }
    }

    /// The interpreter's command on Amazon Linux 2023.
    pub fn python_command(&self) -> String {
        format!("python{}", self.python_version)
    }

    /// Public SSM parameter holding the latest Amazon Linux 2023 AMI for an architecture.
    pub fn ami_parameter(architecture: Architecture) -> &'static str {
        match architecture {
            Architecture::X86_64 => {
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
            }
            Architecture::Arm64 => {
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
            }
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "python-{}", self.python_version)
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proxy {
    Nginx,
    Apache,
}

impl Proxy {
    pub fn parse(name: &str) -> Option<Proxy> {
        match name {
            "nginx" => Some(Proxy::Nginx),
            "apache" => Some(Proxy::Apache),
            _ => None,
        }
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proxy::Nginx => "nginx",
            Proxy::Apache => "apache",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

/// Graviton instance families (`t4g`, `m7g`, `c7gn`, …) are arm64; everything else x86_64.
pub fn architecture_of(instance_type: &str) -> Architecture {
    let family = instance_type.split('.').next().unwrap_or("");
    let generation_and_suffix = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = generation_and_suffix.trim_start_matches(|c: char| c.is_ascii_digit());
    let graviton = suffix.starts_with('g') && !family.starts_with('g') && !family.starts_with('p');
    if graviton || family == "a1" {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_types_are_arm64() {
        assert_eq!(architecture_of("t4g.small"), Architecture::Arm64);
        assert_eq!(architecture_of("c7gn.large"), Architecture::Arm64);
        assert_eq!(architecture_of("m7g.xlarge"), Architecture::Arm64);
        assert_eq!(architecture_of("t3.small"), Architecture::X86_64);
        assert_eq!(architecture_of("g5.xlarge"), Architecture::X86_64);
        assert_eq!(architecture_of("m5zn.large"), Architecture::X86_64);
    }

    #[test]
    fn platforms_parse() {
        assert_eq!(
            Platform::parse("python-3.12").map(|p| p.python_package()),
            Some("python3.12".into())
        );
        assert_eq!(
            Platform::parse("python-3.9").map(|p| p.python_package()),
            Some("python3".into())
        );
        assert!(Platform::parse("python-2.7").is_none());
        assert!(Platform::parse("python-3.10").is_none());
    }
}
