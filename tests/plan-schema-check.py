#!/usr/bin/env python3
"""Validate the golden plan JSON files against schemas/plan.schema.json.

Each tests/golden/plan-*.json holds one host's plan as `occ diff --json`
prints it inside "hosts"; this checks it against the schema's host_plan
definition with a real JSON Schema validator (python3-jsonschema), so the
schema and the output cannot drift apart.
"""
import glob
import json
import os
import sys

import jsonschema

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
schema = json.load(open(os.path.join(root, "schemas", "plan.schema.json")))
host_plan = dict(schema["$defs"]["host_plan"])
host_plan["$defs"] = schema["$defs"]
validator = jsonschema.Draft202012Validator(host_plan)
files = sorted(glob.glob(os.path.join(root, "tests", "golden", "plan-*.json")))
failed = 0
for path in files:
    doc = json.load(open(path))
    errors = list(validator.iter_errors(doc))
    for e in errors:
        print("%s: %s at %s" % (path, e.message, "/".join(map(str, e.path))))
    failed += 1 if errors else 0
print("%d passed, %d failed" % (len(files) - failed, failed))
sys.exit(1 if failed or not files else 0)
