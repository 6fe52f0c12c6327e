"""Clean a scanned page before OCR: straighten it, even out shadows, remove speckle, enlarge low-res scans.

Runs in the sandboxed extraction child (inside its memory and time limits), on the grey page that
`indexer.ocr.prepare` made. A cheap look at a shrunken copy of the page (`assess`) decides which
steps can help; a clean, straight, evenly lit scan at a good resolution goes to Tesseract untouched.
Everything here is OpenCV (one thread: the two cores are Tesseract's).

Measured with bench/ocr_robustness.py: the page is handed to Tesseract grey and flattened, not
binarised here. Binarising the flattened page (Otsu's threshold, or one capped lower) and removing
small connected components afterwards found fewer terms on the degraded scans than letting
Tesseract binarise the evened-out page itself (12 vs 16 of 20 terms on four combined-degradation
scans); non-local-means denoising cost ~15 s a page for no gain, while a 3x3 median at the scan's
own resolution removes the speckle.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a BLAS thread pool reserves memory under RLIMIT_AS

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

cv2.setNumThreads(1)

TARGET_DPI = 300  # Tesseract reads CJK best at about this resolution
LOW_DPI = 200  # scans below this are enlarged to TARGET_DPI
# Tesseract copes with a skew under MIN_SKEW_DEG itself: straightening the synthetic originals (0.1-1.5
# degrees) lost three terms of 113 to resampling and gained none. A page cleaned up for another reason
# (shadow, speckle, low resolution) is resampled anyway; there straightening from MIN_SKEW_CLEANING
# on found seven terms more on the mixed-degradation set than from MIN_SKEW_DEG
MIN_SKEW_DEG = 2.0
MIN_SKEW_CLEANING = 0.3
MAX_SKEW_DEG = 8.0  # searched for in this range either way
UNEVEN = 0.82  # the darkest part of the paper under this fraction of the brightest: a shadow
SPECKLE = 0.0003  # isolated dots (1-3 px) over this share of the page: noise to remove (clean scans: ~0)
WORK_WIDTH = 900  # the paper's brightness is measured on a copy about this wide
SKEW_WIDTH = 1600  # and the skew on one about this wide (at 900, estimates are off by up to 0.2 degree)
MAX_PIXELS = 40_000_000  # never enlarge beyond this (same bound as the renderer's)
# On a flattened page the paper is about 255 and grain leaves it mottled down to ~200; Tesseract's own
# binarisation turns that mottle into specks it then tries to read. Setting everything lighter than
# PAPER_WHITE to white (the ink keeps its grey levels) made the two passes on combined-degradation
# scans 15-45% faster and found 3 terms more on three of them (200 measured better than 180 and 215)
PAPER_WHITE = 200


@dataclass(frozen=True)
class Assessment:
    """What a quick look at a page found, and so which clean-up steps it gets."""

    skew_deg: float  # the counter-clockwise rotation that makes the text lines level
    uneven: bool  # a shadow or yellowed patch: the paper's brightness varies across the page
    speckled: bool  # many isolated dots
    low_res: bool

    @property
    def resampled(self) -> bool:
        """Whether the page is filtered or enlarged whatever its skew."""
        return self.uneven or self.speckled or self.low_res

    @property
    def needed(self) -> bool:
        return self.resampled or abs(self.skew_deg) >= MIN_SKEW_DEG


def clean(image: Image.Image, dpi: int) -> tuple[Image.Image, int, Assessment]:
    """The page made easier to read (or the same page, when nothing can help), its dpi, and why."""
    grey = np.asarray(image.convert("L"))
    found = assess(grey, dpi)
    if not found.needed:
        return image, dpi, found
    if found.speckled:
        grey = cv2.medianBlur(grey, 3)  # at the scan's own resolution, where a dot is 1-2 px
    if found.low_res:
        scale = min(TARGET_DPI / dpi, math.sqrt(MAX_PIXELS / max(grey.size, 1)))
        if scale > 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            dpi = round(dpi * scale)
    if found.uneven or found.speckled:
        grey = flatten(grey)
        grey[grey > PAPER_WHITE] = 255
    if abs(found.skew_deg) >= (MIN_SKEW_CLEANING if found.resampled else MIN_SKEW_DEG):
        grey = rotate(grey, found.skew_deg)
    return Image.fromarray(grey), dpi, found


def assess(grey: np.ndarray, dpi: int) -> Assessment:
    """Measure skew, evenness of the paper and speckle on the page (the costly parts on a small copy)."""
    small, _ = _shrink(grey, WORK_WIDTH)
    background = _background(small)
    lo, hi = np.percentile(background, (2, 98))
    uneven = bool(hi > 0 and lo / hi < UNEVEN)
    medium, _ = _shrink(grey, SKEW_WIDTH)
    angle = estimate_skew(_ink(medium, cv2.resize(background, (medium.shape[1], medium.shape[0]))))
    return Assessment(angle, uneven, speckle_share(grey, background) > SPECKLE, dpi < LOW_DPI)


def _shrink(grey: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    factor = min(1.0, width / max(grey.shape[1], 1))
    if factor >= 1.0:
        return grey, 1.0
    return cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor


def _background(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness without the ink: a grey closing with a kernel wider than strokes, smoothed."""
    k = max(15, (min(grey.shape) // 40) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, kernel)
    return cv2.GaussianBlur(closed, (0, 0), k / 2)


def _ink(grey: np.ndarray, background: np.ndarray) -> np.ndarray:
    """A mask of the ink: pixels clearly darker than the paper around them."""
    ratio = grey.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    return (ratio < 0.7).astype(np.uint8)


def flatten(grey: np.ndarray) -> np.ndarray:
    """Divide the page by its paper brightness: shadows and yellowed patches become white paper."""
    small, _ = _shrink(grey, WORK_WIDTH)
    background = cv2.resize(_background(small), (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(grey, background, scale=255)


def speckle_share(grey: np.ndarray, small_background: np.ndarray) -> float:
    """Isolated dark dots of one to three pixels (dust, sensor noise) per pixel of the page.

    A large page is sampled at every other pixel (not averaged, which would wash the dots out).
    """
    while grey.shape[1] > 2 * SKEW_WIDTH:
        grey = grey[::2, ::2]
    background = cv2.resize(small_background, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    _, _, stats, _ = cv2.connectedComponentsWithStats(_ink(grey, background), connectivity=8)
    return float(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] <= 3)) / max(grey.size, 1)


def rotate(grey: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate by angle_deg (counter-clockwise) onto white, the canvas grown so no corner is cut."""
    h, w = grey.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(grey, matrix, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=255)


def estimate_skew(ink: np.ndarray) -> float:
    """The angle that straightens the text lines, in degrees counter-clockwise (projection profiles).

    For each candidate angle the ink is projected onto the axis across the lines; lines are sharpest
    (the profile's energy highest) at the right angle. Coarse steps of 0.5 degree, then 0.05 around
    the best.
    """
    ys, xs = np.nonzero(ink)
    if ys.size < 200:
        return 0.0
    if ys.size > 80_000:
        keep = np.random.default_rng(0).choice(ys.size, 80_000, replace=False)
        ys, xs = ys[keep], xs[keep]
    x = xs.astype(np.float32) - ink.shape[1] // 2
    y = ys.astype(np.float32) - ink.shape[0] // 2
    return _best_angle(x, y)


def _best_angle(x: np.ndarray, y: np.ndarray) -> float:
    def score(deg: float) -> float:
        t = math.radians(deg)
        rows = np.floor(y * math.cos(t) - x * math.sin(t)).astype(np.int32)
        profile = np.bincount(rows - rows.min()).astype(np.float64)
        return float(np.sum(np.diff(profile) ** 2))

    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 0.01, 0.5)
    scores = [score(d) for d in coarse]
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.5, best + 0.51, 0.05)
    fine_scores = [score(d) for d in fine]
    return float(fine[int(np.argmax(fine_scores))])
