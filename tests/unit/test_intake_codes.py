"""Real QR codes through the whole paper path: drawn by reportlab into a PDF, rasterised by pdfium and read
back by zxing-cpp (the functions the sandbox child runs), as printed and as a scanner returns them."""

from __future__ import annotations

from pathlib import Path

from indexer.intake_child import PageScan, plan_parts, scan_pages, split_here
from tests.support.paper_stack import content, damage_qr, scanned, separator, stack_pdf


def _scan(tmp_path: Path, pdf: bytes) -> list[PageScan]:
    path = tmp_path / "stack.pdf"
    path.write_bytes(pdf)
    return scan_pages(path)


def test_a_printed_separator_page_is_read_back_with_its_dossier_and_type(tmp_path: Path) -> None:
    scans = _scan(tmp_path, stack_pdf([separator("KH-2026-000123", "contract"), content("page one")]))
    assert [(s.code, s.damaged) for s in scans] == [("DVA1:KH-2026-000123:contract", False), (None, False)]


def test_a_scanned_separator_with_noise_and_a_slight_rotation_is_still_read(tmp_path: Path) -> None:
    pdf = stack_pdf([content("a"), separator("KH-2026-000007"), content("b"), separator("KH-2026-000008", "license")])
    scans = _scan(tmp_path, scanned(pdf, noise=0.03, max_angle=3.0, dpi=100))
    assert [s.code for s in scans] == [None, "DVA1:KH-2026-000007", None, "DVA1:KH-2026-000008:license"]


def test_a_torn_code_is_reported_as_damaged_not_taken_for_another_dossier(tmp_path: Path) -> None:
    pdf = stack_pdf([separator("KH-2026-000001"), content("a"), separator("KH-2026-000002"), content("b")])
    scans = _scan(tmp_path, damage_qr(pdf, 2))
    assert scans[0].code == "DVA1:KH-2026-000001"
    assert scans[2].code is None and scans[2].damaged


def test_a_qr_code_of_another_system_is_ordinary_page_content(tmp_path: Path) -> None:
    from tests.support.paper_stack import Sheet

    scans = _scan(tmp_path, stack_pdf([Sheet(code="https://example.com/invoice/42"), content("x")]))
    assert [s.code for s in scans] == [None, None] and not scans[0].damaged


def test_the_stack_is_split_at_the_codes_and_the_separators_are_left_out() -> None:
    scans = [PageScan(1), PageScan(2, code="DVA1:A"), PageScan(3), PageScan(4), PageScan(5, code="DVA1:B"),
             PageScan(6, code="DVA1:C"), PageScan(7), PageScan(8, damaged=True), PageScan(9)]
    parts = plan_parts(scans)
    assert [(p.pages, p.code, p.problem) for p in parts] == [
        ([1], None, "before_first_separator"), ([3, 4], "DVA1:A", None), ([7], "DVA1:C", None),
        ([8, 9], None, "damaged_code")]  # B had no pages; the damaged page is kept, never dropped
    assert [p.index for p in parts] == [0, 1, 2, 3]


def test_a_stack_without_codes_is_one_part_that_says_so() -> None:
    parts = plan_parts([PageScan(1), PageScan(2)])
    assert [(p.pages, p.problem) for p in parts] == [([1, 2], "no_codes")]


def test_splitting_the_same_stack_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "stack.pdf"
    path.write_bytes(stack_pdf([separator("KH-2026-000001"), content("a"), content("b")]))
    outputs = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        out.mkdir()
        answer = split_here({"path": str(path), "out_dir": str(out)})
        outputs.append([Path(p["path"]).read_bytes() for p in answer["parts"]])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 1
