"""pg search's older groups: one GIN scan ORing every group against scans of STEP_GROUPS, on PostgreSQL.

    .venv/bin/python bench/pg_groups.py [--rows 1000000] [--groups 370] [--quick]

A broad pg search whose filter matches few of the newest documents goes on in older groups of ids
(indexer.pg_index: each document's group is a lexeme of its terms). At 1,000,000 documents a date filter
made it ask for 370 groups, and the one GIN scan ORing them took 611 ms: the scan merges the groups'
posting lists comparing every list at each step. This builds a table shaped like search_documents
(``--rows`` documents, the group lexemes pg_index writes, a two-word term in one document in 20, a
document date over 5.6 years), then finds the term's matches dated in one half-year in the newest
``--groups`` groups, newest first, both ways, and prints the time of each and the ratio. Both ways must
find the same rows. ``--quick``: 20,000 rows and 16 groups, a smoke run whose figures mean nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, create_engine, text  # noqa: E402

from indexer.pg_index import RECENT_GROUP, STEP_GROUPS, _quoted, recent_group  # noqa: E402
from tests.support.postgres import start_postgres  # noqa: E402

REPEAT = 5
MATCHES = ("SELECT id FROM bench_terms WHERE terms @@ CAST(:q AS tsquery) AND day BETWEEN '2024-01-01' "
           "AND '2024-06-30' AND id + 0 >= :oldest AND id + 0 < :below ORDER BY id DESC")


def build(conn: Connection, rows: int) -> None:
    conn.execute(text("CREATE TABLE bench_terms (id bigint PRIMARY KEY, day date, terms tsvector)"))
    # the group lexeme as pg_index.recent_group writes it; the term in one document in 20
    conn.execute(text(
        "INSERT INTO bench_terms SELECT i, date '2019-01-01' + (hashint4(i::int) & 2047), "
        "array_to_tsvector(ARRAY[' ' || (i / :group)] || CASE WHEN hashint4(i::int + 7) % 20 = 0 "
        "THEN ARRAY['letter', 'credit'] ELSE ARRAY['other', 'words'] END) FROM generate_series(1, :rows) i"),
        {"group": RECENT_GROUP, "rows": rows})
    conn.execute(text("CREATE INDEX bench_terms_gin ON bench_terms USING gin (terms)"))
    conn.execute(text("ANALYZE bench_terms"))


def find(conn: Connection, top: int, groups: int, step: int) -> list[int]:
    """The term's matches in the half-year, newest first, in the ``groups`` groups below ``top``, asking the GIN
    index for ``step`` groups at a time."""
    found: list[int] = []
    done, stop = top, top - groups
    while done > stop:
        first = max(done - step, stop)
        ored = " | ".join(_quoted(recent_group(g * RECENT_GROUP)) for g in range(first, done))
        found += conn.execute(text(MATCHES), {"q": f"letter & credit & ({ored})", "oldest": first * RECENT_GROUP,
                                              "below": done * RECENT_GROUP}).scalars()
        done = first
    return found


def timed(conn: Connection, top: int, groups: int, step: int) -> tuple[float, list[int]]:
    times, found = [], []
    for _ in range(REPEAT):
        start = time.perf_counter()
        found = find(conn, top, groups, step)
        times.append(time.perf_counter() - start)
    return statistics.median(times), found


def run(rows: int, groups: int) -> dict[str, float]:
    server = start_postgres()
    try:
        engine = create_engine(server.create_database("groups"))
        with engine.begin() as conn:
            start = time.perf_counter()
            build(conn, rows)
            built_s = time.perf_counter() - start
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))  # as PgIndex.search: the GIN index, never every row
            conn.execute(text("SET enable_indexscan = off"))
            top = rows // RECENT_GROUP + 1
            timed(conn, top, groups, groups)  # warm the cache for both
            bare_s, bare = timed(conn, top, groups, groups)
            stepped_s, stepped = timed(conn, top, groups, STEP_GROUPS)
        engine.dispose()
    finally:
        server.stop()
    if stepped != bare:
        raise SystemExit("the steps found other rows than the one scan")
    return {"rows": rows, "groups": groups, "step": STEP_GROUPS, "built_s": built_s, "matches": len(bare),
            "bare_ms": bare_s * 1000, "stepped_ms": stepped_s * 1000, "ratio": bare_s / stepped_s}


def report(f: dict[str, float]) -> str:
    return "\n".join([
        f"pg_groups: {f['rows']:.0f} rows built in {f['built_s']:.0f} s; {f['matches']:.0f} matches in the newest "
        f"{f['groups']:.0f} groups of {RECENT_GROUP} ids (median of {REPEAT})",
        f"  one GIN scan ORing {f['groups']:.0f} groups: {f['bare_ms']:7.1f} ms",
        f"  scans of {f['step']:.0f} groups (STEP_GROUPS): {f['stepped_ms']:7.1f} ms",
        f"  ratio one scan / steps: {f['ratio']:.1f}x; same rows: True",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=370, help="as many as the 1M date-filtered search asked for")
    parser.add_argument("--quick", action="store_true", help="20,000 rows and 16 groups: a smoke run")
    args = parser.parse_args(argv)
    rows, groups = (20_000, 16) if args.quick else (args.rows, args.groups)
    if groups >= rows // RECENT_GROUP:
        parser.error(f"--groups must be below the {rows // RECENT_GROUP} groups of {rows} rows")
    print(report(run(rows, groups)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
