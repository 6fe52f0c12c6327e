"""Run one extraction in a child process with memory, CPU and wall-clock limits.

Starting a Python interpreter and importing pypdf, python-docx, PIL and pdfium costs about 0.35 s,
more than extracting a typical text PDF. So each extracting process keeps a *zygote*: one child,
`python -m indexer.sandbox`, started once in its own session with those libraries imported. There are
two kinds: one for DOCX files, which imports python-docx alone (14 MB of the zygote's private memory
where the other holds 39: a fork and an exit cost 1.3 ms against 3.2, for every document), and one for
everything else (PDF, scans, the scanning intake). For every job a zygote of its kind forks a fresh
child, which

* starts its own session (so a kill reaches the Tesseract processes it starts),
* points its stdout and stderr at a private file (whatever the libraries print is kept for the reason),
* lowers its own limits (RLIMIT_AS, RLIMIT_CPU, no core files) before it touches the file,
* extracts, writes its answer as JSON to a file, and exits.

The zygote waits for that child until the wall-clock limit and kills its whole process group if it
runs over; then it tells the parent how the child ended. Whatever the file does (a bomb, a recursion,
a crash in C code) hits the forked child alone: the zygote never opens a document. The parent talks to
the zygote over a pipe; if the zygote itself is gone (killed by hand, say), the parent starts a new one
and the job is retried, since that is no fault of the file.

Nothing outlives the process that asked for the extraction. The zygote asks the kernel for SIGTERM when
its parent dies (prctl PR_SET_PDEATHSIG) and answers it by killing the running child's process group
(the child and the Tesseract processes it started) before it exits; each forked child asks for SIGKILL
when the zygote dies, in case the zygote itself is killed outright. Both check right after the prctl
that their parent is still the one they expect: a parent that died before the call would go unnoticed.
The kernel sends the signal when the *thread* that started the process ends, so zygotes are started
from one long-lived thread (`_spawner`), never from the short-lived threads of a worker's lanes.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import json
import os
import resource  # here, not in `_limit_self`: the zygote loads it once, not each forked child
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from indexer.extraction import memory_reason, time_reason
from vault.errors import Phrase, phrase
from vault.filetypes import DOCX

_ROOT = Path(__file__).resolve().parents[1]  # so `-m indexer.sandbox` imports this same tree
_STARTUP_SLACK_S = 5  # fork and clean-up, not counted against the extraction
_HEADER = struct.Struct(">I")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_PARENT_ENV = "DOSSIER_SANDBOX_PARENT"


@contextmanager
def private_tmpdir(prefix: str = "dossier-extract-") -> Iterator[Path]:
    """A 0700 directory for decrypted copies a parser needs: in RAM (/dev/shm) when there is one."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class SandboxFailure(Exception):
    """The child did not produce an answer; `reason` says why in words a person understands."""

    def __init__(self, reason: str | Phrase) -> None:
        super().__init__(str(reason))
        self.reason = str(reason)


