"""Repairs of Tesseract's text in the fields people search for: 大写 amounts, dates, codes, ID numbers.

Every rule here is a general one, resting on a fact about the Tesseract model (the characters it
cannot output, and what it reads in their place, measured on amounts rendered for the purpose), on
the grammar of the field (a 大写 amount alternates digits and falling units; a
full date's day is followed by 日; a credit code's last character checks the other seventeen), or on
the shape of characters (a misread is replaced only with a character that looks like it). None of
them names a string of a particular document.

Shapes are compared by rendering both characters in the CJK font the server has installed
(fonts-wqy-zenhei, see scripts/install-system-deps.sh).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vault.creditcode import credit_code_problem

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

# -- the shape of characters --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(FONT, 48)
    except OSError:  # no CJK font: no shape-based repairs; the grammar-forced ones are still made
        return None


@lru_cache(maxsize=1024)
def _glyph(ch: str) -> np.ndarray | None:
    """The character's glyph cropped to its ink, 16x16 and smoothed, as a unit vector about its mean."""
    font = _font()
    if font is None:
        return None
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).text((8, 4), ch, font=font, fill=255)
    box = image.point(lambda v: 255 if v > 64 else 0).getbbox()
    if box is None:
        return None
    small = image.crop(box).resize((16, 16), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1.0))
    vector = np.asarray(small, dtype=np.float32)
    vector = vector - vector.mean()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else None


# Alike enough to stand for each other: against a 大写 digit or unit, 99 in 100 of the 500 most common
# characters score under about 0.63 (a measure of how alike unrelated characters come out)
LOOKALIKE = 0.65


def likeness(a: str, b: str) -> float:
    """How alike two characters look, from -1 to 1 (1: the same glyph); 0 when it cannot be told."""
    ga, gb = _glyph(a), _glyph(b)
    if ga is None or gb is None:
        return 0.0
    return float(np.sum(ga * gb))


def most_like(ch: str, candidates: str, *, at_least: float, margin: float) -> str | None:
    """The candidate that looks most like `ch`, if alike enough and clearly ahead of the runner-up."""
    ranked = sorted(((likeness(ch, c), c) for c in candidates), reverse=True)
    if not ranked or ranked[0][0] < at_least:
        return None
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < margin:
        return None
    return ranked[0][1]


# -- 大写 amounts -------------------------------------------------------------------------------
# chi_sim's model cannot output 仟, 叁, 柒 or 捌 (they are not in its character set), so every amount
# holding one comes back with some other character in its place; degraded scans add misreads of the
# rest. An amount alternates digits and units, and units fall within each 万/亿 section, so each
# foreign character's role (digit or unit) is known from its neighbours, and the grammar often leaves
# one unit possible. Otherwise the character is replaced only by the one it looks like.

DIGITS = "壹贰叁肆伍陆柒捌玖"
UNITS = "拾佰仟"  # rising
SECTIONS = "万亿"
NOT_IN_MODEL = "仟叁柒捌"  # absent from chi_sim.traineddata's LSTM character set (Tesseract 4/5 fast and best)
# What chi_sim reads in place of a 大写 character, derived from Tesseract itself by
# scripts/ocr_daxie_confusions.py: random amounts (none from any document) rendered in the server's
# CJK font and read back (468 amounts, seeds 7,11,13,17,19,23); kept when seen at least twice and
# pointing at one character 3 times in 4.
CONFUSIONS = {
    "下": "贰", "不": "贰", "专": "壹", "业": "柒", "事": "壹", "于": "贰", "人": "佰", "什": "仟",
    "介": "佰", "从": "佰", "仔": "仟", "他": "仟", "件": "仟", "任": "仟", "优": "叁", "会": "叁",
    "佐": "叁", "佑": "叁", "作": "仟", "侍": "仟", "信": "佰", "倩": "佰", "值": "佰", "僚": "叁",
    "僵": "叁", "制": "捌", "参": "叁", "可": "壹", "喜": "壹", "址": "贰", "壶": "壹", "大": "肆",
    "失": "拾", "妇": "肆", "娄": "柒", "娠": "肆", "嫂": "肆", "孜": "玖", "寺": "贰", "岩": "肆",
    "式": "贰", "当": "柒", "律": "肆", "忒": "贰", "志": "壹", "所": "捌", "抬": "拾", "押": "捌",
    "抽": "捌", "担": "捌", "拥": "捌", "振": "捌", "提": "捌", "揽": "捌", "撞": "捌", "晶": "捌",
    "染": "柒", "毒": "壹", "汪": "柒", "沫": "柒", "灶": "柒", "焉": "贰", "玉": "玖", "玫": "玖",
    "直": "贰", "类": "柒", "索": "壹", "臣": "贰", "草": "捌", "融": "贰", "要": "壹", "起": "贰",
    "趟": "贰", "过": "壹", "迷": "柒", "雪": "壹", "需": "贰", "项": "贰",
}  # fmt: skip
SPLIT_READS = {"人参": "叁"}  # 叁 read as two characters (the renders' lines that came back one longer)
_KNOWN = set("零" + DIGITS + UNITS + SECTIONS)
_DIGIT_SET, _UNIT_SET, _MARKS = set(DIGITS), set(UNITS), set(UNITS + SECTIONS)
_AMOUNT = re.compile(r"((?:大写[:：]?)?人民币|大写[:：]?)([\u3400-\u9fff]{1,20}?)(元)")


