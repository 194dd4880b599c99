"""The proxy in front of the application, as EB's Python platform configures it: nginx (the
default) or Apache on the environment's port, forwarding to gunicorn on 127.0.0.1:PORT,
serving static files from the application's folders, with the bundle's `.platform/nginx` or
`.platform/httpd` files laid over EB's. Configuration is built in a staging folder and tested
(`nginx -t`, Apache's configtest) before the flip makes it live. The text builders are pure."""

import os
import re
import shutil

from . import documents
from .runner import Failure, tail

URL_PATH = re.compile(r"^/[A-Za-z0-9/._~-]*$")
BUNDLE_FOLDER = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9/._-]*$")
# What Amazon Linux 2023's httpd, mod_http2 and mod_ssl packages load (conf.modules.d:
# 00-base, 00-dav, 00-lua, 00-mpm, 00-proxy, 00-ssl, 10-h2, 10-proxy_h2), in their order; one
# this machine's Apache lacks is skipped (only the required ones must be there). cgid is left
# out: it starts a daemon of its own and the Python platform serves no CGI.
APACHE_MODULES = (
    "mpm_event", "unixd", "systemd",
    "access_compat", "actions", "alias", "allowmethods", "auth_basic", "auth_digest",
    "authn_anon", "authn_core", "authn_dbd", "authn_dbm", "authn_file", "authn_socache",
    "authz_core", "authz_dbd", "authz_dbm", "authz_groupfile", "authz_host", "authz_owner",
    "authz_user", "autoindex", "brotli", "cache", "cache_disk", "cache_socache", "data", "dbd",
    "deflate", "dir", "dumpio", "echo", "env", "expires", "ext_filter", "filter", "headers",
    "include", "info", "log_config", "logio", "macro", "mime_magic", "mime", "negotiation",
    "remoteip", "reqtimeout", "request", "rewrite", "setenvif", "slotmem_plain", "slotmem_shm",
    "socache_dbm", "socache_memcache", "socache_redis", "socache_shmcb", "status", "substitute",
    "suexec", "unique_id", "userdir", "version", "vhost_alias", "watchdog",
    "dav", "dav_fs", "dav_lock", "lua",
    "proxy", "lbmethod_bybusyness", "lbmethod_byrequests", "lbmethod_bytraffic",
    "lbmethod_heartbeat", "proxy_ajp", "proxy_balancer", "proxy_connect", "proxy_express",
    "proxy_fcgi", "proxy_fdpass", "proxy_ftp", "proxy_hcheck", "proxy_http", "proxy_scgi",
    "proxy_uwsgi", "proxy_wstunnel",
    "ssl", "http2", "proxy_http2",
)
APACHE_REQUIRED = ("mpm_event", "authz_core", "log_config", "alias", "proxy", "proxy_http")
MIME_TYPES = ("types {\n  text/html html htm;\n  text/css css;\n  application/javascript js;\n"
              "  application/json json;\n  image/png png;\n  image/svg+xml svg;\n  text/plain txt;\n}\n")


def folder_name(proxy):
    return "nginx" if proxy == "nginx" else "httpd"


def static_mappings(static_files, app_dir):
    """(URL path/, folder/) pairs, each checked to be a URL path and a folder of the bundle."""
    mappings = []
    for url, folder in sorted(static_files.items()):
        if not URL_PATH.match(url) or not BUNDLE_FOLDER.match(folder) or ".." in folder.split("/") or ".." in url.split("/"):
            raise Failure("static file mapping %s -> %s is not a URL path and a folder of the bundle" % (url, folder))
        mappings.append((url.rstrip("/") + "/", os.path.join(app_dir, folder).rstrip("/") + "/"))
    return mappings


def listen(doc):
    address = doc.get("listen_address")
    return "%s:%d" % (address, doc["port"]) if address else str(doc["port"])


