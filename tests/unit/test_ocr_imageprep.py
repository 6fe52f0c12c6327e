"""The scan clean-up before OCR: skew found on pages turned by known angles, shadows and speckle noticed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from indexer import imageprep

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # the CJK font the synthetic corpus is set in
LINES = [
    "广州恒远供应链管理有限公司 统一社会信用代码 91440106MAURQ2839A",
    "注册资本 人民币壹仟万元 成立日期 2013年01月24日",
    "法定代表人 曹若曦 住所 青岛市黄岛区长江中路188号",
    "经营范围 家具制造 销售 木材加工 进出口业务",
]


def page(lines: list[str] = LINES, size: tuple[int, int] = (2000, 1100), points: int = 40) -> Image.Image:
    """A white page at 300 dpi with the lines set in the corpus's CJK font."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, points)
    for i, line in enumerate(lines * 2):
        draw.text((120, 100 + i * 110), line, font=font, fill=0)
    return image


def turned(image: Image.Image, degrees: float) -> Image.Image:
    """The page placed on the scanner glass turned `degrees` anticlockwise, white around it."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


@pytest.mark.parametrize("degrees", [-4.0, -3.0, -2.2, -0.8, 0.6, 1.5, 2.0, 3.3, 4.0])
def test_the_skew_of_a_page_turned_by_a_known_angle_is_found_within_half_a_degree(degrees: float) -> None:
    found = imageprep.assess(np.asarray(turned(page(), degrees)), 300)
    assert found.skew_deg == pytest.approx(-degrees, abs=0.5)


def test_a_straightened_page_measures_level() -> None:
    straightened, dpi, found = imageprep.clean(turned(page(), 3.0), 300)
    assert found.skew_deg == pytest.approx(-3.0, abs=0.5)
    assert imageprep.assess(np.asarray(straightened), dpi).skew_deg == pytest.approx(0.0, abs=0.3)


def test_a_clean_straight_page_at_300_dpi_is_handed_on_untouched() -> None:
    original = page()
    cleaned, dpi, found = imageprep.clean(original, 300)
    assert not found.needed
    assert cleaned is original and dpi == 300


def test_a_shadow_across_a_grainy_page_is_noticed_and_evened_out_to_plain_white_paper() -> None:
    grey = np.asarray(page(), dtype=np.float32)
    ramp = np.linspace(1.0, 0.45, grey.shape[1], dtype=np.float32)  # darker to the right
    grain = np.random.default_rng(2).normal(0, 8, grey.shape).astype(np.float32)
    shadowed = Image.fromarray(np.clip(grey * ramp[None, :] + grain, 0, 255).astype(np.uint8))
    cleaned, _, found = imageprep.clean(shadowed, 300)
    assert found.uneven
    paper = np.asarray(cleaned)[20:80, :]  # a strip of bare paper above the first line
    assert (paper == 255).mean() > 0.99  # the dark end is white paper again, the grain gone with the shadow
    assert np.asarray(shadowed)[20:80, -200:].mean() < 130
    ink = np.asarray(cleaned)[100:160, 120:1800]  # the first line keeps its dark strokes
    assert (ink < 100).mean() > 0.05


def test_speckle_noise_is_noticed_and_a_low_resolution_scan_is_enlarged_to_300_dpi() -> None:
    small = page().resize((1000, 550))  # the page at 150 dpi
    noisy = np.asarray(small).copy()
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, noisy.shape[0], 2000), rng.integers(0, noisy.shape[1], 2000)
    noisy[ys, xs] = 0
    cleaned, dpi, found = imageprep.clean(Image.fromarray(noisy), 150)
    assert found.speckled and found.low_res
    assert dpi == 300 and cleaned.size == (2000, 1100)
    assert not imageprep.assess(np.asarray(page()), 300).speckled
