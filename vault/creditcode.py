"""统一社会信用代码 (unified social credit code): GB 32100-2015 check digit."""

from __future__ import annotations

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    """The 18th character that GB 32100-2015 requires after these 17."""
    total = sum(_ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return f"a credit code has 18 characters, this one has {len(code)}"
    bad = [c for c in code if c not in _ALPHABET]
    if bad:
        return f"character {bad[0]!r} cannot appear in a credit code (digits and capitals except I, O, Z, S, V)"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"check digit is wrong: the 18th character should be {expected!r}, not {code[17]!r}"
    return None


def normalize_credit_code(code: str) -> str:
    return code.strip().upper().replace(" ", "")
