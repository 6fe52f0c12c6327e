"""Derive the 大写 confusion table of indexer/ocr_repair.py from Tesseract itself, not from any document.

    PYTHONPATH=. .venv/bin/python scripts/ocr_daxie_confusions.py [--seeds 7,11,13,17,19,23] [--pages 3]

Renders random 大写 amounts (random digits, units and 万/亿 sections, nothing of the test corpus), one
"注册资本 人民币…元整" line each, in the server's CJK font at four sizes on 300 dpi pages; reads them
with chi_sim (one block, psm 6); and counts, on lines read at their true length, which character came
back for which. Prints the confusions that are not themselves 大写 characters, seen at least twice,
and pointing at one 大写 character at least three times in four: the table `CONFUSIONS` holds.
Tesseract runs one line at a time in the same way whatever the document, so the table is the model's.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import ocr  # noqa: E402
from indexer.ocr_repair import DIGITS, FONT  # noqa: E402

DAXIE = set("零" + DIGITS + "拾佰仟万亿元")


def amount(rng: random.Random) -> str:
    """A random 大写 amount: an optional 亿 part, then one to four digits in each of two sections."""
    text = rng.choice(DIGITS) + "亿" if rng.random() < 0.5 else ""
    for section in ("万", ""):
        n = rng.randint(1, 4)
        text += "".join(rng.choice(DIGITS) + unit for unit in ["仟", "佰", "拾", ""][4 - n :]) + section
    return text


def confusions(seed: int, pages: int) -> collections.Counter[tuple[str, str]]:
    rng = random.Random(seed)
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    for _ in range(pages):
        image = Image.new("L", (2480, 3508), 255)
        draw = ImageDraw.Draw(image)
        truth = []
        for i in range(26):
            truth.append(amount(rng))
            font = ImageFont.truetype(FONT, rng.choice([30, 34, 38, 42]))
            draw.text((150, 120 + i * 128), f"注册资本 人民币{truth[-1]}元整", font=font, fill=0)
        text = ocr.run_tesseract(ocr.OcrPage(image, 300), "chi_sim", psm=6, timeout_s=600)
        read = [re.sub(r"\s", "", line) for line in text.splitlines() if "元" in line]
        for meant, line in zip(truth, read, strict=False):
            m = re.search(r"人民币(.*?)元", line)
            if m and len(m.group(1)) == len(meant):
                found.update((a, b) for a, b in zip(meant, m.group(1), strict=True) if a != b)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", default="7,11,13,17,19,23")
    parser.add_argument("--pages", type=int, default=3)
    args = parser.parse_args()
    total: collections.Counter[tuple[str, str]] = collections.Counter()
    for seed in args.seeds.split(","):
        total += confusions(int(seed), args.pages)
    by_read: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (meant, read), n in total.items():
        if read not in DAXIE:
            by_read[read][meant] += n
    table = {}
    for read, targets in sorted(by_read.items()):
        meant, n = targets.most_common(1)[0]
        if n >= 2 and n >= 0.75 * sum(targets.values()):
            table[read] = meant
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
