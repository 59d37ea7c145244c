"""The child process that runs a learner's code, and the limits around it.

Per run: a fresh temporary folder as working directory and HOME; a new session and process group
(killed as a group); when the system allows it (`unshare`), a new network namespace (no network) and
a new PID namespace (when the sandbox's first process dies, the kernel kills every process it
started, even ones that left the process group); rlimits on address space, file size, open files and
core dumps; the lowest CPU priority (nice 19), so a submission that spins (a fork bomb, an endless
loop) slows the grader's other work, notebooks and tests little; and, when the grader runs as root, the
worker drops to an unprivileged user (65534, "nobody", by default) with a small RLIMIT_NPROC before
any learner code runs (root ignores RLIMIT_NPROC). A wall-clock timeout applies per exercise cell.
Nothing comes back but JSON and safetensors files, read here with size caps and without following
symlinks.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BOOTSTRAP = ("import sys, json; job = json.loads(sys.stdin.buffer.read()); sys.path[:0] = job['sys_path']; "
             "from gptlab.course.grading.worker import main; main(job)")
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    timeout: float = 60.0  # seconds per exercise cell (wall clock)
    startup_timeout: float = 120.0  # importing torch and running the course's set-up cells
    memory_mb: int = 2048  # RLIMIT_AS
    nproc: int = 32  # processes and threads the sandbox user may have (RLIMIT_NPROC)
    file_size_mb: int = 256  # RLIMIT_FSIZE: any file the sandbox writes, its stdout included
    max_output: int = 65536  # characters of print() output kept; the rest is dropped inside the child
    open_files: int = 256
    nice: int = 19  # CPU priority of the sandbox, 0 (normal) to 19 (lowest)


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do; probed once (see `probe_isolation`)."""

    prefix: tuple[str, ...]  # e.g. ("unshare", "--net", "--pid", "--fork", "--kill-child", "--")
    drop_to: tuple[int, int] | None  # (uid, gid) to become before running learner code, or None
    network: bool  # True: a network namespace cuts the network
    pid_namespace: bool

    def describe(self) -> str:
        parts = [f"runs as uid {self.drop_to[0]}" if self.drop_to else f"runs as you (uid {os.geteuid()}, not root)",
                 "no network (network namespace)" if self.network else "network NOT isolated (unshare unavailable)",
                 "PID namespace" if self.pid_namespace else "no PID namespace (process group only)"]
        return "sandbox: " + ", ".join(parts)


@functools.lru_cache(maxsize=None)
def probe_isolation() -> Isolation:
    """Test what works here. GPTLAB_SANDBOX_UNSHARE=0 turns namespaces off; GPTLAB_SANDBOX_UID sets the user."""
    root = os.geteuid() == 0
    drop = None
    if root:
        uid = int(os.environ.get("GPTLAB_SANDBOX_UID", NOBODY))
        drop = None if uid == 0 else (uid, int(os.environ.get("GPTLAB_SANDBOX_GID", uid)))
    if os.environ.get("GPTLAB_SANDBOX_UNSHARE", "1") == "0" or shutil.which("unshare") is None:
        return Isolation((), drop, False, False)
    user = () if root else ("--user", "--map-root-user")
    for extra, pid in [(("--net", "--pid", "--fork", "--kill-child"), True), (("--net",), False)]:
        prefix = ("unshare", *user, *extra, "--")
        try:
            # Probe with the interpreter the worker will run, not /bin/true: inside a user namespace a Python
            # that is readable only thanks to the caller's capabilities cannot be executed at all.
            ok = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return Isolation(prefix, drop, True, pid)
    return Isolation((), drop, False, False)


@dataclass
class RunResult:
    """What one sandbox run left behind, before any judging."""

    done: dict[int, Path] = field(default_factory=dict)  # exercise key -> its r{key}.json (still in the folder)
    ended: str = "finished"  # finished | timeout | startup-timeout | exited | signal | fatal
    running: int | None = None  # the key that was running when the run ended abnormally
    reason: str = ""
    seconds: float = 0.0
    stderr_tail: str = ""
    reason_id: str = ""  # the reason's id in gptlab.course.messages (the grader words it in the learner's language)
    reason_fields: dict = field(default_factory=dict)


SIGNAL_WORDS = {signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV)", signal.SIGKILL: "was killed (SIGKILL)",
                signal.SIGABRT: "aborted (SIGABRT)", signal.SIGBUS: "crashed (SIGBUS)",
                signal.SIGFPE: "crashed (SIGFPE)", signal.SIGXFSZ: "wrote a file past the size limit (SIGXFSZ)",
                signal.SIGXCPU: "used too much CPU time (SIGXCPU)"}


