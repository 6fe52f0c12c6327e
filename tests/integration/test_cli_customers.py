"""`dossier customers import|export` on the command line: dry run, real run with a per-row report, export."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import People
from tests.integration.test_customer_import_export import CODES, GOOD, RECORD_HEAD, csv_bytes
from tests.ops.conftest import run_cli
from vault.core import Vault
from vault.models import Dossier


def dossiers(vault: Vault) -> int:
    with vault.session() as s:
        return s.query(Dossier).count()


def test_the_cli_checks_then_imports_a_file_and_reports_each_row(vault: Vault, people: People,
                                                                   tmp_path: Path) -> None:
    people.archivist, people.employee  # noqa: B018 - the importer and the rows' owner exist
    bad = ["坏公司", "913307828124158691", "", "client", "A", "", "employee", "", "", "", ""]
    path = tmp_path / "客户一览表.csv"
    path.write_bytes(csv_bytes([*GOOD, bad]))
    dry = run_cli(vault, "customers", "import", str(path), "--dry-run", "--as", "archivist")
    assert dry.exit_code == 2
    assert "row 2: create" in dry.output and "row 4: refuse (credit_code:" in dry.output
    assert "2 would be created" in dry.output and dossiers(vault) == 0
    real = run_cli(vault, "customers", "import", str(path), "--as", "archivist", "--json")
    report = json.loads(real.output[real.output.index("{"):])
    assert (report["created"], report["refused"]) == (2, 1) and dossiers(vault) == 2
    again = run_cli(vault, "customers", "import", str(path), "--as", "archivist")
    assert "0 were created, 2 were updated, 1 refused" in again.output and dossiers(vault) == 2
    records = tmp_path / "往来记录.csv"
    records.write_bytes(csv_bytes([[CODES[0], "", "回访", "2025-06-01", "电话回访满意度"],
                                   [CODES[0], "", "闲聊", "2025-06-02", "未知类型"]], RECORD_HEAD[:5]))
    for expected in ("1 were created, 0 were updated, 1 refused", "0 were created, 1 were updated, 1 refused"):
        r = run_cli(vault, "customers", "import", str(records), "--sheet", "records", "--as", "archivist")
        assert r.exit_code == 2 and expected in r.output and "row 3: refuse (kind:" in r.output, r.output
    out = tmp_path / "records.csv"
    r = run_cli(vault, "customers", "export", "--sheet", "records", "--format", "csv", "--output", str(out),
                "--as", "archivist")  # the system account reads no content: its export comes masked
    assert r.exit_code == 0 and "1 records written" in r.output and "电话回访满意度" in out.read_text("utf-8-sig")


def test_the_cli_exports_an_xlsx_masked_as_the_named_user_sees_it(vault: Vault, people: People,
                                                                   tmp_path: Path) -> None:
    people.archivist, people.employee  # noqa: B018
    people.make("clerk", "employee")  # not the rows' owner
    path = tmp_path / "in.csv"
    path.write_bytes(csv_bytes(GOOD))
    run_cli(vault, "customers", "import", str(path), "--as", "archivist")
    out = tmp_path / "out.xlsx"
    r = run_cli(vault, "customers", "export", "--format", "xlsx", "--output", str(out), "--as", "clerk",
                "--lang", "en")
    assert r.exit_code == 0 and "2 customers written" in r.output
    ws = load_workbook(out).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    by_name = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_name["甲公司"]["Credit code"] == CODES[0]
    assert by_name["张三"]["Bank account"] == "6222 **** **** 0123"
    owner = tmp_path / "owner.xlsx"
    run_cli(vault, "customers", "export", "--output", str(owner), "--as", "employee")
    full = list(load_workbook(owner).worksheets[0].iter_rows(values_only=True))
    assert "6222020200000123" in [c for row in full for c in row]
