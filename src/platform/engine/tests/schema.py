"""A JSON Schema validator for the subset the deployment document's and report's schemas use
(type, enum, minimum, maximum, properties, required, additionalProperties, items, oneOf,
$ref to #/$defs): the standard library has none, and the engine's tests use nothing else."""

import json
import os

SCHEMAS = os.path.join(os.path.dirname(__file__), "..", "..", "schema")

TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def load(name):
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as f:
        return json.load(f)


def is_type(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def errors(value, schema, root=None, where="$"):
    """Every way `value` breaks `schema`, as `path: why` lines."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return errors(value, root["$defs"][name], root, where)
    found = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(value, n) for n in names):
            return ["%s: %r is not %s" % (where, value, " or ".join(names))]
    if "enum" in schema and value not in schema["enum"]:
        found.append("%s: %r is not one of %s" % (where, value, schema["enum"]))
    if "minimum" in schema and is_type(value, "number") and value < schema["minimum"]:
        found.append("%s: %r is below %s" % (where, value, schema["minimum"]))
    if "maximum" in schema and is_type(value, "number") and value > schema["maximum"]:
        found.append("%s: %r is above %s" % (where, value, schema["maximum"]))
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not errors(value, s, root, where)]
        if len(passing) != 1:
            found.append("%s: %r matches %d of the oneOf schemas" % (where, value, len(passing)))
    if isinstance(value, dict):
        found += object_errors(value, schema, root, where)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], root, "%s[%d]" % (where, i))
    return found


def object_errors(value, schema, root, where):
    found = []
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            found.append("%s: %s is missing" % (where, name))
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            found += errors(item, properties[name], root, "%s.%s" % (where, name))
        elif extra is False:
            found.append("%s: %s is not in the schema" % (where, name))
        elif isinstance(extra, dict):
            found += errors(item, extra, root, "%s.%s" % (where, name))
    return found
