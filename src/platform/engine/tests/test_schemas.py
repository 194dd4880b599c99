"""The deployment document and the engine's report against their JSON Schemas
(src/platform/schema/): the fixture document is one Beanpole writes, and the engine reads every
field it needs from it; every report the engine writes validates."""

import copy
import json
import os
import tempfile
import unittest

from beanpole_engine import documents
from beanpole_engine.engine import Engine

from . import schema

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "document.json")


def fixture():
    with open(FIXTURE, encoding="utf-8") as f:
        return json.load(f)


class DocumentSchema(unittest.TestCase):
    def test_the_fixture_is_a_document_and_the_engine_reads_it(self):
        doc = fixture()
        self.assertEqual(schema.errors(doc, schema.load("document.schema.json")), [])
        local = documents.for_this_machine(doc, {"BEANPOLE_PORT": "9000", "BEANPOLE_APP_PORT": "9001"})
        self.assertEqual(local["port"], 9000)
        self.assertEqual(local["listen_address"], "127.0.0.1")
        self.assertIn("127.0.0.1:9001 ", local["default_web_command"])
        report = documents.new_report("i-1", doc, True)
        self.assertEqual((report["application"], report["version"]), ("pets-app", "v7"))

    def test_a_renamed_or_missing_field_breaks_the_schema(self):
        doc = fixture()
        doc["upstream"] = doc.pop("upstream_port")
        found = schema.errors(doc, schema.load("document.schema.json"))
        self.assertIn("$: upstream_port is missing", found)
        self.assertIn("$: upstream is not in the schema", found)


class ReportSchema(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, "root")
        self.report_schema = schema.load("report.schema.json")

    def tearDown(self):
        self.tmp.cleanup()

    def deploy(self, doc):
        """The engine's report of a deployment of `doc` that fails at its first step (the
        bundle is not there), as it writes it."""
        path = os.path.join(self.tmp.name, "document.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        report_path = os.path.join(self.tmp.name, "report.json")
        Engine(self.root, "engine", "i-test").deploy(path, True, report_path)
        with open(report_path, encoding="utf-8") as f:
            return json.load(f)

    def test_a_failed_step_is_a_report_that_validates(self):
        doc = fixture()
        doc["version"]["source"] = os.path.join(self.tmp.name, "missing.zip")
        report = self.deploy(doc)
        self.assertEqual(report["status"], "FAILURE")
        self.assertEqual(report["failed_step"], "FetchVersion")
        self.assertEqual(schema.errors(report, self.report_schema), [])

    def test_a_document_that_cannot_be_read_is_a_report_that_validates(self):
        report_path = os.path.join(self.tmp.name, "report.json")
        Engine(self.root, "engine", "i-test").deploy(os.path.join(self.tmp.name, "absent.json"), False, report_path)
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
        self.assertEqual(report["failed_step"], "FetchDocument")
        self.assertEqual(schema.errors(report, self.report_schema), [])

    def test_a_report_of_every_step_validates(self):
        report = documents.new_report("i-1", fixture(), False)
        report["steps"] = [documents.step(name, 0.5, name != "HealthCheck") for name in ("FetchVersion", "HealthCheck")]
        report.update({"finished": "2026-12-02T00:00:00.000000Z", "engine_seconds": 1.0})
        self.assertEqual(schema.errors(report, self.report_schema), [])
        renamed = copy.deepcopy(report)
        renamed["tail"] = renamed.pop("output_tail")
        self.assertTrue(schema.errors(renamed, self.report_schema))


if __name__ == "__main__":
    unittest.main()
