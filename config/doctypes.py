"""The kinds of document the archive keeps: the one list settings, models, services and the API read.

It lives at the bottom layer because the settings name document types (retention years, required
types) and check them when they are read; `vault.models` takes it from here.
"""

from __future__ import annotations

import enum


class DocType(enum.StrEnum):
    CONTRACT = "contract"
    LICENSE = "license"
    CREDIT_REPORT = "credit_report"
    CORRESPONDENCE = "correspondence"
    ID_PROOF = "id_proof"
    INVOICE = "invoice"
    OTHER = "other"
