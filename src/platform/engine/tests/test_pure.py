"""The engine's pure parts: the Procfile, environment properties, proxy configuration text,
the health rating, `.ebextensions` ordering, hooks' order, the virtualenv's key, and the
staging of a bundle (links judged on the finished tree)."""

import base64
import json
import io
import os
import stat
import tempfile
import unittest
import zipfile

from beanpole_engine import bundle, dependencies, documents, ebextensions, getconfig, health, hooks, processes, properties, proxy
from beanpole_engine.paths import Paths
from beanpole_engine.runner import Failure, Runner


class Procfile(unittest.TestCase):
    def test_lines_comments_and_the_default(self):
        text = "# processes\nweb: gunicorn app:app\n\nworker:  python worker.py --fast\n"
        self.assertEqual(processes.parse_procfile(text, "x"), [("web", "gunicorn app:app"), ("worker", "python worker.py --fast")])
        self.assertEqual(processes.parse_procfile(None, "gunicorn a:a"), [("web", "gunicorn a:a")])

    def test_a_line_that_is_not_name_colon_command_is_a_failure(self):
        with self.assertRaises(Failure) as raised:
            processes.parse_procfile("web gunicorn app:app\n", "x")
        self.assertIn("Procfile:1", raised.exception.message)

    def test_a_unit_escapes_what_systemd_and_the_shell_would_read(self):
        unit = processes.systemd_unit("web", 'gunicorn "a" --bind 127.0.0.1:$PORT 50%')
        self.assertIn('ExecStart=/bin/sh -c "exec gunicorn \\"a\\" --bind 127.0.0.1:$$PORT 50%%"', unit)


class Properties(unittest.TestCase):
    def test_a_users_pythonpath_is_kept_and_the_virtualenv_is_the_default(self):
        ours = properties.process_environment({"A": "1"}, {}, 8000, "/var/app/venv/v")
        self.assertEqual(ours["PYTHONPATH"], "/var/app/venv/v/bin")
        theirs = properties.process_environment({"PYTHONPATH": "/var/app/current/src"}, {}, 8000, "/var/app/venv/v")
        self.assertEqual(theirs["PYTHONPATH"], "/var/app/current/src")

    def test_the_environment_file_quotes_values_and_refuses_what_it_cannot_hold(self):
        text = properties.environment_file({"B": 'say "hi" \\o/', "A": "1"})
        self.assertEqual(text, 'A="1"\nB="say \\"hi\\" \\\\o/"\n')
        for bad in ({"A B": "1"}, {"A=B": "1"}, {"A": "two\nlines"}):
            with self.assertRaises(Failure):
                properties.environment_file(bad)

    def test_processes_get_the_port_and_the_virtualenv(self):
        values = properties.process_environment({"A": "1"}, {"S": "secret"}, 8000, "/var/app/venv/staging-LQM1lest")
        self.assertEqual(values["PORT"], "8000")
        self.assertEqual(values["S"], "secret")
        self.assertTrue(values["PATH"].startswith("/var/app/venv/staging-LQM1lest/bin:"))

    def test_commands_know_whether_they_run_on_the_leader(self):
        doc = {"properties": {"A": "1"}, "upstream_port": 8000}
        env = properties.command_environment(doc, {}, True, Paths("/"), {})
        self.assertEqual((env["A"], env["PORT"], env["EB_IS_COMMAND_LEADER"]), ("1", "8000", "true"))
        env = properties.command_environment(doc, {}, False, Paths("/tmp/x"), {})
        self.assertEqual((env["EB_IS_COMMAND_LEADER"], env["BEANPOLE_ROOT"]), ("false", "/tmp/x"))

    def test_private_files_are_their_owners_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "env")
            properties.write_private(path, "A=1\n")
            properties.copy_private(path, path + ".previous")
            documents.write_json(os.path.join(tmp, "state.json"), {"a": 1}, mode=0o600)
            for name in ("env", "env.previous", "state.json"):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(tmp, name)).st_mode), 0o600, name)


