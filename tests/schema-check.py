#!/usr/bin/env python3
"""Validate every examples/*.yaml against schemas/state.schema.json.

Usage: schema-check.py [SOURCE_DIR]   (default: the repository this file is in)

Exits 0 when the schema is a valid draft 2020-12 schema and every example
conforms; 1 otherwise, printing each violation with its location. Needs
python3-jsonschema and python3-yaml (Debian packages of those names).
"""
import glob
import json
import os
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:
    sys.stderr.write("schema-check: %s (apt-get install python3-jsonschema python3-yaml)\n" % e)
    sys.exit(1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(here)
    with open(os.path.join(root, "schemas", "state.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    examples = sorted(glob.glob(os.path.join(root, "examples", "*.yaml")))
    if not examples:
        sys.stderr.write("schema-check: no examples in %s/examples\n" % root)
        return 1
    failed = 0
    for path in examples:
        with open(path) as f:
            doc = yaml.safe_load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errors:
            where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
            print("%s: %s: %s" % (os.path.relpath(path, root), where, e.message))
        failed += bool(errors)
        if not errors:
            print("%s: ok" % os.path.relpath(path, root))
    print("%d passed, %d failed" % (len(examples) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
