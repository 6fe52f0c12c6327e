"""Bounded atheris runs of the upload validator and the extractors (issue 6), plus the regressions
they found. The fuzzer runs in a subprocess (`atheris.Fuzz()` installs signal handlers and exits);
the long run is `bench/fuzz.py`. Targets and seeds: tests/ops/fuzz_targets.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from indexer.extraction import ExtractionFailed
from indexer.extractors import extract_here
from tests.ops.fuzz_targets import build_seed_corpus
from vault import filetypes
from vault.errors import Invalid
from vault.filetypes.docx import check_docx_zip, check_large_docx_directory
from vault.filetypes.inspector import ContentInspector

ROOT = Path(__file__).resolve().parents[2]


def _fuzz(tmp_path: Path, target: str, *options: str, bombs: bool, max_len: int, limit_s: float) -> str:
    seeds = tmp_path / "corpus"
    build_seed_corpus(seeds, bombs=bombs, max_len=max_len)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    cmd = [
        sys.executable, "-m", "tests.ops.fuzz_targets", target, str(seeds), f"-max_len={max_len}",
        f"-artifact_prefix={artifacts}/", "-print_final_stats=1", "-seed=6", *options,
    ]
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-4000:]
        pytest.fail(f"the {target} fuzz run hung past {limit_s} s:\n{tail!r}")
    output = proc.stdout + proc.stderr
    crashes = sorted(p.name for p in artifacts.iterdir())
    if proc.returncode != 0 or crashes:
        at = output.find("Uncaught Python exception")  # atheris' traceback of the crashing input
        report = output[at : at + 6000] if at >= 0 else "\n".join(output.splitlines()[-60:])
        pytest.fail(f"{target} fuzzing found a crash (exit {proc.returncode}, artifacts {crashes}):\n{report}")
    assert "Done " in output, output[-3000:]
    return output


def test_fuzz_upload_validator(tmp_path: Path) -> None:
    """Random bytes in random chunks: an Inspection or a 4xx VaultError, never anything else."""
    out = _fuzz(tmp_path, "validator", "-runs=30000", "-timeout=20", bombs=True, max_len=131072, limit_s=90)
    assert "stat::number_of_executed_units: 30000" in out


def test_fuzz_extractors(tmp_path: Path) -> None:
    """What the validator accepts, extract() turns into an Extraction or ExtractionFailed, in time."""
    out = _fuzz(tmp_path, "extractor", "-runs=80", "-timeout=60", bombs=False, max_len=65536, limit_s=150)
    assert "UNEXPECTED-IN-CHILD" not in out, "\n".join(
        line for line in out.splitlines() if "UNEXPECTED-IN-CHILD" in line
    )


# -- regressions ---------------------------------------------------------------------------------


def _docx_with_corrupt_deflate() -> bytes:
    """A minimal DOCX whose deflated [Content_Types].xml is not a valid deflate stream. Found by the
    validator fuzz run: zipfile raised zlib.error, which check_docx_zip let through (a 500)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types>' + "<Default/>" * 200 + "</Types>")
        zf.writestr("word/document.xml", "<w:document/>")
    data = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("[Content_Types].xml")
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"), (
        int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    )
    start = info.header_offset + 30 + name_len + extra_len
    data[start : start + 8] = b"\xff" * 8  # BTYPE 11: a reserved (invalid) deflate block type
    return bytes(data)


def test_corrupt_deflate_part_is_refused_as_not_a_docx() -> None:
    data = _docx_with_corrupt_deflate()
    with pytest.raises(Invalid) as caught:
        check_docx_zip(io.BytesIO(data))
    assert caught.value.code == "not_a_docx" and caught.value.status == 422
    inspector = ContentInspector(1024 * 1024)
    inspector.feed(data)
    with pytest.raises(Invalid) as caught:
        inspector.finish()
    assert caught.value.code == "not_a_docx"


def test_corrupt_deflate_part_fails_extraction_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.docx"
    path.write_bytes(_docx_with_corrupt_deflate())
    with pytest.raises(ExtractionFailed, match="not a valid Word document"):
        extract_here({"path": str(path), "mime": filetypes.DOCX, "timeout_s": 10})


def test_zip_needing_an_unknown_version_is_refused_as_not_a_docx() -> None:
    """Found by the validator fuzz run: a central directory entry whose 'version needed to extract' is
    above what zipfile knows made ZipFile() raise NotImplementedError (a 500)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    data = bytearray(buf.getvalue())
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 0xFF  # version needed to extract: 25.5
    for check in (
        lambda: check_docx_zip(io.BytesIO(bytes(data))),
        lambda: check_large_docx_directory(bytes(data), len(data)),
    ):
        with pytest.raises(Invalid) as caught:
            check()
        assert caught.value.code == "not_a_docx"
    inspector = ContentInspector(1024 * 1024)
    inspector.feed(bytes(data))
    with pytest.raises(Invalid):
        inspector.finish()


def test_part_with_an_empty_name_is_refused_as_not_a_docx() -> None:
    """Found by the validator fuzz run: an entry named '' made ZipInfo.is_dir() raise IndexError (a 500)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("x", "data")
        zf.filelist[-1].filename = ""  # the central directory (written at close) names it ''
    data = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "" in zf.namelist()
    with pytest.raises(Invalid) as caught:
        check_docx_zip(io.BytesIO(data))
    assert caught.value.code == "not_a_docx"
