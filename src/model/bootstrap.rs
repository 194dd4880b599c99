//! The instance bootstrap of the Python platform: what Elastic Beanstalk's platform does on an
//! instance, as a user-data script. The Python branch's interpreter, the proxy (nginx or Apache)
//! on the instance port forwarding to gunicorn on 127.0.0.1:8000, and the environment
//! properties as the application's environment variables. Deterministic: it is part of the
//! launch template, so any change to it is a new template version.

use super::platform::WSGI_BIND;
use super::{Environment, Proxy};

/// Single-quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
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
    script.push_str("cat > /etc/beanpole/environment <<'BEANPOLE_PROPERTIES'\n");
    for (key, value) in &env.properties {
        script.push_str(&format!("{key}={}\n", shell_quote(value)));
    }
    script.push_str("BEANPOLE_PROPERTIES\n");
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
            script.push_str(&format!(
                "Listen {port}\n<VirtualHost *:{port}>\n  ProxyPass / http://{WSGI_BIND}/\n  ProxyPassReverse / http://{WSGI_BIND}/\n</VirtualHost>\n"
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
