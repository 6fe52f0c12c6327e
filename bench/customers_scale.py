"""Customers at scale: N customers (cards, sealed ID numbers, phones and bank accounts with their lookup
digests, 10 records each) on PostgreSQL; the filtered dossier list and the exact ID-number lookup through
the API, against the same questions in bare SQL in the same run.

    .venv/bin/python bench/customers_scale.py [--customers 100000] [--requests 200] [--processes 2] [--hold] [--quick]

Rows are loaded with COPY (through the services 100,000 customers would take hours), but they are the rows
the services write: a card per dossier (30 % individuals with valid GB 11643 ID numbers), each sensitive
value sealed with the dossier's own data key wrapped by the real keyring (`sealed_fields.seal_with_key`,
the code `seal_value` runs), lookup digests keyed by the keyring, the pinyin name sort key, 10 records with
sealed details; `--processes` pool processes make and seal them while the main one copies.
Targets (issue 12): filtered list p95 <= 100 ms, lookup p95 <= 20 ms.
Then gunicorn `web.wsgi:app` serves it and one client times one request at a time:
GET /api/v1/dossiers with random combinations of stage, grade, kind, region, industry, owner, review due,
incomplete and a sort, as an archivist (clearance secret) and as an employee (clearance internal);
POST /api/v1/lookup {"id_number"} as legal. GET /api/v1/me gives the floor every request pays (sign-in by
token, JSON). The baseline runs the same filters and the same digest lookup as hand-written SQL over
psycopg; the report gives the API/bare ratio and the slowest filter combinations. `--hold` keeps
PostgreSQL and gunicorn up after the figures (for EXPLAIN ANALYZE) until Ctrl-C or SIGTERM.
`--keep-db DIR` keeps PostgreSQL's cluster, the home and the lookup ID numbers in DIR: the first run builds
them there, a later run with the same DIR (and --customers) starts them again, migrates, and measures at once.
`--quick`: 2,000 customers, 20 requests per kind, one gunicorn process: a smoke run (errors still count).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from prodshape import ProductionShape, percentile  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from config import Settings, load_settings  # noqa: E402
from vault.core import Vault  # noqa: E402
from vault.crypto import new_data_key  # noqa: E402
from vault.customer_models import CardSealed, CustomerCard  # noqa: E402
from vault.models import Dossier, DossierKey, User  # noqa: E402
from vault.name_sort import name_sort_key  # noqa: E402
from vault.relationship_models import CustomerRecord  # noqa: E402
from vault.services.completeness_flag import refresh_completeness  # noqa: E402
from vault.services.sealed_fields import lookup_digest, seal_with_key  # noqa: E402

RECORDS = 10
QUICK: dict[str, Any] = {"customers": 2000, "requests": 20, "batch": 500, "gunicorn_workers": 1}
STAGES = ("prospect", "target", "potential", "inactive", "customer", "lost")
REGIONS = ("北京", "上海", "广东", "江苏", "浙江", "山东", "四川", "湖北", "福建", "河南")
INDUSTRIES = ("制造", "贸易", "金融", "建筑", "软件", "物流", "医药", "能源")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
FIRMS = ("华", "中", "东", "恒", "信", "达", "鑫", "宏", "泰", "联", "远", "盛", "安", "新", "嘉", "瑞")
KINDS = ("visit", "call", "meeting", "service", "inquiry", "complaint", "suggestion", "follow_up", "transaction")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random, i: int) -> str:
    """A valid 18-digit resident ID number (GB 11643 check digit), unique for each i below 200,000: the
    sequence digits and the birth date's day offset modulo 200 both come from i."""
    born = date(1950, 1, 1) + timedelta(days=i // 1000 + 200 * rng.randrange(100))
    body = f"{rng.choice((110105, 310104, 440106, 320102, 330106))}{born:%Y%m%d}{i % 1000:03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


def _name(rng: random.Random, i: int, individual: bool) -> str:
    if individual:
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    if i % 17 == 0:
        return f"{rng.choice(('Acme', 'Blue River', 'Orion', 'Zenith', 'Kestrel'))} Trading {i} Ltd"
    return (f"{rng.choice(REGIONS)}{''.join(rng.sample(FIRMS, 2))}{rng.choice(INDUSTRIES)}"
            f"{i}有限公司")


def _copy(s: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY rows (dicts with the same keys, as for `insert(model)`) into the model's table, converted by the
    columns' own SQLAlchemy types (enums, JSON), scalar column defaults filled in as an ORM insert would."""
    if not rows:
        return
    table = model.__table__
    dialect = s.get_bind().dialect
    fill = {c.name: c.default.arg for c in table.columns
            if c.name not in rows[0] and c.default is not None and c.default.is_scalar}
    missing = [c.name for c in table.columns if c.name not in rows[0] and c.name not in fill and not c.nullable
               and c.server_default is None and not (c.primary_key and c.autoincrement)]
    if missing:
        raise RuntimeError(f"the bench's {table.name} rows lack {missing}: update bench/customers_scale.py")
    names = list(rows[0]) + list(fill)
    procs = [table.c[n].type.bind_processor(dialect) for n in names]
    cursor = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as cp:
        for row in rows:
            values = [row[n] if n in row else fill[n] for n in names]
            cp.write_row([v if p is None or v is None else p(v) for v, p in zip(values, procs, strict=True)])


_worker_vault: Vault | None = None


def _open_worker(settings: Settings) -> None:
    global _worker_vault
    _worker_vault = Vault.open(settings)  # the keyring, for wrapping keys and keyed digests


def _generate(start: int, stop: int, arch: int, emp: int) -> tuple[list[tuple[Any, list[dict[str, Any]]]], list[str]]:
    """The rows of customers start..stop-1 (in a pool process: the sealing is the CPU-heavy part) and the ID
    numbers of the individuals among them. Each dossier's data key is made and wrapped as
    `sealed_fields.seal_value` makes it, and every sealed value goes through `sealed_fields.seal_with_key`
    (what seal_value calls once the key is unwrapped)."""
    v = _worker_vault
    assert v is not None
    rng = random.Random(start)
    now = datetime.now(UTC)
    today = now.date()
    ids: list[str] = []
    chunk = range(start, stop)
    dossiers, cards, records, keys, sealed = [], [], [], [], []
    for i in chunk:
        individual = rng.random() < 0.3
        name = _name(rng, i, individual)
        updated = now - timedelta(minutes=rng.randrange(525_600))
        dossiers.append({
            "id": i, "archive_no": f"KH-S-{i:08d}", "customer_name": name, "name_sort": name_sort_key(name),
            "credit_code": None, "customer_type": rng.choice(("supplier", "client", "client", "partner")),
            "grade": rng.choice("AABBBCCD"), "industry": rng.choice(INDUSTRIES),
            "region": rng.choice(REGIONS), "owner_id": emp if i % 10 == 0 else arch,
            "secrecy": rng.choice(("internal",) * 6 + ("public", "confidential", "confidential", "secret")),
            "status": "active", "location": f"A-{i % 40:02d}-{i % 7:02d}",
            "next_review_date": today + timedelta(days=rng.randrange(-60, 365)),
            "created_at": updated, "updated_at": updated, "created_by_id": arch})
        values = {"phone": f"13{rng.randrange(10**9):09d}"}
        if individual:
            values["id_number"] = id_number(rng, i)
            values["address"] = f"{rng.choice(REGIONS)}市某区某路{rng.randrange(1, 999)}号"
            ids.append(values["id_number"])
        else:
            values["bank_account"] = f"6222{rng.randrange(10**12):012d}"
        cards.append({
            "dossier_id": i, "customer_kind": "individual" if individual else "organisation",
            "id_number_digest": lookup_digest(v, "id_number", values["id_number"]) if individual else None,
            "gender": rng.choice(("male", "female")) if individual else None, "former_names": "",
            "legal_representative": "" if individual or rng.random() < 0.2 else rng.choice(SURNAMES) + "总",
            "registered_address": "" if individual else f"{rng.choice(REGIONS)}某路{i}号",
            "business_address": "",
            "registered_capital": "" if individual else f"{rng.randrange(1, 500)}0000.00",
            "currency": "" if individual else "CNY", "business_scope": "", "main_products": "",
            "staff_size": "", "website": "", "email": "", "bank_name": "" if individual else "工商银行",
            "credit_rating": "", "credit_rating_source": "", "partner_kind": "", "stage": rng.choice(STAGES),
            "updated_at": updated})
        # the list's columns as the services leave them (no documents: incomplete under the default rules);
        # refresh_completeness after the COPY checks them and rewrites only what differs
        dossiers[-1].update(card_stage=cards[-1]["stage"], card_kind=cards[-1]["customer_kind"], incomplete=True)
        uid = uuid.uuid4().hex
        data_key = new_data_key()
        key_id, wrapped = v.keyring.wrap(data_key, uuid.UUID(hex=uid).bytes)
        keys.append({"dossier_id": i, "uid": uid, "key_id": key_id, "wrapped_key": wrapped, "created_at": now})
        for field, value in values.items():
            sealed.append({"dossier_id": i, "field": field,
                           "sealed": seal_with_key(data_key, key_id, uid, f"card.{field}", value),
                           "digest": lookup_digest(v, field, value) if field != "address" else None})
        for n in range(RECORDS):
            kind = KINDS[(i + n) % len(KINDS)]
            records.append({
                "dossier_id": i, "kind": kind, "occurred_at": now - timedelta(days=rng.randrange(1, 1000)),
                "channel": rng.choice(("phone", "visit", "email", "wechat")), "staff_id": arch,
                "contact_ids": [], "summary": f"{kind} 第{n + 1}次往来：沟通合同与付款安排",
                "details_sealed": seal_with_key(data_key, key_id, uid, "record.details",
                                                f"详细记录 {i}-{n}：客户反馈交付周期与价格，约定下次回访。"),
                "outcome": "", "next_action": "", "document_ids": [],
                "status": "received" if kind == "complaint" else None,
                "amount_minor": rng.randrange(10**4, 10**9) if kind == "transaction" else None,
                "currency": "CNY" if kind == "transaction" else None, "item": "", "payment_terms": "",
                "result": "", "created_at": now, "created_by_id": arch})
    return [(Dossier, dossiers), (DossierKey, keys), (CustomerCard, cards), (CardSealed, sealed),
            (CustomerRecord, records)], ids


def _populate(v: Vault, customers: int, batch: int, processes: int) -> list[str]:
    """Insert the customers with COPY, one transaction per `batch`, the rows made by `processes` pool processes;
    the ID numbers of the individuals (for the lookups)."""
    with v.session() as s:
        arch = s.scalars(select(User.id).where(User.username == "bench-arch")).one()
        emp = s.scalars(select(User.id).where(User.username == "bench-employee")).one()
    ids: list[str] = []
    starts = range(1, customers + 1, batch)
    with ProcessPoolExecutor(processes, initializer=_open_worker, initargs=(v.settings,)) as pool:
        for tables, chunk_ids in pool.map(_generate, starts, [min(customers + 1, a + batch) for a in starts],
                                          repeat(arch), repeat(emp)):
            with v.session() as s:
                for model, rows in tables:
                    _copy(s, model, rows)
                # what a loader that bypasses the ORM must do: the list's card columns of the dossiers it wrote
                refresh_completeness(s, [row["id"] for row in tables[0][1]])
            ids += chunk_ids
    with v.session() as s:  # later inserts through the services must not collide with the ids used here
        s.execute(text("SELECT setval(pg_get_serial_sequence('dossiers', 'id'), (SELECT max(id) FROM dossiers))"))
    with v.engine.connect() as conn:  # VACUUM: index-only scans need the visibility map; ANALYZE: the statistics
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return ids


def filter_queries(rng: random.Random, n: int) -> list[dict[str, str]]:
    """Random filter combinations as a user of the list would pick them: one to three filters and a sort."""
    out = []
    for _ in range(n):
        q: dict[str, str] = {}
        choices = [("stage", lambda: rng.choice(STAGES)), ("grade", lambda: rng.choice("ABCD")),
                   ("customer_kind", lambda: rng.choice(("organisation", "individual"))),
                   ("region", lambda: rng.choice(REGIONS)), ("industry", lambda: rng.choice(INDUSTRIES)),
                   ("review_due", lambda: rng.choice(("overdue", "7", "30"))), ("incomplete", lambda: "true"),
                   ("owner", lambda: "bench-employee")]
        for key, make in rng.sample(choices, rng.randint(1, 3)):
            q[key] = make()
        q["sort"] = rng.choice(("name", "-name", "archive_no", "-updated", "updated"))
        q["per_page"] = "50"
        out.append(q)
    return out


_SORT_SQL = {"name": "d.name_sort, d.customer_name, d.id", "-name": "d.name_sort DESC, d.customer_name DESC, d.id DESC",
             "archive_no": "d.archive_no, d.id", "-updated": "d.updated_at DESC, d.id DESC",
             "updated": "d.updated_at, d.id"}


CLEARANCE = {"bench-arch": "'public', 'internal', 'confidential', 'secret'", "bench-employee": "'public', 'internal'"}


def bare_sql(q: dict[str, str], employee_id: int, who: str) -> tuple[str, dict[str, Any]]:
    """The same question in hand-written SQL (page of 50 and the count), without the service around it."""
    where = [f"d.secrecy IN ({CLEARANCE[who]})"]
    params: dict[str, Any] = {}
    for key in ("grade", "region", "industry"):
        if key in q:
            where.append(f"d.{key} = %({key})s")
            params[key] = q[key]
    if "stage" in q:
        where.append("coalesce(c.stage, 'prospect') = %(stage)s")
        params["stage"] = q["stage"]
    if "customer_kind" in q:
        where.append("coalesce(c.customer_kind, 'organisation') = %(kind)s")
        params["kind"] = q["customer_kind"]
    if "owner" in q:
        where.append("d.owner_id = %(owner)s")
        params["owner"] = employee_id
    if "review_due" in q:
        where.append("d.next_review_date < current_date" if q["review_due"] == "overdue"
                     else f"d.next_review_date <= current_date + {int(q['review_due'])}")
    if "incomplete" in q:
        where.append("(NOT EXISTS (SELECT 1 FROM documents x WHERE x.dossier_id = d.id AND x.doc_type = 'license' "
                     "AND x.status = 'active') OR coalesce(c.customer_kind, 'organisation') = 'organisation' AND "
                     "(c.legal_representative = '' OR NOT EXISTS (SELECT 1 FROM card_sealed y WHERE "
                     "y.dossier_id = d.id AND y.field = 'bank_account')))")
    body = "FROM dossiers d LEFT JOIN customer_cards c ON c.dossier_id = d.id WHERE " + " AND ".join(where)
    return (f"SELECT count(*) {body}; SELECT d.* {body} ORDER BY {_SORT_SQL[q['sort']]} LIMIT 50", params)


def _time_api(shape: ProductionShape, calls: Sequence[tuple[str, str, bytes | None]],
              token: str) -> tuple[list[float], int]:
    conn = shape.connection()
    times, errors = [], 0
    try:
        for method, path, body in calls:
            start = time.perf_counter()
            status, _ = shape.request(method, path, body, token=token, conn=conn,
                                      content_type="application/json" if body else None)
            times.append(time.perf_counter() - start)
            errors += status != 200
    finally:
        conn.close()
    return times, errors


def _time_sql(dsn: str, statements: list[tuple[str, dict[str, Any]]]) -> list[float]:
    times = []
    with psycopg.connect(dsn) as conn:
        for sql, params in statements:
            start = time.perf_counter()
            for part in sql.split("; "):
                conn.execute(part, params if "%(" in part else None).fetchall()
            times.append(time.perf_counter() - start)
    return times


def run(customers: int = 100_000, requests: int = 200, batch: int = 5000, gunicorn_workers: int = 2,
        processes: int = 2, hold: bool = False, keep: Path | None = None) -> dict[str, Any]:
    """Generate, insert, serve, measure; figures as a dict (latencies in ms)."""
    figures: dict[str, Any] = {"customers": customers, "insert_s": 0.0}
    with ProductionShape(gunicorn_workers=gunicorn_workers, threads=1, worker=False, serve=False, keep=keep) as shape:
        settings = load_settings({"home": str(shape.home), "database_url": shape.database_url}, environ={})
        v = Vault.open(settings)
        kept = None if keep is None else keep / f"ids-{customers}.json"
        try:
            if kept is not None and shape.reused:
                if not kept.exists():
                    raise SystemExit(f"{keep} holds another number of customers than {customers}")
                ids = json.loads(kept.read_text())
                with v.engine.connect() as conn:  # after a migration's rewrite of rows (Vault.open's sync_rules)
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            else:
                t0 = time.perf_counter()
                ids = _populate(v, customers, batch, processes)
                figures["insert_s"] = time.perf_counter() - t0
                if kept is not None:
                    kept.write_text(json.dumps(ids))
            with v.session() as s:
                employee_id = s.scalars(select(User.id).where(User.username == "bench-employee")).one()
                digests = {n: lookup_digest(v, "id_number", n) for n in ids[:requests]}
        finally:
            v.close()
        shape.start_server()
        tokens = {who: shape.token(who) for who in ("bench-arch", "bench-employee", "bench-legal")}
        rng = random.Random(5)
        queries = filter_queries(rng, requests)
        picks = [rng.choice(list(digests)) for _ in range(requests)]
        shape.request("GET", "/api/v1/dossiers", token=tokens["bench-arch"])  # warm up a little
        list_calls = [("GET", "/api/v1/dossiers?" + urlencode(q), None) for q in queries]
        lookup_calls = [("POST", "/api/v1/lookup", json.dumps({"id_number": n}).encode()) for n in picks]
        times: dict[str, list[float]] = {}
        errors = 0
        for name, calls, who in (("floor", [("GET", "/api/v1/me", None)] * requests, "bench-arch"),
                                 ("list_archivist", list_calls, "bench-arch"),
                                 ("list_employee", list_calls, "bench-employee"),
                                 ("lookup", lookup_calls, "bench-legal")):
            times[name], failed = _time_api(shape, calls, tokens[who])
            errors += failed
        status, body = shape.request("POST", "/api/v1/lookup", lookup_calls[0][2], token=tokens["bench-legal"],
                                     content_type="application/json")
        figures["lookup_sample_matches"] = len(json.loads(body).get("items", [])) if status == 200 else None
        dsn = shape.database_url.replace("postgresql+psycopg://", "postgresql://")
        for who, name in (("bench-arch", "list_archivist"), ("bench-employee", "list_employee")):
            times["bare_" + name] = _time_sql(dsn, [bare_sql(q, employee_id, who) for q in queries])
            slowest = sorted(zip(times[name], queries, strict=True), key=lambda x: -x[0])[:3]
            figures["slowest_" + name] = [(round(t * 1000, 1), urlencode(q)) for t, q in slowest]
        times["bare_lookup"] = _time_sql(dsn, [(
            "SELECT d.id, d.archive_no, d.customer_name FROM dossiers d JOIN card_sealed c ON c.dossier_id = d.id "
            "WHERE c.field = 'id_number' AND c.digest = %(g)s ORDER BY d.id", {"g": digests[n]}) for n in picks])
        if hold:
            print(report(_percentiles(figures, times, errors)), flush=True)
            print(f"holding: {dsn} and http://127.0.0.1:{shape.port}; tokens {tokens}; Ctrl-C or SIGTERM ends",
                  flush=True)
            # a run started in the background ignores SIGINT, and SIGTERM would skip the clean-up: both end the hold
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                while True:
                    time.sleep(5)
            except KeyboardInterrupt:
                pass
    return _percentiles(figures, times, errors)


def _percentiles(figures: dict[str, Any], times: dict[str, list[float]], errors: int) -> dict[str, Any]:
    for name, values in times.items():
        figures[f"{name}_requests"] = len(values)
        figures[f"{name}_p50_ms"] = percentile(values, 50) * 1000
        figures[f"{name}_p95_ms"] = percentile(values, 95) * 1000
    figures["errors"] = errors
    return figures


def report(f: dict[str, Any]) -> str:
    def line(label: str, name: str, target: float | None = None) -> str:
        out = f"  {label:<44} p50 {f[name + '_p50_ms']:7.1f} ms  p95 {f[name + '_p95_ms']:7.1f} ms"
        if target is not None:
            out += (f"  ({f[name + '_requests']} requests; target p95 <= {target:.0f} ms: "
                    f"{'met' if f[name + '_p95_ms'] <= target else 'NOT met'})")
        elif name.startswith("bare_"):
            api = name[len("bare_"):]
            out += f"  (API / bare at p95: {f[api + '_p95_ms'] / max(f[name + '_p95_ms'], 1e-3):.1f}x)"
        return out

    lines = [
        f"customers_scale: {f['customers']} customers with {RECORDS} records each on PostgreSQL; "
        + (f"rows inserted in {f['insert_s']:.0f} s" if f["insert_s"] else "rows of the kept database"),
        line("GET /api/v1/dossiers filtered, as archivist", "list_archivist", 100),
        line("  bare SQL, same filters (count + page)", "bare_list_archivist"),
        line("GET /api/v1/dossiers filtered, as employee", "list_employee", 100),
        line("  bare SQL, same filters (count + page)", "bare_list_employee"),
        line("POST /api/v1/lookup id_number, as legal", "lookup", 20),
        line("  bare SQL, same digest lookup", "bare_lookup"),
        line("GET /api/v1/me (the API's floor: token, JSON)", "floor"),
        f"  lookup sample matches: {f['lookup_sample_matches']}; errors: {f['errors']}",
    ]
    for who in ("list_archivist", "list_employee"):
        lines += [f"  slowest {who}: {ms} ms  ?{q}" for ms, q in f["slowest_" + who]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--batch", type=int, default=5000, help="customers per insert transaction")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="processes making (sealing) the rows")
    parser.add_argument("--hold", action="store_true", help="after measuring, keep PostgreSQL and gunicorn up "
                        "(for EXPLAIN) until Ctrl-C or SIGTERM")
    parser.add_argument("--keep-db", type=Path, metavar="DIR", help="keep the database (and home) in DIR and reuse "
                        "it on the next run with the same DIR and --customers, instead of building it again")
    parser.add_argument("--quick", action="store_true", help="2,000 customers, 20 requests per kind: a smoke run")
    args = parser.parse_args(argv)
    sizes = {"customers": args.customers, "requests": args.requests, "batch": args.batch,
             "gunicorn_workers": args.gunicorn_workers, "processes": args.processes, "hold": args.hold}
    keep = None if args.keep_db is None else args.keep_db.resolve()
    figures = run(**(QUICK if args.quick else sizes), keep=keep)
    print(report(figures))
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