def repair_daxie(text: str) -> str:
    """Put right the characters of 大写 amounts (after 人民币 or 大写, ending in 元) Tesseract misread."""
    return _AMOUNT.sub(lambda m: m.group(1) + _repair_amount(m.group(2)) + m.group(3), text)


def _repair_amount(amount: str) -> str:
    """The amount with each foreign character replaced, if all of them can be and the result parses."""
    read = amount
    for split, meant in SPLIT_READS.items():
        amount = amount.replace(split, meant)
    foreign = [i for i, ch in enumerate(amount) if ch not in _KNOWN]
    if not foreign or len(foreign) > 3 or len(foreign) == len(amount):
        return amount if _grammatical(amount) else read  # nothing (more) to do, or too little read to tell
    chars = list(amount)
    for i in foreign:
        after_digit = i > 0 and chars[i - 1] in _DIGIT_SET
        known = CONFUSIONS.get(chars[i], "")
        if known and (known in _UNIT_SET) == after_digit:
            chars[i] = known
            continue
        found = _unit_at(chars, i) if after_digit else _digit_like(chars[i])
        if found is None:
            return read
        chars[i] = found
    fixed = "".join(chars)
    return fixed if _grammatical(fixed) else read


def _unit_at(chars: list[str], i: int) -> str | None:
    """The unit a foreign character after a digit stands for: what the grammar leaves, else its look."""
    higher = next((c for c in reversed(chars[:i]) if c in _MARKS), "")
    ceiling = UNITS.index(higher) if higher in _UNIT_SET else len(UNITS)
    lower = next((c for c in chars[i + 1 :] if c in _MARKS), "")
    floor = UNITS.index(lower) if lower in _UNIT_SET else -1
    allowed = UNITS[floor + 1 : ceiling]
    if not allowed:
        return None
    follows = chars[i + 1] if i + 1 < len(chars) else ""
    if lower in _UNIT_SET and follows in _DIGIT_SET and UNITS[floor + 1] in allowed:
        return UNITS[floor + 1]  # a digit follows without 零: the very next unit up
    if len(allowed) == 1:
        return allowed
    looks = most_like(chars[i], allowed, at_least=LOOKALIKE, margin=0.1)
    if looks:
        return looks
    return "仟" if "仟" in allowed else None  # the model reads 拾 and 佰; the unit it cannot read is 仟


def _digit_like(ch: str) -> str | None:
    """The digit a foreign character stands for: first among those the model cannot output, by look."""
    missing = most_like(ch, "叁柒捌", at_least=LOOKALIKE, margin=0.1)
    return missing or most_like(ch, DIGITS, at_least=LOOKALIKE, margin=0.1)


