#!/usr/bin/env python3
# bench/table.py ROWS FORMAT FOOTER [RUNS SLOW_RUNS] - the table bench/run and
# bench/image.sh print, from ROWS (one row a line, tab-separated:
# operation, occ value, peer, peer value, unit; "-" for none):
#
#   operation | occ | peer | peer value | ratio (occ / peer)
#
# FORMAT is text, markdown or json; FOOTER is the line under a text or
# Markdown table; RUNS and SLOW_RUNS go into the JSON.
import json, sys
path, fmt, footer = sys.argv[1], sys.argv[2], sys.argv[3]
runs, slow = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
rows = []
for line in open(path):
    op, occ, peer, peer_v, unit = line.rstrip("\n").split("\t")
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    o, p = num(occ), num(peer_v)
    rows.append({"operation": op, "occ": o if o is not None else occ, "peer": None if peer == "-" else peer,
                 "peer_value": p, "unit": unit or None,
                 "ratio": round(o / p, 3) if o is not None and p else None})
if fmt == "json":
    out = {"rows": rows}
    if runs is not None:
        out = {"runs": int(runs), "slow_runs": int(slow), "rows": rows}
    print(json.dumps(out, indent=2))
    sys.exit(0)
def show(v, unit):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v + (" " + unit if unit and v[0].isdigit() else "")
    if unit == "ms":
        return ("%.0f ms" if v >= 100 else "%.1f ms") % v
    if unit == "%":
        return "%.3f %%" % v
    return "%.1f %s" % (v, unit)
table = [("operation", "occ", "peer", "peer value", "ratio")]
for r in rows:
    table.append((r["operation"], show(r["occ"], r["unit"]), r["peer"] or "-",
                  show(r["peer_value"], r["unit"]),
                  "-" if r["ratio"] is None else ("%.2fx" % r["ratio"] if r["ratio"] >= 0.1 else "%.3fx" % r["ratio"])))
if fmt == "markdown":
    for i, t in enumerate(table):
        print("| " + " | ".join(c.strip() for c in t) + " |")
        if i == 0:
            print("| --- | ---: | --- | ---: | ---: |")
else:
    w = [max(len(t[i]) for t in table) for i in range(5)]
    for i, t in enumerate(table):
        print("  ".join(c.ljust(w[k]) if k in (0, 2) else c.rjust(w[k]) for k, c in enumerate(t)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
print()
print(footer)