class ProxyText(unittest.TestCase):
    def test_static_mappings_are_url_paths_and_bundle_folders(self):
        self.assertEqual(proxy.static_mappings({"/static": "static", "/img/": "assets/img"}, "/var/app/current"),
                         [("/img/", "/var/app/current/assets/img/"), ("/static/", "/var/app/current/static/")])
        for url, folder in (("/s", "../etc"), ("/s;", "static"), ("s", "static"), ("/s", "a b")):
            with self.assertRaises(Failure):
                proxy.static_mappings({url: folder}, "/var/app/current")

    def test_nginx_listens_where_told_and_forwards_to_the_application(self):
        self.assertEqual(proxy.listen({"port": 80}), "80")
        self.assertEqual(proxy.listen({"port": 9000, "listen_address": "127.0.0.1"}), "127.0.0.1:9000")
        main = proxy.nginx_main("user nginx;\n", "/var/log", "/run/beanpole", "/tmp/n", "80", "/var/app/current")
        self.assertIn("listen 80 default_server;", main)
        self.assertIn("root /var/app/current;", main)
        self.assertIn("include conf.d/elasticbeanstalk/*.conf;", main)
        self.assertTrue(main.splitlines()[1].startswith("user nginx;"))
        self.assertIn("proxy_pass          http://127.0.0.1:8000;", proxy.nginx_application(8000))
        self.assertEqual(proxy.nginx_static([("/static/", "/a/static/")]), "location /static/ {\n    alias /a/static/;\n}\n")

    def test_apache_serves_static_folders_and_proxies_the_rest(self):
        static = proxy.apache_static([("/static/", "/a/static/")])
        self.assertIn("ProxyPass /static/ !", static)
        self.assertIn('Alias /static/ "/a/static/"', static)
        self.assertIn("ProxyPass / http://127.0.0.1:8000/ retry=0", proxy.apache_application(8000))
        main = proxy.apache_main(["LoadModule a_module /m/a.so"], "", "80", "/run", "/log", "", 80)
        self.assertIn("Listen 80\n", main)
        self.assertIn("<VirtualHost *:80>", main)


class Health(unittest.TestCase):
    def test_matchers_as_a_target_group_reads_them(self):
        self.assertTrue(health.matches("200", 200))
        self.assertTrue(health.matches("200-399", 302))
        self.assertTrue(health.matches("200, 302", 302))
        self.assertFalse(health.matches("200", 301))
        self.assertFalse(health.matches("200-299", 301))

    def test_the_rating_and_the_threshold(self):
        self.assertEqual([health.level_of(s) for s in (None, 503, 404)], [3, 2, 1])
        degraded = health.threshold_index("degraded")
        self.assertEqual(health.in_a_row(2, health.level_of(503), degraded, []), 3)
        self.assertEqual(health.in_a_row(2, health.level_of(None), degraded, []), 0)
        self.assertEqual(health.in_a_row(2, health.level_of(503), degraded, ["web"]), 0)
        self.assertEqual(health.in_a_row(2, health.level_of(404), health.threshold_index("ok"), []), 0)


class EbExtensions(unittest.TestCase):
    def command(self, name, leader_only):
        return {"name": name, "leader_only": leader_only}

    def test_the_leader_runs_its_leader_only_commands_first_and_others_skip_them(self):
        commands = [self.command("01_collectstatic", False), self.command("02_migrate", True), self.command("03_warm", False)]
        on_leader = ebextensions.container_command_order(commands, True)
        self.assertEqual([(c["name"], runs) for c, runs in on_leader], [("02_migrate", True), ("01_collectstatic", True), ("03_warm", True)])
        elsewhere = ebextensions.container_command_order(commands, False)
        self.assertEqual([(c["name"], runs) for c, runs in elsewhere], [("02_migrate", False), ("01_collectstatic", True), ("03_warm", True)])

    def test_file_contents_plain_and_base64(self):
        spec = {"file": "f.config", "path": "/a", "encoding": "plain", "content": "x"}
        self.assertEqual(ebextensions.file_bytes(spec), b"x")
        spec.update(encoding="base64", content=base64.b64encode(b"\x00\x01").decode())
        self.assertEqual(ebextensions.file_bytes(spec), b"\x00\x01")
        spec.update(content="not base64!")
        with self.assertRaises(Failure):
            ebextensions.file_bytes(spec)


class Hooks(unittest.TestCase):
    def test_hooks_run_in_lexicographic_order(self):
        with tempfile.TemporaryDirectory() as app:
            folder = os.path.join(app, ".platform", "hooks", "predeploy")
            os.makedirs(os.path.join(folder, "a-folder"))
            for name in ("10_b.sh", "01_a.sh", "2_c.sh"):
                open(os.path.join(folder, name), "w").close()
            self.assertEqual([shown for _, shown in hooks.hook_files(app, "hooks", "predeploy")],
                             [".platform/hooks/predeploy/01_a.sh", ".platform/hooks/predeploy/10_b.sh", ".platform/hooks/predeploy/2_c.sh"])
            self.assertEqual(hooks.hook_files(app, "confighooks", "predeploy"), [])


class Dependencies(unittest.TestCase):
    def test_a_virtualenv_is_named_by_its_interpreter_and_dependencies(self):
        a = dependencies.venv_key("/usr/bin/python3.12", "requirements.txt", b"flask\n")
        self.assertEqual(a, dependencies.venv_key("/usr/bin/python3.12", "requirements.txt", b"flask\n"))
        self.assertNotEqual(a, dependencies.venv_key("/usr/bin/python3.12", "requirements.txt", b"django\n"))
        self.assertNotEqual(a, dependencies.venv_key("/usr/bin/python3.9", "requirements.txt", b"flask\n"))

    def test_utf16_requirements_with_a_byte_order_mark_are_read(self):
        self.assertEqual(dependencies.requirements_text("flask\n".encode("utf-16")), "flask\n")
        self.assertIsNone(dependencies.requirements_text(b"flask\n"))