def _grammatical(amount: str) -> bool:
    """Whether the amount parses: per section, digit-unit pairs with falling units, 零 between gaps."""
    if not set(amount) <= _KNOWN or amount[0] in _MARKS:
        return False
    for section in re.split(f"[{SECTIONS}]", amount):
        last_unit = len(UNITS)
        previous = ""
        for ch in section:
            if ch in _UNIT_SET:
                if previous not in _DIGIT_SET or UNITS.index(ch) >= last_unit:
                    return False
                last_unit = UNITS.index(ch)
            elif previous in _DIGIT_SET and ch in _DIGIT_SET:
                return False  # two digits in a row
            previous = ch
    return True


# -- dates --------------------------------------------------------------------------------------
# A full date (year, month, day) always ends in 日 (or 号). Tesseract reads the day's digits as
# lookalike letters at times, and 日 as a lookalike (目, 曰, H) or merged with what follows.

_DAY_LETTERS = str.maketrans({"O": "0", "o": "0", "C": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                              "Z": "2", "S": "5", "B": "8"})  # fmt: skip
_DATE = re.compile(
    r"(\d{4}年[0-9OoCDQIlZSB]{1,2}月)[ \t]*([0-9OoCDQIlZSB]{1,2})([^\s0-9A-Za-z至起前后止,.，。;；、)）]|H)"
)


def repair_dates(text: str) -> str:
    """A full date's day read with letters for digits, or its 日 read as another character, put right."""

    def fix(m: re.Match[str]) -> str:
        month, day = m.group(1), m.group(2).translate(_DAY_LETTERS)
        head = month[:5] + month[5:].translate(_DAY_LETTERS)
        if not day.isdigit() or not 1 <= int(day) <= 31 or not 1 <= int(head[5:-1]) <= 12:
            return m.group(0)
        return f"{head}{day}{'号' if m.group(3) == '号' else '日'}"

    return _DATE.sub(fix, text)


# -- credit codes and masked ID numbers ---------------------------------------------------------

# letters a 统一社会信用代码 never holds (I, O, Z, S, V), read back as the digits they resemble
_CODE_NEVER = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"})
# characters 2-8 (the organisation type and the six-digit administrative division) are digits only:
# a letter there is the digit it resembles
_DIGIT_LOOKS = str.maketrans({"O": "0", "D": "0", "Q": "0", "C": "0", "U": "0", "I": "1", "L": "1", "T": "7",
                              "Z": "2", "S": "5", "G": "6", "B": "8", "A": "4"})  # fmt: skip
CODE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18,19}(?![0-9A-Za-z])")


def fix_credit_code(token: str) -> str:
    """Undo OCR's letter/digit confusions in an 18-character credit code when its check digit agrees.

    Only confusions the code's own structure proves are undone: letters it never holds, and letters
    where it holds digits only; the result is kept only when the check digit then agrees.
    """
    if credit_code_problem(token) is None:
        return token
    if len(token) == 19:
        return _without_stray(token)
    upper = token.upper().translate(_CODE_NEVER)
    fixed = upper[0] + upper[1:8].translate(_DIGIT_LOOKS) + upper[8:]
    return fixed if credit_code_problem(fixed) is None else token


def _without_stray(token: str) -> str:
    """A code read with one character too many, that character being one no code holds (I, O, Z, S, V):
    without it, if the check digit then agrees (and only one such character could go)."""
    upper = token.upper()
    valid = {upper[:i] + upper[i + 1 :] for i, ch in enumerate(upper) if ch in "IOZSV"}
    valid = {code for code in valid if credit_code_problem(code) is None}
    return valid.pop() if len(valid) == 1 else token


# a masked ID number (six digits, eight masking stars, four characters) with a star read as + x or ×
_MASKED_ID = re.compile(r"(?<!\d)(\d{6})([*+xX×※]{8})(\d{3}[\dXx])(?!\d)")


def repair_masked_ids(text: str) -> str:
    """The masking stars of an ID number read partly as lookalikes (+, x, ×) made stars again."""
    return _MASKED_ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3) if m.group(2).count("*") >= 5
                          else m.group(0), text)


# -- company legal forms ------------------------------------------------------------------------
# "份有限公司" only ever ends 股份有限公司 (a company limited by shares): its first character misread
_SHARES = re.compile(r"[^\s股]份有限公司")


def repair_legal_form(text: str) -> str:
    """A company name's 股份有限公司 with 股 misread is put right."""
    return _SHARES.sub("股份有限公司", text)
