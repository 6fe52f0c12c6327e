"""How Tesseract's passes over a page are read and when (and which part of) a page is read a second time, enlarged."""

from __future__ import annotations

from PIL import Image

from indexer import ocr

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def tsv(*words: tuple[int, int, float, str], top: int = 0, height: int = 10) -> str:
    """Tesseract's word table for words given as (block, line, confidence, text); line n of a block
    lies at top + n * 2 * height."""
    rows = [HEADER, "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t"]
    for i, (block, line, conf, text) in enumerate(words):
        y = top + line * 2 * height
        rows.append(f"5\t1\t{block}\t1\t{line}\t{i}\t0\t{y}\t10\t{height}\t{conf}\t{text}")
    return "\n".join(rows) + "\n"


def test_the_word_table_reads_as_one_line_per_line_tesseract_found() -> None:
    reading = ocr.parse_tsv(tsv((1, 1, 96, "营业执照"), (1, 1, 90, "副本"), (1, 2, 88, "名称"), (2, 1, 91, "Tel")))
    assert reading.text.splitlines() == ["营业执照 副本", "名称", "Tel"]


def test_the_confidence_of_a_pass_is_weighed_by_the_characters_each_word_holds() -> None:
    reading = ocr.parse_tsv(tsv((1, 1, 90.0, "有限公司"), (1, 1, 30.0, "X")))
    assert reading.confidence == (90 * 4 + 30 * 1) / 5


def test_a_pass_that_read_nothing_has_no_confidence_and_asks_for_no_second_look() -> None:
    empty = ocr.parse_tsv(HEADER + "\n")
    assert empty == ocr.Reading("", 0.0)
    assert not ocr.wants_second_look([empty, empty])


def test_a_page_gets_a_second_look_when_any_pass_was_unsure_of_it() -> None:
    sure, unsure = ocr.Reading("营业执照", 93.0), ocr.Reading("营业执照", ocr.SECOND_LOOK_BELOW - 5)
    assert not ocr.wants_second_look([sure, sure])
    assert ocr.wants_second_look([sure, unsure])


def test_the_second_look_enlarges_the_page_and_its_resolution_but_never_beyond_the_pixel_cap() -> None:
    page = ocr.OcrPage(Image.new("L", (1000, 1400), 255), 300)
    bigger = ocr.enlarged(page)
    assert bigger.image.size == (1500, 2100) and bigger.dpi == 450
    huge = ocr.OcrPage(Image.new("L", (5000, 7000), 255), 300)  # 35 MP: only to the 40 MP cap
    assert ocr.enlarged(huge).image.width * ocr.enlarged(huge).image.height <= ocr.MAX_OCR_PIXELS


def test_the_second_look_reads_only_the_bands_of_lines_a_pass_was_unsure_of() -> None:
    page = ocr.OcrPage(Image.new("L", (1000, 2000), 255), 300)
    # a 40 px high line every 80 px from y = 80; lines 3 and 4 read unsurely by one pass, line 10 by the other
    words = [(1, n, 95.0, "有限公司") for n in range(1, 21)]
    first = ocr.parse_tsv(tsv(*[(b, n, 60.0 if n in (3, 4) else c, t) for b, n, c, t in words], height=40))
    second = ocr.parse_tsv(tsv(*[(b, n, 50.0 if n == 10 else c, t) for b, n, c, t in words], height=40))
    assert [(line.top, line.bottom) for line in first.lines][:2] == [(80, 120), (160, 200)]
    bands = ocr.unsure_bands(page, [first, second])
    def in_a_band(n: int) -> bool:
        return any(top <= 80 * n and 80 * n + 40 <= bottom for top, bottom in bands)

    assert [n for n in range(1, 21) if in_a_band(n)] == [3, 4, 10]
    assert not any(top <= 80 * n + 20 <= bottom for top, bottom in bands for n in (2, 5, 9, 11))
    looked_at = ocr.second_look_page(page, [first, second])
    covered = sum(bottom - top for top, bottom in bands)
    assert looked_at.image.width == 1500 and covered * 1.5 < looked_at.image.height < 1000  # not the page
    assert looked_at.dpi == 450


def test_a_page_mostly_read_unsurely_gets_its_second_look_whole() -> None:
    page = ocr.OcrPage(Image.new("L", (1000, 2000), 255), 300)
    unsure = ocr.parse_tsv(tsv(*[(1, n, 60.0, "有限公司") for n in range(1, 21)], height=40))
    assert ocr.second_look_page(page, [unsure]).image.size == (1500, 3000)