class Staging(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.paths = Paths(os.path.join(self.tmp.name, "root"))
        os.makedirs(self.paths.deployment)
        self.runner = Runner(self.paths)

    def tearDown(self):
        self.tmp.cleanup()

    def zip_of(self, files, links):
        with zipfile.ZipFile(self.paths.bundle, "w") as z:
            for name, text in files.items():
                z.writestr(name, text)
            for name, target in links.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777 << 16)
                z.writestr(info, target)

    def test_a_link_inside_the_folder_is_kept(self):
        self.zip_of({"application.py": "x", "assets/logo.png": "png"}, {"static": "assets"})
        bundle.stage_application(self.runner, self.paths)
        self.assertEqual(os.readlink(os.path.join(self.paths.staging, "static")), "assets")

    def test_a_chain_of_links_climbing_out_is_refused_on_the_finished_tree(self):
        deep = "z1/z2/z3/z4/z5/z6/z7/z8/z9/z10"
        self.zip_of({"x/keep": "", "application.py": "x"},
                    {"static": deep + "/D/" + "../" * 11 + "etc", deep + "/D": "../" * 10 + "x"})
        with self.assertRaises(Failure) as raised:
            bundle.stage_application(self.runner, self.paths)
        self.assertIn("points outside the application folder", raised.exception.message)

    def test_an_entry_climbing_out_or_through_a_link_is_refused(self):
        self.assertTrue(bundle.entry_problem("../x"))
        self.assertTrue(bundle.entry_problem("/etc/passwd"))
        self.assertIsNone(bundle.entry_problem("a/b.py"))
        self.zip_of({"static/passwd": "x"}, {"static": "assets"})
        with self.assertRaises(Failure):
            bundle.stage_application(self.runner, self.paths)

    def test_a_bundle_that_unpacks_too_large_is_refused_before_it_is_written(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("big.bin", b"\0" * (1 << 20))
        with open(self.paths.bundle, "wb") as f:
            f.write(buffer.getvalue())
        limit = bundle.MAX_UNPACKED_BYTES
        bundle.MAX_UNPACKED_BYTES = 1000
        try:
            with self.assertRaises(Failure) as raised:
                bundle.stage_application(self.runner, self.paths)
        finally:
            bundle.MAX_UNPACKED_BYTES = limit
        self.assertIn("unpacks to", raised.exception.message)
        self.assertFalse(os.path.exists(os.path.join(self.paths.staging, "big.bin")))


if __name__ == "__main__":
    unittest.main()


class GetConfig(unittest.TestCase):
    """EB's get-config: the sections, -k, -n/-o, JSON and YAML, a missing key."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        doc = {"application": "shop", "environment": "shop-blue", "proxy": "apache", "properties": {"A": "1", "B": "two words"},
               "option_settings": {"aws:elasticbeanstalk:customoption": {"Colour": "green"},
                                   "aws:elasticbeanstalk:container:python": {"WSGIPath": "app:app"}}}
        getconfig.install(doc, {"DB_PASSWORD": "s3cret"}, Paths(self.tmp.name))
        self.data = os.path.join(self.tmp.name, "opt/elasticbeanstalk/config/private/get-config.json")
        self.command = os.path.join(self.tmp.name, "opt/elasticbeanstalk/bin/get-config")

    def run_it(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        import contextlib
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = getconfig.run_script(list(argv), self.data)
            except SystemExit as e:
                code = e.code
        return code, out.getvalue(), err.getvalue()

    def test_installed_executable_and_its_answers_are_roots_only(self):
        self.assertTrue(os.stat(self.command).st_mode & stat.S_IXUSR)
        self.assertEqual(stat.S_IMODE(os.stat(self.data).st_mode), 0o600)

    def test_environment_with_and_without_a_key(self):
        code, out, _ = self.run_it("environment")
        self.assertEqual((code, json.loads(out)), (0, {"A": "1", "B": "two words", "DB_PASSWORD": "s3cret"}))
        self.assertEqual(self.run_it("environment", "-k", "B")[:2], (0, "two words\n"))
        code, _, err = self.run_it("environment", "-k", "NOPE")
        self.assertEqual(code, 1)
        self.assertIn("NOPE not found", err)

    def test_optionsettings_by_namespace_and_option(self):
        self.assertEqual(self.run_it("optionsettings", "-n", "aws:elasticbeanstalk:customoption", "-o", "Colour")[:2], (0, "green\n"))
        code, out, _ = self.run_it("optionsettings", "--output", "yaml")
        self.assertEqual(code, 0)
        self.assertIn('"aws:elasticbeanstalk:customoption":\n  "Colour": "green"\n', out)

    def test_platformconfig_and_container(self):
        self.assertEqual(self.run_it("platformconfig", "-k", "ProxyServer")[:2], (0, "apache\n"))
        code, out, _ = self.run_it("container")
        self.assertEqual((code, json.loads(out)["environment_name"], json.loads(out)["wsgi_path"]), (0, "shop-blue", "app:app"))