class Sandbox:
    """One run of the worker: `with Sandbox(job, limits) as box: result = box.run()`; files vanish on exit."""

    def __init__(self, lessons: list[dict], seeds: list[int], limits: Limits, isolation: Isolation | None = None):
        self.lessons, self.seeds, self.limits = lessons, seeds, limits
        self.isolation = isolation or probe_isolation()
        self.dir: Path | None = None

    def __enter__(self) -> "Sandbox":
        self.dir = Path(tempfile.mkdtemp(prefix="gptlab-sandbox-"))
        if self.isolation.drop_to:
            os.chown(self.dir, *self.isolation.drop_to)
        os.chmod(self.dir, 0o700)
        return self

    def __exit__(self, *exc) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def job(self) -> dict:
        import gptlab

        root = str(Path(gptlab.__file__).resolve().parent.parent)
        path = [root] + [p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p) and p != root]
        limits = self.limits
        nproc = limits.nproc if self.isolation.drop_to else _tasks_of(os.getuid()) + limits.nproc
        return {"sys_path": path, "seeds": self.seeds, "lessons": self.lessons, "out_dir": str(self.dir),
                "drop_to": list(self.isolation.drop_to) if self.isolation.drop_to else None,
                "nproc": None if os.geteuid() == 0 and not self.isolation.drop_to else nproc,
                "max_output": limits.max_output, "nice": limits.nice,
                "rlimits": {"AS": limits.memory_mb * 2**20, "FSIZE": limits.file_size_mb * 2**20, "CORE": 0,
                            "NOFILE": limits.open_files}}

    def run(self) -> RunResult:
        assert self.dir is not None, "use Sandbox as a context manager"
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.dir), "TMPDIR": str(self.dir),
               "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.dir / ".mpl"),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "GPTLAB_DEVICE": "cpu", "PYTHONIOENCODING": "utf-8", "CUDA_VISIBLE_DEVICES": ""}
        command = [*self.isolation.prefix, sys.executable, "-I", "-B", "-c", BOOTSTRAP]
        job = json.dumps(self.job()).encode()
        started = time.monotonic()
        result = RunResult()
        with open(self.dir / "stdout.txt", "wb") as out, open(self.dir / "stderr.txt", "wb") as err:
            try:
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=self.dir,
                                           env=env, start_new_session=True, close_fds=True)
            except OSError as error:
                return RunResult(ended="fatal", reason=f"the sandbox could not start: {error}")
            try:
                process.stdin.write(job)
                process.stdin.close()
            except OSError:
                pass
            result = self._watch(process, started)
        result.seconds = time.monotonic() - started
        result.stderr_tail = read_capped(self.dir / "stderr.txt", 200_000, tail=2000)
        return result

    def _watch(self, process: subprocess.Popen, started: float) -> RunResult:
        limits, result = self.limits, RunResult()
        count = sum(len(lesson["exercises"]) for lesson in self.lessons)
        hard_deadline = started + limits.startup_timeout + count * limits.timeout + 10
        ready, running, running_since, seen = False, None, None, 0
        while True:
            code = process.poll()
            events = self._events()
            events, seen = events[seen:], max(seen, len(events))
            for event in events:
                kind = event.get("event")
                if kind == "ready":
                    ready = True
                elif kind == "start" and isinstance(event.get("key"), int):
                    running, running_since = event["key"], time.monotonic()
                elif kind == "done" and isinstance(event.get("key"), int):
                    result.done[event["key"]] = self.dir / f"r{event['key']}.json"
                    running = None if running == event["key"] else running
                elif kind == "fatal":
                    result.ended, result.reason = "fatal", str(event.get("message", ""))[:500]
            if running in result.done:
                running = None
            if code is not None:
                break
            now = time.monotonic()
            if not ready and now > started + limits.startup_timeout:
                result.ended, result.reason = "startup-timeout", f"the sandbox did not start within {limits.startup_timeout:g} s"
                result.reason_id, result.reason_fields = "sandbox.no_start", {"seconds": f"{limits.startup_timeout:g}"}
                break
            if running is not None and now > running_since + limits.timeout:
                result.ended, result.running = "timeout", running
                result.reason = f"timed out after {limits.timeout:g} s"
                result.reason_id, result.reason_fields = "sandbox.timeout", {"seconds": f"{limits.timeout:g}"}
                break
            if now > hard_deadline:
                result.ended, result.running, result.reason = "timeout", running, "ran past the batch's time limit"
                result.reason_id = "sandbox.batch_limit"
                break
            time.sleep(0.05)
        _kill_group(process)
        if result.ended in ("timeout", "startup-timeout"):
            return result
        finished = any(e.get("event") == "finished" for e in self._events())
        if result.ended == "fatal" or finished and code == 0:
            return result
        result.running = running
        if code is not None and code < 0:
            result.ended = "signal"
            word = SIGNAL_WORDS.get(-code, f"was killed by signal {-code}")
            if -code == signal.SIGKILL:
                word += ": out of memory, or killed from outside"
            result.reason = word
        else:
            result.ended = "exited"
            result.reason = f"made the sandbox exit with status {code} (os._exit(), or a crash in native code)"
            result.reason_id, result.reason_fields = "sandbox.exited", {"code": code}
        return result

    def _events(self) -> list[dict]:
        text = read_capped(self.dir / "events.jsonl", 4_000_000)
        events = []
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_capped(path: Path, limit: int, tail: int | None = None, binary: bool = False):
    """Read a file the sandbox wrote: no symlinks, regular files only, at most `limit` bytes (else empty)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b"" if binary else ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            if tail is None or not stat.S_ISREG(info.st_mode):
                return b"" if binary else ""
            os.lseek(fd, max(0, info.st_size - tail), os.SEEK_SET)
        elif tail is not None:
            os.lseek(fd, max(0, info.st_size - tail), os.SEEK_SET)
        chunks, left = [], min(limit, tail or limit)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if binary else data.decode("utf-8", "replace")
    finally:
        os.close(fd)


def _tasks_of(uid: int) -> int:
    """Threads that `uid` runs now (RLIMIT_NPROC counts them all), so a non-root limit leaves room for ours."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields.get("Threads", "1").strip())
        except (OSError, KeyError, ValueError):
            continue
    return total
