"""Run one extraction in a child process with memory, CPU and wall-clock limits.

The parent (`run_extraction`) starts `python -m indexer.sandbox` in its own session, sends the job
as JSON on stdin and reads the answer as JSON from stdout. The child imports its libraries first,
then lowers its own limits (RLIMIT_AS, RLIMIT_CPU, no core files) before it touches the file, so
whatever the file does (a bomb, a recursion, a crash in C code) hits the child alone. Tesseract
runs as the child's subprocess and inherits the limits; a timeout kills the whole process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]  # so `-m indexer.sandbox` imports this same tree
_STARTUP_SLACK_S = 5  # interpreter start and imports, not counted against the extraction


class SandboxFailure(Exception):
    """The child did not produce an answer; `reason` says why in words a person understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def memory_reason(memory_mb: int) -> str:
    return f"extraction exceeded the {memory_mb} MiB memory limit"


def time_reason(timeout_s: float) -> str:
    return f"extraction took longer than {timeout_s:g} s (the time limit)"


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OMP_", "MALLOC_"))}
    env["PYTHONPATH"] = str(_ROOT)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_THREAD_LIMIT"] = "1"
    env["MALLOC_ARENA_MAX"] = "2"  # per-thread malloc arenas reserve address space under RLIMIT_AS
    return env


def run_extraction(job: dict[str, Any], *, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    """Run `job` in a limited child; its JSON answer, or SandboxFailure with a readable reason."""
    request = json.dumps({**job, "timeout_s": timeout_s, "memory_mb": memory_mb}).encode()
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "indexer.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=_ROOT,
            env=_child_env(),
            start_new_session=True,  # its own process group: a kill reaches Tesseract too
        ) as proc,
    ):
        try:
            out, _ = proc.communicate(request, timeout=timeout_s + _STARTUP_SLACK_S)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SandboxFailure(time_reason(timeout_s)) from None
        except BaseException:
            _kill_group(proc)
            raise
        if proc.returncode != 0:
            _kill_group(proc)  # a Tesseract orphaned by a crash keeps the group (and its id) alive
        stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, stderr.tell() - 4096))
        err_tail = stderr.read().decode("utf-8", "replace")
    try:
        answer = json.loads(out)
    except ValueError:
        raise SandboxFailure(_explain_exit(proc.returncode, err_tail, timeout_s, memory_mb)) from None
    if not isinstance(answer, dict):
        raise SandboxFailure("the extractor answered with something unexpected")
    return answer


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _explain_exit(code: int, err_tail: str, timeout_s: float, memory_mb: int) -> str:
    """Turn a child's death into a reason for the document's record."""
    last = next((ln.strip() for ln in reversed(err_tail.splitlines()) if ln.strip()), "")
    if "MemoryError" in err_tail or "Cannot allocate memory" in err_tail or "out of memory" in err_tail:
        return memory_reason(memory_mb)
    if code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return time_reason(timeout_s)
        if sig == signal.SIGKILL:  # not ours (we only kill after a timeout): the kernel's OOM killer
            return memory_reason(memory_mb)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"the extractor crashed ({name}) on this file; it is probably malformed or hits a memory limit"
    return f"the extractor failed (exit status {code}){': ' + last[:300] if last else ''}"


# -- the child ----------------------------------------------------------------------------------


def _limit_self(timeout_s: float, memory_mb: int) -> None:
    import resource

    cpu = int(timeout_s) + _STARTUP_SLACK_S
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child_main() -> int:
    import logging
    import time

    started = time.monotonic()
    import warnings

    # whatever the libraries print must not corrupt the answer: fd 1 now goes to stderr
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")
    job = json.loads(sys.stdin.buffer.read())
    job["deadline"] = started + float(job["timeout_s"])
    from indexer import extract  # imports pypdf, docx, PIL, pypdfium2 before the limits apply

    notes = extract.collect_library_warnings(logging.getLogger())
    _limit_self(float(job["timeout_s"]), int(job["memory_mb"]))
    try:
        answer: dict[str, Any] = {"ok": True, "extraction": extract.extract_here(job, notes)}
    except extract.ExtractionFailed as exc:
        answer = {"ok": False, "reason": exc.reason}
    except MemoryError:
        answer = {"ok": False, "reason": memory_reason(int(job["memory_mb"]))}
    except RecursionError:
        answer = {"ok": False, "reason": "the file is nested too deeply to read (recursion limit reached)"}
    except Exception as exc:  # any library failure on a hostile file ends as a reason, not a crash
        answer = {"ok": False, "reason": f"the file could not be read ({type(exc).__name__}: {exc})"[:400]}
    data = json.dumps(answer, ensure_ascii=False).encode()
    with os.fdopen(answer_fd, "wb") as out:
        out.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
