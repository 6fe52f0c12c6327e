"""OCR with Tesseract: page images in, clean searchable text out.

Runs inside the extraction child (see `indexer.sandbox`); every Tesseract call is a subprocess with
its own timeout, fed the image through a pipe so no plaintext image touches the disk.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageOps

from indexer import imageprep, ocr_repair
from indexer.ocr_repair import fix_credit_code

OCR_DPI = 300  # pages are rendered at, and small scans scaled up to, this resolution
MAX_OCR_PIXELS = 40_000_000  # never enlarge a scan beyond this
MIN_DPI = 150  # scans below this resolution are scaled up to OCR_DPI
MAX_WORKERS = 2  # the machine has two cores; one single-threaded Tesseract per core


class OcrError(Exception):
    """Tesseract could not be run or failed on a page."""


class OcrOutOfMemory(OcrError):
    """Tesseract failed for lack of memory (it inherits the extraction's memory limit)."""


_OOM_SIGNS = ("bad_alloc", "Cannot allocate memory", "out of memory", "Resource temporarily unavailable")


@dataclass(frozen=True)
class OcrPage:
    """One image ready for Tesseract: grey or bi-level pixels and the resolution they are at."""

    image: Image.Image
    dpi: int


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def prepare(image: Image.Image, dpi: int | None) -> OcrPage:
    """Normalise a scan for Tesseract: upright, flattened onto white, grey, at least 150 dpi."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    grey = image.convert("L")
    scale = 1.0
    if dpi is None or not 50 <= dpi <= 1200:
        # unknown resolution: a small screenshot-like image is enlarged so letters get enough pixels
        scale = 2.0 if max(grey.size) < 1500 else 1.0
        dpi = OCR_DPI
    elif dpi < MIN_DPI:
        scale, dpi = OCR_DPI / dpi, OCR_DPI
    # (scaling 200-240 dpi scans up to 300 dpi was measured: no more terms found, 2x slower)
    scale = min(scale, math.sqrt(MAX_OCR_PIXELS / max(grey.width * grey.height, 1)))
    if scale > 1.0:
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.LANCZOS)
    return OcrPage(grey, dpi)


def _pnm(image: Image.Image) -> bytes:
    """The image as PGM: encoding is ~30x faster than PNG and Tesseract reads it from stdin."""
    buf = io.BytesIO()
    image.save(buf, format="PPM")
    return buf.getvalue()


def run_tesseract(page: OcrPage, languages: str, *, psm: int, timeout_s: float, tsv: bool = False) -> str:
    """Tesseract's own text output for one image (never a re-parsed OCR PDF); `tsv`: its word table."""
    if timeout_s <= 0:
        raise OcrError("no time left for OCR")
    cmd = ["tesseract", "stdin", "stdout", "-l", languages, "--psm", str(psm), "--dpi", str(page.dpi)]
    cmd += ["-c", "tessedit_do_invert=0"]  # no white-on-black text in scans; same output, ~5% faster
    cmd += ["tsv"] if tsv else []
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OMP_THREAD_LIMIT": "1",  # parallelism comes from running pages side by side
        "LC_ALL": "C.UTF-8",
    }
    if "TESSDATA_PREFIX" in os.environ:
        env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
    try:
        done = subprocess.run(
            cmd, input=_pnm(page.image), capture_output=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise OcrError(f"Tesseract took longer than {timeout_s:.0f} s on a page") from None
    except OSError as exc:
        raise OcrError(f"Tesseract could not be started ({exc.strerror})") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace")
        if any(sign in err for sign in _OOM_SIGNS):
            raise OcrOutOfMemory("Tesseract ran out of memory")
        why = next((ln.strip() for ln in reversed(err.splitlines()) if ln.strip()), "")
        if done.returncode < 0:
            raise OcrError(f"Tesseract was killed by signal {-done.returncode} {why}".strip())
        raise OcrError(f"Tesseract failed (exit {done.returncode}) {why}".strip())
    return done.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class Line:
    """One line Tesseract found: where it is on the page (pixels) and how sure Tesseract was of it."""

    top: int
    bottom: int
    confidence: float


@dataclass(frozen=True)
class Reading:
    """What one Tesseract pass read on a page, and how sure it was."""

    text: str
    confidence: float  # Tesseract's word confidence (0-100), averaged over the characters read
    lines: tuple[Line, ...] = ()


def read(page: OcrPage, languages: str, *, psm: int, timeout_s: float) -> Reading:
    """One Tesseract pass over the page: its text (lines as Tesseract found them) and confidence."""
    return parse_tsv(run_tesseract(page, languages, psm=psm, timeout_s=timeout_s, tsv=True))


def parse_tsv(tsv: str) -> Reading:
    """Tesseract's word table as text, a line per line it found, and the mean confidence per character
    (of the page, and of each line with where it lies)."""
    lines: dict[tuple[str, ...], list[str]] = {}
    spans: dict[tuple[str, ...], list[float]] = {}  # top, bottom, confidence x characters, characters
    weighted = chars = 0.0
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue  # not a word (page, block, paragraph and line rows carry no text)
        key = tuple(cells[1:5])
        lines.setdefault(key, []).append(cells[11])
        n = len(cells[11].strip())
        conf = max(float(cells[10]), 0.0)
        weighted += conf * n
        chars += n
        top, height = int(cells[7]), int(cells[9])
        span = spans.setdefault(key, [top, top + height, 0.0, 0.0])
        span[0], span[1] = min(span[0], top), max(span[1], top + height)
        span[2] += conf * n
        span[3] += n
    text = "\n".join(" ".join(words) for words in lines.values())
    found = tuple(Line(int(a), int(b), w / n) for a, b, w, n in spans.values())
    return Reading(text, weighted / chars if chars else 0.0, found)


def passes(languages: str) -> list[tuple[str, int]]:
    """The Tesseract runs whose union is kept: (languages, page segmentation mode).

    Measured on the 23 synthetic scans (with the clean-up below): automatic layout with all
    languages (psm 3) finds 82% of the manifest terms, one uniform block with the primary language
    only (psm 6) 84%, their union 95%: each pass misreads different fields of the form-like licences.
    """
    primary = languages.split("+")[0]
    return [(languages, 3), (primary, 6)]


# A second look: a page the passes read with low confidence is read once more, enlarged 1.5x
# (primary language, one block). Strokes that blur, noise or a low resolution left a pixel or two
# wide come out at a size where Tesseract separates them, and its misreads there differ from those
# at 300 dpi, so the union finds more: on the benchmark's texts it added 9 terms on 19 combined-
# degradation scans, 1 on 5 mixed ones and 1 on 4 originals that had misses. It costs about 1.2-1.5
# times one pass (Tesseract's LSTM works on lines scaled to a fixed height, so time follows the
# characters more than the pixels). The passes' mean confidence: 56-63 on combined-degradation scans,
# 71-87 on the synthetic originals, whose form-like licences read least sure in the one-block pass.
SECOND_LOOK_BELOW = 75.0  # the lower of the passes' mean confidences under which a page gets a second look
SECOND_LOOK_SCALE = 1.5
SECOND_LOOK_MIN_S = 10.0  # not started with less time than this left before the job's deadline


def wants_second_look(readings: list[Reading]) -> bool:
    """Whether the passes were unsure enough of the page to read it again."""
    read_chars = [r for r in readings if r.text.strip()]
    return bool(read_chars) and min(r.confidence for r in read_chars) < SECOND_LOOK_BELOW


# The second look reads only the bands of the page where a pass read a line less surely than
# LINE_SURE (a line either pass read at least that surely is kept as read), stacked one under the
# other; when those bands cover most of the page, the whole page is read again. Measured on three
# scans (a licence as scanned, two combined-degradation ones): the second look took 0.65-0.85 of its
# CPU time on the whole page and found the same terms.
LINE_SURE = 85.0
BAND_PAD = 0.35  # of the line's height, above and below it
WHOLE_PAGE_SHARE = 0.6  # bands covering more of the page's height than this: read the whole page


def unsure_bands(page: OcrPage, readings: list[Reading]) -> list[tuple[int, int]]:
    """The page's horizontal bands (top, bottom) that hold a line some pass read unsurely, merged."""
    spans = []
    for reading in readings:
        for line in reading.lines:
            if line.confidence < LINE_SURE:
                pad = round((line.bottom - line.top) * BAND_PAD) + 2
                spans.append((max(0, line.top - pad), min(page.image.height, line.bottom + pad)))
    bands: list[tuple[int, int]] = []
    for top, bottom in sorted(spans):
        if bands and top <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(bands[-1][1], bottom))
        else:
            bands.append((top, bottom))
    return bands


