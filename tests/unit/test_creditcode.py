from __future__ import annotations

from tests.corpus import SYNTHETIC, manifest
from vault.creditcode import check_char, credit_code_problem


def test_every_corpus_customer_code_passes_the_check_digit() -> None:
    for customer in manifest(SYNTHETIC)["customers"]:
        assert credit_code_problem(customer["credit_code"]) is None, customer["credit_code"]


def test_a_changed_check_digit_is_named_in_the_problem() -> None:
    code = manifest(SYNTHETIC)["customers"][0]["credit_code"]
    wrong = "0" if code[17] != "0" else "1"
    problem = credit_code_problem(code[:17] + wrong)
    assert problem is not None and "check digit" in problem and check_char(code[:17]) in problem


def test_letters_outside_the_alphabet_and_wrong_lengths_are_refused() -> None:
    assert "18 characters" in (credit_code_problem("91350100") or "")
    assert "cannot appear" in (credit_code_problem("91350100M000100Y4I") or "")