class SandboxUnavailable(RuntimeError):
    """The zygote could not be reached: a passing fault of this machine, not of the file."""


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OMP_", "MALLOC_"))}
    env["PYTHONPATH"] = str(_ROOT)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_THREAD_LIMIT"] = "1"
    env["MALLOC_ARENA_MAX"] = "2"  # per-thread malloc arenas reserve address space under RLIMIT_AS
    return env


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once: the zygote does it for itself, and the children it forks inherit it (a
    lookup in each child cost 0.25 ms of its 6)."""
    return ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(sig: signal.Signals, parent: int) -> None:
    """Make the kernel send `sig` to this process when its parent dies; exit now if it already has."""
    if _prctl()(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the prctl: no signal will come
        os._exit(1)


# -- the parent ---------------------------------------------------------------------------------

# PR_SET_PDEATHSIG fires when the *thread* that forked the zygote exits: start zygotes from this one
# thread, which lives as long as the process, never from a worker lane's thread that ends with its pool.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dossier-zygote-spawner")



def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> dict[str, Any] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    data = stream.read(_HEADER.unpack(header)[0])
    answer: dict[str, Any] = json.loads(data)
    return answer


DOCX_ZYGOTE = "docx"  # extracts DOCX files: python-docx alone is imported
FULL_ZYGOTE = "all"  # extracts PDF files and scans, and splits scanned stacks: every library imported
_KINDS = (DOCX_ZYGOTE, FULL_ZYGOTE)


def _kind_for(job: dict[str, Any]) -> str:
    return DOCX_ZYGOTE if job.get("kind") is None and job.get("mime") == DOCX else FULL_ZYGOTE


class _Zygote:
    """One zygote process of a kind and the pipe to it; used by one thread at a time."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc = _spawner.submit(self._start).result()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "indexer.sandbox", self.kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
            env={**_child_env(), _PARENT_ENV: str(os.getpid())},  # the zygote dies with this process
            start_new_session=True,  # its own session: a Ctrl-C in the terminal is for the parent only
        )

    def run(self, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
        """Send one job and wait for its end; SandboxUnavailable if the zygote is gone or stuck."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _send(self.proc.stdin, request)
            ready, _, _ = select.select([self.proc.stdout], [], [], wait_s)
            reply = _receive(self.proc.stdout) if ready else None
        except (OSError, ValueError) as exc:
            raise SandboxUnavailable(f"the extraction process could not be reached ({exc})") from None
        if reply is None:
            raise SandboxUnavailable("the extraction process stopped answering")
        return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.proc.wait()


_idle: list[_Zygote] = []
_idle_lock = threading.Lock()


def _take(kind: str) -> _Zygote:
    with _idle_lock:
        for zygote in [z for z in reversed(_idle) if z.kind == kind]:
            _idle.remove(zygote)
            if zygote.alive():
                return zygote
            zygote.close()
    return _Zygote(kind)


def _give_back(zygote: _Zygote) -> None:
    with _idle_lock:
        _idle.append(zygote)


def prewarm(count: int) -> None:
    """Start ``count`` zygotes of each kind now: they load the libraries while the worker waits for its first
    jobs."""
    for zygote in [_Zygote(kind) for kind in _KINDS for _ in range(count)]:
        _give_back(zygote)


@atexit.register
def shutdown() -> None:
    """Stop every idle zygote (they would also stop by themselves when this process's pipes close)."""
    with _idle_lock:
        while _idle:
            _idle.pop().close()


def run_extraction(job: dict[str, Any], *, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    """Run `job` in a limited child; its JSON answer, or SandboxFailure with a readable reason."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    workdir = Path(tempfile.mkdtemp(prefix="dossier-sandbox-", dir=base))
    try:
        request = {**job, "timeout_s": timeout_s, "memory_mb": memory_mb,
                   "answer_path": str(workdir / "answer.json"), "log_path": str(workdir / "log.txt")}
        zygote = _take(_kind_for(job))
        try:
            ended = zygote.run(request, timeout_s + 2 * _STARTUP_SLACK_S)
        except BaseException:
            zygote.close()
            raise
        _give_back(zygote)
        return _answer(ended, workdir, timeout_s, memory_mb)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _answer(ended: dict[str, Any], workdir: Path, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    if ended.get("timed_out"):
        raise SandboxFailure(time_reason(timeout_s))
    try:
        answer = json.loads((workdir / "answer.json").read_bytes())
    except (OSError, ValueError):
        raise SandboxFailure(_explain_exit(int(ended["status"]), _tail(workdir / "log.txt"), timeout_s,
                                           memory_mb)) from None
    if not isinstance(answer, dict):
        raise SandboxFailure(phrase("the extractor answered with something unexpected"))
    return answer


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


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
        return str(phrase("the extractor crashed ({signal}) on this file; it is probably malformed or hits a memory "
                          "limit", signal=name))
    if last:
        return str(phrase("the extractor failed (exit status {code}): {output}", code=code, output=last[:300]))
    return str(phrase("the extractor failed (exit status {code})", code=code))


# -- the zygote ---------------------------------------------------------------------------------


def _zygote_main(kind: str) -> int:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    from indexer import extractors  # python-docx, once for every child forked below

    intake_child: Any = None  # the DOCX zygote never gets a scanned stack to split
    if kind == FULL_ZYGOTE:
        from indexer import (
            intake_child,  # a scanned stack's codes and parts (scanning intake)
            page_extractors,  # noqa: F401 - pypdf, pdfium, PIL, OpenCV
        )
    # what the libraries log goes to this handler; set up once here, each child inherits it (emptied)
    notes = extractors.collect_library_warnings(logging.getLogger())

    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # nothing a library prints may reach the parent's pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    running: list[int] = []

    def parent_died(_sig: int, _frame: object) -> None:
        for pid in running:  # the child's group: the child and the Tesseract processes it started
            _kill_child(pid)
        os._exit(1)

    signal.signal(signal.SIGTERM, parent_died)
    _prctl()  # looked up here, before the first fork, so that no child looks it up again
    parent = os.environ.get(_PARENT_ENV)
    if parent is not None:
        die_with_parent(signal.SIGTERM, int(parent))
    zygote = os.getpid()
    while (job := _receive(requests)) is not None:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the job's child: never returns into this loop
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                die_with_parent(signal.SIGKILL, zygote)
                code = _child_main(job, started, extractors, intake_child, notes)
            finally:
                os._exit(code)
        running[:] = [pid]
        _send(replies, _wait_child(pid, started + float(job["timeout_s"]) + _STARTUP_SLACK_S))
        running.clear()
    return 0


def _wait_child(pid: int, deadline: float) -> dict[str, Any]:
    """Wait for the child until `deadline`; kill its process group past it. How it ended."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd], [], [], max(deadline - time.monotonic(), 0))
            if ready:
                _, status = os.waitpid(pid, 0)
                return {"timed_out": False, "status": os.waitstatus_to_exitcode(status)}
            if time.monotonic() >= deadline:
                break
    finally:
        os.close(pidfd)
    _kill_child(pid)
    os.waitpid(pid, 0)
    return {"timed_out": True, "status": -signal.SIGKILL}


def _kill_child(pid: int) -> None:
    """SIGKILL a job's child and its process group (it called setsid), or the child alone before that."""
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def _limit_self(timeout_s: float, memory_mb: int) -> None:
    cpu = int(timeout_s) + _STARTUP_SLACK_S
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child_main(job: dict[str, Any], started: float, extractors: Any, intake_child: Any, notes: Any) -> int:
    os.setsid()
    log = os.open(job["log_path"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.closerange(3, 1 << 16)  # the zygote's pipes among them: only the zygote talks to the parent
    job["deadline"] = started + float(job["timeout_s"])
    notes.messages.clear()  # whatever the zygote itself logged is not this file's
    _limit_self(float(job["timeout_s"]), int(job["memory_mb"]))
    try:
        if job.get("kind") == "intake_split":
            answer: dict[str, Any] = {"ok": True, "split": intake_child.split_here(job)}
        else:
            answer = {"ok": True, "extraction": extractors.extract_here(job, notes)}
    except extractors.ExtractionFailed as exc:
        answer = {"ok": False, "reason": exc.reason}
    except MemoryError:
        answer = {"ok": False, "reason": memory_reason(int(job["memory_mb"]))}
    except RecursionError:
        answer = {"ok": False, "reason": "the file is nested too deeply to read (recursion limit reached)"}
    except Exception as exc:  # any library failure on a hostile file ends as a reason, not a crash
        answer = {"ok": False, "reason": f"the file could not be read ({type(exc).__name__}: {exc})"[:400]}
    data = json.dumps(answer, ensure_ascii=False).encode()
    fd = os.open(job["answer_path"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(_zygote_main(sys.argv[1] if len(sys.argv) > 1 else FULL_ZYGOTE))