def nginx_main(user, logs, run, temp, listen_on, current):
    return """# Elastic Beanstalk's nginx configuration for the Python platform, written by Beanpole.
%(user)serror_log %(logs)s/nginx/error.log warn;
pid %(run)s/nginx.pid;
worker_processes auto;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    include mime.types;
    default_type application/octet-stream;

    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    log_format healthd '$msec"$uri"$status"$request_time"$upstream_response_time"$http_x_forwarded_for';

    client_body_temp_path %(temp)s/body;
    proxy_temp_path %(temp)s/proxy;
    fastcgi_temp_path %(temp)s/fastcgi;
    uwsgi_temp_path %(temp)s/uwsgi;
    scgi_temp_path %(temp)s/scgi;

    include conf.d/*.conf;

    map $http_upgrade $connection_upgrade {
        default "upgrade";
    }

    server {
        listen %(listen)s default_server;
        root %(current)s;
        access_log %(logs)s/nginx/access.log main;

        client_header_timeout 60;
        client_body_timeout 60;
        keepalive_timeout 60;
        gzip off;
        gzip_comp_level 4;
        gzip_types text/plain text/css application/json application/javascript application/x-javascript text/xml application/xml application/xml+rss text/javascript;

        if ($time_iso8601 ~ "^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})") {
            set $year $1;
            set $month $2;
            set $day $3;
            set $hour $4;
        }
        access_log %(logs)s/nginx/healthd/application.log.$year-$month-$day-$hour healthd;

        include conf.d/elasticbeanstalk/*.conf;
    }
}
""" % {"user": user, "logs": logs, "run": run, "temp": temp, "listen": listen_on, "current": current}


def nginx_application(upstream_port):
    return """location / {
    proxy_pass          http://127.0.0.1:%d;
    proxy_http_version  1.1;

    proxy_set_header    Connection          $connection_upgrade;
    proxy_set_header    Upgrade             $http_upgrade;
    proxy_set_header    Host                $host;
    proxy_set_header    X-Real-IP           $remote_addr;
    proxy_set_header    X-Forwarded-For     $proxy_add_x_forwarded_for;
}
""" % upstream_port


def nginx_static(mappings):
    return "".join("location %s {\n    alias %s;\n}\n" % (url, folder) for url, folder in mappings)


def apache_main(modules, user, listen_on, run, logs, types, port):
    return """# Elastic Beanstalk's Apache configuration for the Python platform, written by Beanpole.
# The server root (for the relative includes) is given at start: this folder.
%(modules)s
%(user)sServerName localhost
Listen %(listen)s
PidFile %(run)s/httpd.pid
DefaultRuntimeDir %(run)s
Mutex file:%(run)s default
ErrorLog %(logs)s/httpd/error_log
LogLevel warn
LogFormat "%%h %%l %%u %%t \\"%%r\\" %%>s %%b \\"%%{Referer}i\\" \\"%%{User-Agent}i\\"" combined
CustomLog %(logs)s/httpd/access_log combined
%(types)sTimeout 60
KeepAlive On
<Directory />
    AllowOverride None
    Require all denied
</Directory>

IncludeOptional conf.d/*.conf

<VirtualHost *:%(port)d>
    IncludeOptional conf.d/elasticbeanstalk/*.conf
</VirtualHost>
""" % {"modules": "\n".join(modules), "user": user, "listen": listen_on, "run": run, "logs": logs, "types": types, "port": port}


def apache_static(mappings):
    return "".join('ProxyPass %s !\nAlias %s "%s"\n<Directory "%s">\n    Require all granted\n</Directory>\n' % (url, url, folder, folder)
                   for url, folder in mappings)


def apache_application(upstream_port):
    return """ProxyPass / http://127.0.0.1:%(up)d/ retry=0
ProxyPassReverse / http://127.0.0.1:%(up)d/
ProxyPreserveHost on
""" % {"up": upstream_port}


def user_exists(name):
    try:
        import pwd

        pwd.getpwnam(name)
        return True
    except (KeyError, ImportError):
        return False


def primary_group(name):
    import grp
    import pwd

    return grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name


def owner_of(path):
    """The name of the user who owns `path` (None when it has none)."""
    try:
        import pwd

        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (KeyError, ImportError, OSError):
        return None


