"""Atheris fuzz targets for the upload validator and the extractors (issue 6).

Run as a program, never imported into the pytest process itself: `atheris.Fuzz()` installs signal
handlers and ends with `sys.exit`.

    .venv/bin/python -m tests.ops.fuzz_targets validator CORPUS_DIR -runs=3000 -max_len=131072
    .venv/bin/python -m tests.ops.fuzz_targets extractor CORPUS_DIR -runs=40 -max_len=65536

Everything after the target name goes to libFuzzer. The contract checked:

* validator: any bytes, fed to `ContentInspector` in chunks of varying size, end in an `Inspection`
  or a `VaultError` whose status is 4xx; any other exception (a 500) is a crash.
* extractor: bytes the validator accepts, given to `extract()` (the sandboxed child), end in an
  `Extraction` or `ExtractionFailed`, within the time limit plus the sandbox's start-up slack.

An input is also written to `CORPUS_DIR`-style seed folders by `build_seed_corpus`, which both the
pytest run (tests/ops/test_fuzz.py) and the long run (bench/fuzz.py) use.
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

# small seeds, one or more per accepted type plus a few refused shapes; (folder, name)
SEEDS = [
    ("realworld", "paperless-sample.docx"),
    ("realworld", "paperless-simple.png"),
    ("realworld", "pdfminer-jo-japanese.pdf"),
    ("realworld", "pysf-007-ccitt-fax-image.pdf"),
    ("realworld", "pysf-002-libreoffice-writer.pdf"),
    ("bad", "benign-content.pdf"),
    ("bad", "billion-laughs.docx"),
    ("bad", "docx-without-document-xml.docx"),
    ("bad", "elf-binary.jpg"),
    ("bad", "html-with-script.pdf"),
    ("bad", "not-a-zip.docx"),
    ("bad", "pdf-header-only.pdf"),
    ("bad", "xref-prev-loop.pdf"),
]
# the bombs: refused by the validator from their headers, so fine as validator seeds only
BOMB_SEEDS = [("bad", "png-bomb-30000x30000.png"), ("bad", "zip-bomb.docx")]

VALIDATOR_MAX_BYTES = 8 * 1024 * 1024
EXTRACT_TIMEOUT_S = 10
EXTRACT_MEMORY_MB = 768
CATCH_ALL_REASON = "the file could not be read ("  # indexer.sandbox._child_main
SANDBOX_SLACK_S = 5 + 5  # indexer.sandbox._STARTUP_SLACK_S, plus the kill and the machine's noise


def _tiny_tiff() -> bytes:
    """A 2x2 little-endian grey TIFF with one directory: no small TIFF lives in the corpus."""
    entries = [(256, 3, 1, 2), (257, 3, 1, 2), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 8 + 4), (278, 3, 1, 2), (279, 4, 1, 4)]
    ifd = len(entries).to_bytes(2, "little")
    for tag, kind, count, value in entries:
        ifd += tag.to_bytes(2, "little") + kind.to_bytes(2, "little") + count.to_bytes(4, "little")
        ifd += value.to_bytes(4, "little")
    return b"II*\x00" + (8).to_bytes(4, "little") + ifd + b"\x00\x00\x00\x00" + b"\x00\xff\xff\x00"


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (16, 8), 255).save(out, "JPEG")
    return out.getvalue()


def _variants(name: str, data: bytes, rng: random.Random) -> dict[str, bytes]:
    """Mutated copies a fuzzer takes long to reach on its own: cut short, bytes flipped, junk first."""
    out = {f"cut-{name}": data[: max(1, len(data) // 3)]}
    flipped = bytearray(data)
    for _ in range(8):
        if flipped:
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    out[f"flip-{name}"] = bytes(flipped)
    out[f"junk-{name}"] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1100))) + data
    return out


def build_seed_corpus(dest: Path, *, bombs: bool = True, max_len: int | None = None) -> list[Path]:
    """Write seed inputs into `dest`: small corpus files, tiny TIFF/JPEG, and mutated variants."""
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(6)
    seeds: dict[str, bytes] = {"tiny.tif": _tiny_tiff(), "tiny.jpg": _tiny_jpeg()}
    for folder, name in SEEDS + (BOMB_SEEDS if bombs else []):
        path = CORPUS / folder / name
        if path.is_file():
            seeds[name] = path.read_bytes()
    for name, data in list(seeds.items()):
        seeds.update(_variants(name, data, rng))
    written = []
    for name, data in seeds.items():
        target = dest / name
        target.write_bytes(data[:max_len] if max_len else data)
        written.append(target)
    return written


# -- the targets ---------------------------------------------------------------------------------


class ContractBroken(Exception):
    """An input ended in something other than a 4xx refusal, an acceptance, or ExtractionFailed."""


def _chunks(data: bytes) -> list[bytes]:
    """The input cut in pieces of sizes derived from its own checksum (so a crash file reproduces)."""
    rng = random.Random(zlib.crc32(data))
    pieces, pos = [], 0
    while pos < len(data):
        size = rng.choice((1, 7, 512, 4096, 8191, 65536, 70000, 1 << 20, rng.randrange(1, 100_000)))
        pieces.append(data[pos : pos + size])
        pos += size
    return pieces


def validate(data: bytes, max_bytes: int = VALIDATOR_MAX_BYTES):  # -> Inspection | None
    """Run the upload validator over `data`; None when refused with a 4xx, else the Inspection."""
    from vault.errors import VaultError
    from vault.filetypes.inspector import ContentInspector

    inspector = ContentInspector(max_bytes)
    try:
        for piece in _chunks(data):
            inspector.feed(piece)
        return inspector.finish()
    except VaultError as exc:
        if not 400 <= exc.status < 500:
            raise ContractBroken(f"validator raised {type(exc).__name__} with status {exc.status}") from exc
        return None


def validator_target(data: bytes) -> None:
    # a small max_bytes now and then, so TooLarge is raised mid-stream too
    validate(data, max_bytes=VALIDATOR_MAX_BYTES if zlib.crc32(data) % 8 else max(1, len(data) // 2))


_workdir: Path | None = None


def extractor_target(data: bytes) -> None:
    from indexer.extract import Extraction, ExtractionFailed, extract

    global _workdir
    inspection = validate(data)
    if inspection is None:
        return
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="fuzz-extract-"))
    path = _workdir / f"input{inspection.extension}"
    path.write_bytes(data)
    started = time.monotonic()
    try:
        result = extract(path, inspection.mime, timeout_s=EXTRACT_TIMEOUT_S, memory_mb=EXTRACT_MEMORY_MB,
                         ocr_languages="eng")
    except ExtractionFailed as exc:
        result = None
        if exc.reason.startswith(CATCH_ALL_REASON):
            # within the contract (the document ends `failed`), but an exception the extractor did not
            # expect reached the sandbox's catch-all: worth a look, so reported (bench/fuzz.py counts them)
            print(f"UNEXPECTED-IN-CHILD {hashlib.sha1(data).hexdigest()}: {exc.reason}", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    if elapsed > EXTRACT_TIMEOUT_S + SANDBOX_SLACK_S:
        raise ContractBroken(f"extract() took {elapsed:.1f} s for a {EXTRACT_TIMEOUT_S} s limit")
    if result is not None and not isinstance(result, Extraction):
        raise ContractBroken(f"extract() returned {type(result).__name__}")


TARGETS = {"validator": validator_target, "extractor": extractor_target}


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus dirs]")
    name = argv[1]
    with atheris.instrument_imports(include=["vault", "indexer", "zipfile"]):
        import indexer.extract  # noqa: F401
        import indexer.extractors  # noqa: F401
        import indexer.page_extractors  # noqa: F401
        import vault.filetypes.inspector  # noqa: F401
    # libFuzzer ends the process with exit(): files the extractor writes go under $TMPDIR, which
    # the caller (tests/ops/test_fuzz.py, bench/fuzz.py) points at a folder it removes itself
    atheris.Setup([argv[0], *argv[2:]], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
