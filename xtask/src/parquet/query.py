"""`cargo xtask parquet-sql`: DuckDB over trace-tool's Parquet exports.

Usage: query.py EXPORTS DUMPS

EXPORTS holds one directory of tables per trace (`trace-tool convert --to
parquet`), DUMPS one `trace-tool dump` text per trace. Prints the p99 task
latency per type across all exports, computed by DuckDB from the tables and
again from the dumps' TaskBegin/TaskEnd lines; exits 1 if they differ.
"""

import glob
import math
import os
import re
import sys

import duckdb

exports, dumps = sys.argv[1], sys.argv[2]

con = duckdb.connect()
rows = con.execute(
    f"""
    SELECT type, count(*) AS n, quantile_disc(duration_ns, 0.99) AS p99
    FROM read_parquet('{exports}/*/tasks.parquet')
    WHERE duration_ns IS NOT NULL
    GROUP BY type ORDER BY type
    """
).fetchall()
traces = con.execute(
    f"SELECT count(DISTINCT trace), sum(events) FROM read_parquet('{exports}/*/traces.parquet')"
).fetchone()

# The same from the dumps: TaskBegin/TaskEnd lines, per trace.
begin_re = re.compile(r" TaskBegin Time=(\d+) ID=(\d+) .*Type=\"(.*)\"$")
end_re = re.compile(r" TaskEnd Time=(\d+) ID=(\d+) ")
durations = {}
for path in sorted(glob.glob(os.path.join(dumps, "*.txt"))):
    begun = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = begin_re.search(line)
            if m:
                begun[m.group(2)] = (int(m.group(1)), m.group(3))
                continue
            m = end_re.search(line)
            if m and m.group(2) in begun:
                start, ty = begun.pop(m.group(2))
                durations.setdefault(ty, []).append(int(m.group(1)) - start)


def quantile_disc(values, q):
    values = sorted(values)
    return values[max(0, math.ceil(q * len(values)) - 1)]


bad = 0
print(f"{traces[0]} traces, {traces[1]} events")
print(f"{'task type':<32} {'tasks':>8} {'p99 (DuckDB)':>14} {'p99 (dumps)':>14}")
for ty, n, p99 in rows:
    want = durations.get(ty, [])
    ours = quantile_disc(want, 0.99) if want else None
    ok = len(want) == n and ours == p99
    bad += not ok
    print(f"{ty[:32]:<32} {n:>8} {p99:>14} {str(ours):>14}{'' if ok else '  MISMATCH'}")
missing = set(durations) - {r[0] for r in rows}
for ty in sorted(missing):
    bad += 1
    print(f"{ty[:32]:<32} missing from the tables")
sys.exit(1 if bad else 0)