class Proxy:
    """The proxy of one instance: its configuration folders and its process."""

    def __init__(self, runner, paths, kind):
        self.runner = runner
        self.paths = paths
        self.kind = kind

    def folder(self, staging=False, previous=False):
        """The live configuration is EB's folder (/etc/nginx, /etc/httpd); the staged and the
        previous one are the engine's, beside its state (the live folder may be a mount point,
        which cannot be renamed: the flip replaces its contents)."""
        name = folder_name(self.kind)
        if staging:
            return os.path.join(self.paths.state, "proxy", name + ".staging")
        if previous:
            return os.path.join(self.paths.state, "proxy", name + ".previous")
        return os.path.join(self.paths.etc, name)

    def binary(self, names, package):
        for name in names:
            found = shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and "/usr/sbin/" + name)
            if found:
                return found
        if not self.paths.local and shutil.which("dnf"):
            self.runner.run(["dnf", "install", "-y", package], what="installing %s" % package)
            for name in names:
                if shutil.which(name):
                    return shutil.which(name)
        raise Failure("%s is not installed on this machine: install it (Debian/Ubuntu: apt-get install %s; Amazon Linux: dnf install %s; macOS: brew install %s)" % (names[0], "nginx" if package == "nginx" else "apache2", package, package))

    def configure(self, doc):
        """Builds and tests the configuration in the staging folder."""
        conf = self.folder(staging=True)
        shutil.rmtree(conf, ignore_errors=True)
        os.makedirs(os.path.join(conf, "conf.d", "elasticbeanstalk"))
        for folder in ("nginx", "httpd", "nginx/healthd"):
            os.makedirs(self.paths.log(folder), exist_ok=True)
        if self.kind == "nginx":
            self.configure_nginx(conf, doc)
        else:
            self.configure_apache(conf, doc)

    def keep_users_files(self, conf):
        """What the engine generates (and `.platform/<proxy>/` gives) is the configuration's
        own; every other file in the live folder (written by `.ebextensions` `files:`, or by
        the package) is kept and included, as on EB: copied into the staged configuration
        before its test, unless the staged one has that file. The generated files are listed
        for the next deployment."""
        own = sorted(files_under(conf))
        documents.write_json(self.manifest(staging=True), own)
        live = self.folder()
        generated = set(documents.read_json(self.manifest()) or [])
        for name in files_under(live):
            if name in generated or os.path.lexists(os.path.join(conf, name)):
                continue
            source, target = os.path.join(live, name), os.path.join(conf, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
            self.runner.log("%s: kept (not Beanpole's; included as EB includes it)" % os.path.join(live, name))

    def manifest(self, staging=False):
        return os.path.join(self.paths.state, "proxy", folder_name(self.kind) + (".staging" if staging else "") + ".generated.json")

    def nginx_user(self):
        """The `user` line: nginx's workers run as nginx on an instance. Elsewhere, run as
        root, they run as the owner of the application's folder (`nobody` could not read a
        folder only its owner can, and every static file would answer 403)."""
        p = self.paths
        if os.geteuid() != 0:
            return ""
        if not p.local and user_exists("nginx"):
            worker = "nginx"
        else:
            worker = owner_of(p.at("/var/app")) or "nobody"
        if user_exists(worker):
            # Workers write the hourly health log themselves: give them its folder.
            shutil.chown(p.log("nginx/healthd"), worker)
        return "user %s;\n" % worker

    def configure_nginx(self, conf, doc):
        nginx = self.binary(["nginx"], "nginx")
        p = self.paths
        for source in (os.path.join(self.folder(), "mime.types"), "/etc/nginx/mime.types"):
            if os.path.isfile(source):
                shutil.copyfile(source, os.path.join(conf, "mime.types"))
                break
        else:
            with open(os.path.join(conf, "mime.types"), "w") as f:
                f.write(MIME_TYPES)
        temp = os.path.join(p.state, "nginx")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(temp, sub), exist_ok=True)
        write(os.path.join(conf, "nginx.conf"), nginx_main(self.nginx_user(), p.logs, p.run, temp, listen(doc), p.current))
        eb = os.path.join(conf, "conf.d", "elasticbeanstalk")
        write(os.path.join(eb, "00_application.conf"), nginx_application(doc["upstream_port"]))
        write(os.path.join(eb, "01_static.conf"), nginx_static(static_mappings(doc["static_files"], p.current)))
        user_conf = os.path.join(p.staging, ".platform", "nginx")
        if os.path.isdir(user_conf):
            shutil.copytree(user_conf, conf, dirs_exist_ok=True)
        self.keep_users_files(conf)
        code, output = self.runner.run([nginx, "-t", "-c", os.path.join(conf, "nginx.conf"), "-p", conf + "/", "-e", p.log("nginx/error.log")], check=False)
        if code != 0:
            raise Failure("the nginx configuration is invalid (nginx -t)", tail(output))

    def apache_modules(self, httpd):
        modules_dir = next((d for d in ("/etc/httpd/modules", "/usr/lib64/httpd/modules", "/usr/lib/apache2/modules", "/usr/libexec/apache2") if os.path.isdir(d)), None)
        if modules_dir is None:
            raise Failure("Apache's modules folder was not found (looked in /etc/httpd/modules and /usr/lib/apache2/modules)")
        _, built_in = self.runner.run([httpd, "-l"], check=False)
        loaded = []
        for module in APACHE_MODULES:
            path = os.path.join(modules_dir, "mod_%s.so" % module)
            if "mod_%s.c" % module in built_in:
                continue
            if os.path.exists(path):
                loaded.append("LoadModule %s_module %s" % (module, path))
            elif module in APACHE_REQUIRED:
                raise Failure("Apache module %s is missing (%s)" % (module, path))
        return loaded

    def configure_apache(self, conf, doc):
        httpd = self.binary(["httpd", "apache2"], "httpd")
        p = self.paths
        loaded = self.apache_modules(httpd)
        os.makedirs(os.path.join(conf, "conf"), exist_ok=True)
        user = ""
        if os.geteuid() == 0:
            for name in ("apache", "www-data", "nobody"):
                if user_exists(name):
                    user = "User %s\nGroup %s\n" % (name, primary_group(name))
                    break
        types = "TypesConfig /etc/mime.types\n" if os.path.exists("/etc/mime.types") else ""
        write(os.path.join(conf, "conf", "httpd.conf"), apache_main(loaded, user, listen(doc), p.run, p.logs, types, doc["port"]))
        eb = os.path.join(conf, "conf.d", "elasticbeanstalk")
        write(os.path.join(eb, "00-static.conf"), apache_static(static_mappings(doc["static_files"], p.current)))
        write(os.path.join(eb, "00_application.conf"), apache_application(doc["upstream_port"]))
        user_conf = os.path.join(p.staging, ".platform", "httpd")
        if os.path.isdir(user_conf):
            shutil.copytree(user_conf, conf, dirs_exist_ok=True)
        self.keep_users_files(conf)
        code, output = self.runner.run([httpd, "-t", "-d", conf, "-f", os.path.join(conf, "conf", "httpd.conf")], check=False)
        if code != 0:
            raise Failure("the Apache configuration is invalid (configtest)", tail(output))

    def discard_staging(self):
        shutil.rmtree(self.folder(staging=True), ignore_errors=True)

    def flip(self):
        """The staged configuration becomes live; the live one is kept as the previous."""
        live, staged, previous = self.folder(), self.folder(staging=True), self.folder(previous=True)
        shutil.rmtree(previous, ignore_errors=True)
        if os.path.isdir(live) and os.listdir(live):
            shutil.copytree(live, previous, symlinks=True)
        # A flip killed half way (the marker still there) is put back by the next engine.
        marker = self.flipping_marker()
        write(marker, "")
        replace_contents(live, staged)
        if os.path.exists(self.manifest(staging=True)):
            os.replace(self.manifest(staging=True), self.manifest())
        os.unlink(marker)
        shutil.rmtree(staged, ignore_errors=True)

    def flipping_marker(self):
        return os.path.join(self.paths.state, "proxy", folder_name(self.kind) + ".flipping")

    def recover(self):
        """Puts the previous configuration back when a flip was killed half way."""
        marker = self.flipping_marker()
        if os.path.exists(marker):
            if os.path.isdir(self.folder(previous=True)):
                self.put_back()
            os.unlink(marker)

    def put_back(self):
        live, previous = self.folder(), self.folder(previous=True)
        if os.path.isdir(previous):
            replace_contents(live, previous)
            shutil.rmtree(previous, ignore_errors=True)


