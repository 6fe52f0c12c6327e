"""OCR of bad scans with real Tesseract: the clean-up before it finds what the raw page hides.

Pages are made here: lines set in the corpus's CJK font at 300 dpi, then turned, shadowed and
speckled with a fixed seed, the way bench/ocr_robustness.py degrades the synthetic scans.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer import ocr
from indexer.extract import ExtractionFailed, extract
from tests.unit.test_ocr_imageprep import LINES, page, turned

pytestmark = pytest.mark.skipif(not ocr.tesseract_available(), reason="Tesseract is part of the server")

TERMS = ["广州恒远供应链管理有限公司", "人民币壹仟万元", "2013年01月24日", "91440106MAURQ2839A"]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def shadowed_and_speckled(image: Image.Image) -> Image.Image:
    """The page photographed under a lamp: dark towards one corner, grainy, dust on it."""
    grey = np.asarray(image, dtype=np.float32)
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.clip((xx / w + yy / h) / 2, 0, 1)
    grey = grey * (1.0 - 0.6 * t * t * (3 - 2 * t))  # the far corner at 40 % of the paper's white
    rng = np.random.default_rng(13)
    grey = grey + rng.normal(0, 10, grey.shape)
    for value in (0.0, 255.0):
        ys, xs = rng.integers(0, h - 1, h * w // 250), rng.integers(0, w - 1, h * w // 250)
        grey[ys, xs] = value
        grey[ys[::3] + 1, xs[::3] + 1] = value
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))


def read(image: Image.Image, dpi: int, *, clean: bool) -> str:
    """Both Tesseract passes over the page, with or without the clean-up first."""
    prepared = ocr.prepare(image, dpi)
    if clean:
        prepared = ocr.clean_page(prepared)
    return ocr.merge_passes(ocr.run_tesseract(prepared, langs, psm=psm, timeout_s=60)
                            for langs, psm in ocr.passes("chi_sim+eng"))


def test_a_page_scanned_three_and_a_half_degrees_askew_is_straightened_and_read(tmp_path: Path) -> None:
    path = tmp_path / "askew.png"
    turned(page(LINES[:2]), 3.5).save(path, dpi=(300, 300))
    text = squash(extract(path, "image/png").text)
    assert all(term in text for term in TERMS), text


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_a_page_scanned_on_its_side_or_upside_down_is_turned_upright_and_read(
    tmp_path: Path, quarter_turns: int
) -> None:
    path = tmp_path / "turned.png"
    page().rotate(90 * quarter_turns, expand=True).save(path, dpi=(300, 300))
    text = squash(extract(path, "image/png").text)
    assert all(term in text for term in TERMS), text


def test_the_key_terms_of_a_shadowed_noisy_page_are_found_after_the_clean_up_and_not_before() -> None:
    bad = shadowed_and_speckled(turned(page(LINES[:2]), -2.5))
    before, after = squash(read(bad, 300, clean=False)), squash(read(bad, 300, clean=True))
    assert sum(term in before for term in TERMS) <= 1, before
    assert all(term in after for term in TERMS), after


def test_an_image_too_large_is_refused_before_any_clean_up(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (12_000, 9_000), 255).save(path, dpi=(150, 150))  # 108 megapixels, would be enlarged
    started = time.monotonic()
    with pytest.raises(ExtractionFailed, match="too large to process"):
        extract(path, "image/png", timeout_s=30, memory_mb=1024)
    assert time.monotonic() - started < 10


def test_the_clean_up_counts_against_the_extraction_time_limit(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    shadowed_and_speckled(turned(page(), 3.0)).save(path, dpi=(300, 300))
    started = time.monotonic()
    with pytest.raises(ExtractionFailed, match="longer than 1 s"):
        extract(path, "image/png", timeout_s=1)
    assert time.monotonic() - started < 10
