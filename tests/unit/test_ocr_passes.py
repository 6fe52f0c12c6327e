"""How Tesseract's passes over a page are read and when a page is read a second time, enlarged."""

from __future__ import annotations

from PIL import Image

from indexer import ocr

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def tsv(*words: tuple[int, int, float, str]) -> str:
    """Tesseract's word table for words given as (block, line, confidence, text)."""
    rows = [HEADER, "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t"]
    for i, (block, line, conf, text) in enumerate(words):
        rows.append(f"5\t1\t{block}\t1\t{line}\t{i}\t0\t0\t10\t10\t{conf}\t{text}")
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