def files_under(folder):
    """The files (and links) under `folder`, as paths relative to it."""
    found = []
    for top, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            found.append(os.path.relpath(os.path.join(top, name), folder))
    return found


def replace_contents(folder, source):
    """`folder` (kept itself: it may be a mount point) holds what `source` holds."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    shutil.copytree(source, folder, symlinks=True, dirs_exist_ok=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def command(paths, runner, proxy, action):
    """nginx or Apache, from this root's configuration: start, reload or stop."""
    live = os.path.join(paths.etc, folder_name(proxy))
    handle = Proxy(runner, paths, proxy)
    if proxy == "nginx":
        base = [handle.binary(["nginx"], "nginx"), "-c", os.path.join(live, "nginx.conf"), "-p", live + "/", "-e", paths.log("nginx/error.log")]
        return base + {"start": [], "reload": ["-s", "reload"], "stop": ["-s", "quit"]}[action]
    base = [handle.binary(["httpd", "apache2"], "httpd"), "-d", live, "-f", os.path.join(live, "conf", "httpd.conf")]
    return base + ["-k", {"start": "start", "reload": "graceful", "stop": "graceful-stop"}[action]]


def pid_file(paths, proxy):
    return os.path.join(paths.run, "nginx.pid" if proxy == "nginx" else "httpd.pid")
