"""A dossier's sensitive values are sealed with its own key: stored as ciphertext, readable, erasable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import People
from vault.core import Vault
from vault.errors import BlobIntegrityError
from vault.services import dossiers
from vault.services.sealed_fields import erase_dossier_key, lookup_digest, open_value, seal_value


def _dossier(vault: Vault, people: People) -> int:
    with vault.session() as s:
        d = dossiers.create_dossier(vault, s, people.archivist,
                                    {"customer_name": "测试客户有限公司", "customer_type": "client"})
        return d.id


def test_a_sealed_value_reads_back_and_is_nowhere_in_the_database_file(vault: Vault, people: People) -> None:
    dossier_id = _dossier(vault, people)
    with vault.session() as s:
        sealed = seal_value(vault, s, dossier_id, "card.id_number", "11010519491231002X")
    with vault.session() as s:
        assert open_value(vault, s, dossier_id, "card.id_number", sealed) == "11010519491231002X"
    raw = b"".join(p.read_bytes() for p in Path(vault.settings.home).rglob("*.db*"))
    assert raw, "no SQLite files under the home directory"
    assert b"11010519491231002X" not in raw


def test_a_value_sealed_for_one_field_does_not_open_as_another(vault: Vault, people: People) -> None:
    dossier_id = _dossier(vault, people)
    with vault.session() as s:
        sealed = seal_value(vault, s, dossier_id, "card.id_number", "11010519491231002X")
    with vault.session() as s, pytest.raises(BlobIntegrityError):
        open_value(vault, s, dossier_id, "card.bank_account", sealed)


def test_erasing_the_dossier_key_makes_its_values_unreadable_and_refuses_new_ones(vault: Vault, people: People) -> None:
    dossier_id = _dossier(vault, people)
    with vault.session() as s:
        sealed = seal_value(vault, s, dossier_id, "card.phone", "13800138000")
    with vault.session() as s:
        assert erase_dossier_key(s, dossier_id)
    with vault.session() as s:
        assert open_value(vault, s, dossier_id, "card.phone", sealed) is None
        with pytest.raises(ValueError):
            seal_value(vault, s, dossier_id, "card.phone", "13800138000")


def test_lookup_digests_match_equal_values_and_differ_between_kinds(vault: Vault) -> None:
    assert lookup_digest(vault, "phone", "13800138000") == lookup_digest(vault, "phone", "13800138000")
    assert lookup_digest(vault, "phone", "13800138000") != lookup_digest(vault, "bank_account", "13800138000")
    assert "13800138000" not in lookup_digest(vault, "phone", "13800138000")
