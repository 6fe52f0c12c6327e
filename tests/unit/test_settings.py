from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_environment_variables_override_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('max_upload_bytes = 1000\nblob_backend = "local"\n')
    settings = load_settings({"home": str(tmp_path)}, environ={"DOSSIER_MAX_UPLOAD_BYTES": "2000"})
    assert settings.max_upload_bytes == 2000


def test_config_file_values_apply_when_no_variable_is_set(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('required_doc_types = ["license"]\ncredit_report_validity_days = 30\n')
    settings = load_settings({"home": str(tmp_path)}, environ={})
    assert settings.required_doc_types == ("license",)
    assert settings.credit_report_validity_days == 30


def test_a_wrong_value_names_the_setting_and_its_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="max_upload_bytes.*DOSSIER_MAX_UPLOAD_BYTES"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_MAX_UPLOAD_BYTES": "lots"})


def test_an_unknown_setting_in_the_config_file_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_uplod_bytes = 5\n")
    with pytest.raises(SettingsError, match="unknown setting 'max_uplod_bytes'"):
        load_settings({"home": str(tmp_path)}, environ={})


def test_an_unknown_blob_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="blob_backend"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_BLOB_BACKEND": "ftp"})


def test_an_unknown_required_document_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="required_doc_types"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_REQUIRED_DOC_TYPES": "license,passport"})


def test_the_default_database_is_sqlite_under_the_home(tmp_path: Path) -> None:
    settings = load_settings({"home": str(tmp_path)}, environ={})
    assert settings.db_url == f"sqlite:///{(tmp_path / 'dossier.db').resolve()}"
    assert settings.blob_path == tmp_path / "blobs"


def test_the_overdue_check_runs_every_minute_unless_set_and_must_be_positive(tmp_path: Path) -> None:
    assert load_settings({"home": str(tmp_path)}, environ={}).overdue_check_interval_s == 60
    env = {"DOSSIER_OVERDUE_CHECK_INTERVAL_S": "300"}
    assert load_settings({"home": str(tmp_path)}, environ=env).overdue_check_interval_s == 300
    for bad in ("0", "-5"):
        with pytest.raises(SettingsError, match="overdue_check_interval_s.*positive"):
            load_settings({"home": str(tmp_path)}, environ={"DOSSIER_OVERDUE_CHECK_INTERVAL_S": bad})


def test_the_search_engine_is_whoosh_unless_set_and_must_be_known(tmp_path: Path) -> None:
    assert load_settings({"home": str(tmp_path)}, environ={}).search_engine == "whoosh"
    env = {"DOSSIER_SEARCH_ENGINE": "fts5"}
    assert load_settings({"home": str(tmp_path)}, environ=env).search_engine == "fts5"
    with pytest.raises(SettingsError, match="search_engine.*'whoosh', 'fts5' or 'pg'.*'lucene'"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_SEARCH_ENGINE": "lucene"})


def test_files_up_to_64_mib_are_verified_whole_before_sending_unless_set_otherwise(tmp_path: Path) -> None:
    assert load_settings({"home": str(tmp_path)}, environ={}).verify_before_send_max_bytes == 64 * 1024 * 1024
    streamed = load_settings({"home": str(tmp_path)}, environ={"DOSSIER_VERIFY_BEFORE_SEND_MAX_BYTES": "0"})
    assert streamed.verify_before_send_max_bytes == 0
    with pytest.raises(SettingsError, match="verify_before_send_max_bytes"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_VERIFY_BEFORE_SEND_MAX_BYTES": "-1"})


def test_the_pg_search_engine_refuses_to_start_without_a_postgresql_database(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="search_engine.*PostgreSQL database.*postgresql"):
        load_settings({"home": str(tmp_path)}, environ={"DOSSIER_SEARCH_ENGINE": "pg"})
    url = "postgresql+psycopg://vault@db/vault"
    env = {"DOSSIER_SEARCH_ENGINE": "pg", "DOSSIER_DATABASE_URL": url}
    assert load_settings({"home": str(tmp_path)}, environ=env).search_engine == "pg"
