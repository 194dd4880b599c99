//! The instance bootstrap of the Python platform: what Elastic Beanstalk's platform does on an
//! instance, as a user-data script. The Python branch's interpreter, the proxy (nginx or Apache)
//! on the instance port forwarding to gunicorn on 127.0.0.1:8000, and the environment
//! properties as the application's environment variables. Deterministic: it is part of the
//! launch template, so any change to it is a new template version.

use super::platform::WSGI_BIND;
use super::{Environment, Proxy};

/// The environment file systemd reads for the web process: `NAME="value"` lines, the value
/// double-quoted with `\` and `"` escaped (systemd's EnvironmentFile syntax; it expands
/// nothing). Names are environment-variable names and values hold no control characters
/// (the spec refuses both), so every property is exactly one line.
pub fn environment_file(env: &Environment) -> String {
    let mut file = String::new();
    for (key, value) in &env.properties {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        file.push_str(&format!("{key}=\"{escaped}\"\n"));
    }
    file
}

/// Standard base64 (RFC 4648, padded): the only form in which file contents enter the script,
/// so no spec value can end a quote or a heredoc and run as a command.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn user_data(env: &Environment) -> String {
    let python = env.platform.python_package();
    let port = env.instance.port;
    let mut script = String::new();
    script.push_str("#!/bin/bash\n");
    script.push_str(&format!(
        "# Beanpole platform {} ({}) for environment {} of application {}\n",
        env.platform, env.proxy, env.name, env.application
    ));
    script.push_str("set -euo pipefail\n");
    let proxy_package = match env.proxy {
        Proxy::Nginx => "nginx",
        Proxy::Apache => "httpd",
    };
    script.push_str(&format!(
        "dnf install -y {python} {python}-pip {proxy_package}\n"
    ));
    script.push_str("mkdir -p /var/app/current /etc/beanpole\n");
    script.push_str(&format!("{python} -m venv /var/app/venv\n"));
    script.push_str("/var/app/venv/bin/pip install --quiet gunicorn\n");
    // The properties reach the instance base64-encoded: a value is data, never script text.
    script.push_str(&format!(
        "echo '{}' | base64 -d > /etc/beanpole/environment\n",
        base64(environment_file(env).as_bytes())
    ));
    match env.proxy {
        Proxy::Nginx => {
            script.push_str("cat > /etc/nginx/conf.d/beanpole.conf <<'BEANPOLE_PROXY'\n");
            script.push_str(&format!(
                "server {{\n  listen {port} default_server;\n  location / {{\n    proxy_pass http://{WSGI_BIND};\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  }}\n}}\n"
            ));
            script.push_str("BEANPOLE_PROXY\n");
            script.push_str("systemctl enable --now nginx\n");
        }
        Proxy::Apache => {
            script.push_str("cat > /etc/httpd/conf.d/beanpole.conf <<'BEANPOLE_PROXY'\n");
            // Amazon Linux's httpd.conf already says `Listen 80`: a second one for the same
            // port stops httpd from starting.
            if port != 80 {
                script.push_str(&format!("Listen {port}\n"));
            }
            script.push_str(&format!(
                "<VirtualHost *:{port}>\n  ProxyPass / http://{WSGI_BIND}/\n  ProxyPassReverse / http://{WSGI_BIND}/\n</VirtualHost>\n"
            ));
            script.push_str("BEANPOLE_PROXY\n");
            script.push_str("systemctl enable --now httpd\n");
        }
    }
    script.push_str(&format!(
        "cat > /etc/systemd/system/web.service <<'BEANPOLE_WEB'\n[Unit]\nDescription=Procfile web process\n[Service]\nWorkingDirectory=/var/app/current\nEnvironmentFile=/etc/beanpole/environment\nExecStart=/var/app/venv/bin/gunicorn --bind {WSGI_BIND} --workers=1 --threads=15 application:application\nRestart=always\n[Install]\nWantedBy=multi-user.target\nBEANPOLE_WEB\n"
    ));
    script.push_str("systemctl daemon-reload\nsystemctl enable web.service\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_listens_once_on_the_instance_port() {
        let mut env = crate::spec::test_support::one_environment("  proxy = \"apache\"");
        assert!(
            !user_data(&env).contains("Listen 80"),
            "{}",
            user_data(&env)
        );
        env.instance.port = 8080;
        assert!(user_data(&env).contains("Listen 8080\n"));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn environment_file_escapes_quotes_and_backslashes() {
        let mut env = crate::spec::test_support::one_environment("");
        env.properties.insert(
            "A".into(),
            r#"it's "quoted" \ $(id) `id` BEANPOLE_PROPERTIES"#.into(),
        );
        assert_eq!(
            environment_file(&env),
            "A=\"it's \\\"quoted\\\" \\\\ $(id) `id` BEANPOLE_PROPERTIES\"\n"
        );
        let script = user_data(&env);
        // The value is nowhere in the script as text: only its encoding is.
        assert!(!script.contains("$(id)"), "{script}");
        assert!(!script.contains("BEANPOLE_PROPERTIES"), "{script}");
        assert!(script.contains(&base64(environment_file(&env).as_bytes())));
    }
}