def second_look_page(page: OcrPage, readings: list[Reading]) -> OcrPage:
    """What the second look reads: the unsure bands stacked (or the whole page), enlarged."""
    bands = unsure_bands(page, readings)
    covered = sum(bottom - top for top, bottom in bands)
    if not bands or covered > page.image.height * WHOLE_PAGE_SHARE:
        return enlarged(page)
    gap = max(10, page.dpi // 10)
    stacked = Image.new(page.image.mode, (page.image.width, covered + gap * (len(bands) + 1)), 255)
    y = gap
    for top, bottom in bands:
        stacked.paste(page.image.crop((0, top, page.image.width, bottom)), (0, y))
        y += bottom - top + gap
    return enlarged(OcrPage(stacked, page.dpi))


def enlarged(page: OcrPage) -> OcrPage:
    """The page at SECOND_LOOK_SCALE times its size (never beyond MAX_OCR_PIXELS), for the second look."""
    scale = min(SECOND_LOOK_SCALE, math.sqrt(MAX_OCR_PIXELS / max(page.image.width * page.image.height, 1)))
    if scale <= 1.0:
        return page
    size = (round(page.image.width * scale), round(page.image.height * scale))
    return OcrPage(page.image.resize(size, Image.Resampling.BICUBIC), round(page.dpi * scale))


def merge_passes(texts: Iterable[str]) -> str:
    """The passes' cleaned text joined; a line an earlier pass already read is not repeated."""
    lines: list[str] = []
    seen: set[str] = set()
    for text in texts:
        for line in clean_ocr_text(text).splitlines():
            key = re.sub(r"\s+", "", line).casefold()
            if key not in seen:
                seen.add(key)
                lines.append(line)
    return "\n".join(lines)


def ocr_pages(
    pages: Iterable[OcrPage | None], languages: str, deadline: float, *, cleanup: bool = True
) -> Iterator[str | None]:
    """OCR pages in order; None (a page that was not rendered) passes through as None.

    Every (page, pass) is one Tesseract job on a pool of two, so even a single page keeps both
    cores busy. Look-ahead is bounded: a long scanned PDF is never rendered far ahead of the OCR.
    With `cleanup` (the default) pages are cleaned up first (`clean_page`), turned upright when they
    read as junk, and read again enlarged when the passes were unsure; without it, only the passes run.
    """

    def run(page: OcrPage, langs: str, psm: int) -> Reading:
        return read(page, langs, psm=psm, timeout_s=deadline - time.monotonic())

    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:

        def merged(entry: tuple[OcrPage, list[Future[Reading]]] | None) -> str | None:
            if entry is None:
                return None
            page, jobs = entry
            readings = [job.result() for job in jobs]
            texts = [r.text for r in readings]
            if not cleanup:
                return merge_passes(texts)
            if looks_unreadable(clean_ocr_text(texts[0]), languages):  # the pass with every language
                turned = _turned_upright(page, texts)
                if turned is not None:
                    return turned
            if wants_second_look(readings) and deadline - time.monotonic() > SECOND_LOOK_MIN_S:
                primary = languages.split("+")[0]
                try:
                    texts.append(pool.submit(run, second_look_page(page, readings), primary, 6).result().text)
                except OcrError:
                    pass  # the second look is extra: without it, the passes' text stands
            return merge_passes(texts)

        def _turned_upright(page: OcrPage, texts: list[str]) -> str | None:
            turn = orientation(page, deadline - time.monotonic())
            if not turn:
                return None
            upright = OcrPage(page.image.rotate(-turn, expand=True, fillcolor=255), page.dpi)
            retried = [run(upright, langs, psm).text for langs, psm in passes(languages)]
            return None if looks_unreadable(clean_ocr_text(retried[0]), languages) else merge_passes(retried)

        pending: deque[tuple[OcrPage, list[Future[Reading]]] | None] = deque()
        try:
            for page in pages:
                if page is None:
                    pending.append(None)
                else:
                    page = clean_page(page) if cleanup else page
                    jobs = [pool.submit(run, page, langs, psm) for langs, psm in passes(languages)]
                    pending.append((page, jobs))
                while len(pending) > MAX_WORKERS:
                    yield merged(pending.popleft())
            while pending:
                yield merged(pending.popleft())
        finally:
            for entry in pending:  # on failure, do not start Tesseract for pages nobody will read
                for job in entry[1] if entry else []:
                    job.cancel()


def clean_page(page: OcrPage) -> OcrPage:
    """The page after the clean-up it needs (`indexer.imageprep`): straightened, evened out, despeckled."""
    image, dpi, _ = imageprep.clean(page.image, page.dpi)
    return OcrPage(image, dpi)


# -- orientation --------------------------------------------------------------------------------
# A page lying on its side or upside down reads as junk. Tesseract's orientation detection (OSD)
# costs about a second a page, so it runs only when a page's text came back unreadable.

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LOWER_WORD = re.compile(r"\b[A-Za-z]?[a-z]{2,}\b")
_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.MULTILINE)


