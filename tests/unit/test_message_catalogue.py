"""Every sentence the domain can say to a person exists in Chinese: collected from the source, checked
against the zh_CN catalogue, so a new error message without a translation fails here."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from vault import errors

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "web" / "translations"
SOURCES = [ROOT / "vault", ROOT / "indexer", ROOT / "web"]
#: Errors a person may read. Storage and crypto faults (5xx, operator's words with paths and keys) are shown
#: to people as the generic sentence of their status instead; they are not in this list on purpose.
PERSON_FACING = {name for name, cls in vars(errors).items()
                 if isinstance(cls, type) and issubclass(cls, errors.VaultError)
                 and not issubclass(cls, errors.StorageError | errors.BlobIntegrityError | errors.StorageUnavailable)}
#: Errors defined outside vault/errors.py whose words are the operator's (command line, 5xx): not collected.
OPERATOR_FACING = {"BackupError", "KeyringError", "UnknownKeyId"}
#: Functions whose first argument names a form field (it appears in messages as {field}).
FIELD_TAKERS = {"Invalid", "clean_text", "parse_date", "_reason", "_enum_value", "_date", "resolve_archive_no"}


def _python_files() -> list[Path]:
    return [p for root in SOURCES for p in root.rglob("*.py") if "migrations" not in p.parts]


def _constants(tree: ast.Module) -> dict[str, str]:
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


@lru_cache(maxsize=1)
def collect() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(template -> where, field name -> where, problems: raise sites whose message is not a literal)."""
    templates: dict[str, str] = {}
    fields: dict[str, str] = {}
    problems: list[str] = []
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in _python_files()}
    constants: dict[str, str] = {}
    for tree in trees.values():
        constants.update(_constants(tree))
    person_facing = set(PERSON_FACING)  # plus subclasses defined elsewhere (web/multipart.py, web/api)
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if c.name not in person_facing | OPERATOR_FACING | set(vars(errors))
                and any(isinstance(b, ast.Name) and b.id in person_facing for b in c.bases)}
        if not more:
            break
        person_facing |= more
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in FIELD_TAKERS and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                fields.setdefault(node.args[0].value, where)
            for kw in node.keywords:
                if kw.arg == "field" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    fields.setdefault(kw.value.value, where)
            if name == "phrase":
                arg = node.args[0] if node.args else None
            elif name in person_facing:
                index = 1 if name == "Invalid" else 0
                arg = node.args[index] if len(node.args) > index else None
            elif name == "error_response" and len(node.args) > 2:
                arg = node.args[2]
            else:
                continue
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                templates.setdefault(arg.value, where)
            elif isinstance(arg, ast.Name | ast.Attribute):
                key = arg.id if isinstance(arg, ast.Name) else arg.attr
                if key in constants:
                    templates.setdefault(constants[key], where)
                elif key not in {"message", "description"}:  # a caller's phrase, or werkzeug's words
                    problems.append(f"{where}: message {ast.unparse(arg)} is not a literal template")
            elif arg is not None:
                problems.append(f"{where}: message {ast.unparse(arg)[:60]} is not a literal template")
    from web.errors import GENERIC

    for template in GENERIC.values():
        templates.setdefault(template, "web/errors.py GENERIC")
    return templates, fields, problems


def _catalogue(lang: str):  # noqa: ANN202 - babel's Catalog
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_every_domain_message_is_a_literal_template_not_an_f_string() -> None:
    _templates, _fields, problems = collect()
    assert problems == []


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_domain_message_template_is_in_the_catalogue(lang: str) -> None:
    templates, _fields, _problems = collect()
    catalogue = _catalogue(lang)
    missing = [f"{where}: {t}" for t, where in sorted(templates.items(), key=lambda x: x[1])
               if catalogue.get(t) is None or (lang == "zh_CN" and not catalogue.get(t).string)]
    assert missing == [], "\n".join(missing)


def test_every_field_named_in_a_message_has_a_chinese_name() -> None:
    _templates, fields, _problems = collect()
    catalogue = _catalogue("zh_CN")
    missing = [f"{where}: {f}" for f, where in sorted(fields.items())
               if not (catalogue.get(f, context="field") and catalogue.get(f, context="field").string)]
    assert missing == [], "\n".join(missing)


def test_a_chinese_template_keeps_the_placeholders_of_its_english_one() -> None:
    import re

    placeholder = re.compile(r"\{(\w+)")
    templates, _fields, _problems = collect()
    catalogue = _catalogue("zh_CN")
    wrong = [t for t in templates if catalogue.get(t) and catalogue.get(t).string
             and set(placeholder.findall(t)) != set(placeholder.findall(catalogue.get(t).string))]
    assert wrong == []


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_catalogue_parses_strictly_and_says_each_message_once(lang: str) -> None:
    """Branches append to the catalogues and git merges them line by line: a merge that drops a `msgstr`
    line makes Babel skip the entry, and an entry added twice keeps only its last translation (a page
    showing the other meaning). Both would pass silently; here they fail."""
    import re
    from collections import Counter

    path = CATALOGUES / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        read_po(fh, locale=lang, abort_invalid=True)
    keys: Counter[tuple[str | None, str]] = Counter()
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        msgid = re.search(r'^msgid (".*"(?:\n".*")*)', block, re.M)
        if msgid and msgid.group(1) != '""':
            context = re.search(r'^msgctxt (".*")$', block, re.M)
            keys[(context.group(1) if context else None, msgid.group(1))] += 1
            assert re.search(r"^msgstr", block, re.M), f"no msgstr for {msgid.group(1)}"
    assert [key for key, n in keys.items() if n > 1] == []