def looks_unreadable(text: str, languages: str) -> bool:
    """Whether the text of the all-languages pass is junk: hardly any Chinese and few lower-case words.

    A Chinese page on its side or upside down comes back from that pass as Latin letters (the
    Chinese-only pass makes up Chinese characters even then, so it cannot tell).
    """
    chars = len(re.sub(r"\s", "", text))
    if chars < 20:
        return True
    if "chi" in languages and len(_HAN.findall(text)) >= chars * 0.1:
        return False
    return sum(len(w) for w in _LOWER_WORD.findall(text)) < chars * 0.3


def orientation(page: OcrPage, timeout_s: float) -> int:
    """How many degrees clockwise the page must turn to be upright (0, 90, 180, 270), by Tesseract's OSD."""
    image, dpi = page.image, page.dpi
    if image.width > 1800:  # OSD needs no more than ~150 dpi; half the pixels, half the time
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
        dpi = max(1, dpi // 2)
    try:
        found = _ROTATE.search(run_tesseract(OcrPage(image, dpi), "osd", psm=0, timeout_s=timeout_s))
    except OcrError:
        return 0  # too few characters for OSD to judge, among others: keep the page as it is
    return int(found.group(1)) % 360 if found else 0


# -- cleaning -----------------------------------------------------------------------------------

_CJK = "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
_CJK_DIGIT_GAP = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[0-9])|(?<=[0-9])[ \t]+(?=[{_CJK}])")
_NUMBER_GAP = re.compile(r"(?<=\d[,.])[ \t]+(?=\d)")
_JUNK_LINE = re.compile(rf"^[^0-9A-Za-z{_CJK}]*$")
# an amount's thousands commas read as full stops ("254.204.14元"): no amount has two decimal points
_GROUPED_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{3})+)[.,](\d{2})(?=元)")


def clean_ocr_text(text: str) -> str:
    """Remove OCR artefacts that break phrase search (spaces inside CJK runs, junk-only lines) and
    repair misread fields by the general rules of `indexer.ocr_repair`."""
    lines = []
    for line in text.splitlines():
        line = _CJK_GAP.sub("", line)
        line = _CJK_DIGIT_GAP.sub("", line)
        line = _NUMBER_GAP.sub("", line)
        line = ocr_repair.CODE_CANDIDATE.sub(lambda m: fix_credit_code(m.group(0)), line)
        line = ocr_repair.repair_masked_ids(line)
        line = ocr_repair.repair_daxie(line)
        line = ocr_repair.repair_dates(line)
        line = _GROUPED_AMOUNT.sub(_fix_grouping, line)
        line = ocr_repair.repair_legal_form(line)
        line = line.strip()
        if line and not _JUNK_LINE.match(line):
            lines.append(line)
    return "\n".join(lines)


def _fix_grouping(match: re.Match[str]) -> str:
    return re.sub(r"[.,]", ",", match.group(1)) + "." + match.group(2)
