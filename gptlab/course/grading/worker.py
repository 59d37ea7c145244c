"""The sandbox's entry point: `python -m gptlab.course.grading.worker` reads a JSON job on stdin.

Trusted phase (may still be root): import torch and gptlab, run the course's own set-up cells, resolve
the checks. Then drop privileges (and lower RLIMIT_NPROC), cap stdout/stderr, and run only the
learner's exercise cells, each alone in a copy of its lesson's set-up namespace. For each exercise,
call the learner's function on the check's cases (public seed and the secret seeds the grader chose)
and write the outputs (JSON + safetensors) to the job's folder. It decides nothing: the grader judges.

Events go to `events.jsonl` (ready / start / done / finished) so the grader knows which cell was
running when a sandbox hangs or dies, and can start a fresh sandbox for the remaining cells.
"""

from __future__ import annotations

import json
import os
import sys
import time

DEFAULT_PRELOAD = ["math", "random", "functools", "itertools", "collections", "dataclasses", "typing", "re",
                   "string", "inspect", "numpy", "torch.nn", "torch.nn.functional", "einops"]


class _CappedWriter:
    """A text stream that keeps writing to `target` until `limit` characters, then drops the rest."""

    def __init__(self, target, limit: int):
        self._target, self._left, self.dropped = target, limit, 0

    def write(self, text):
        text = str(text)
        if self._left > 0:
            part = text[: self._left]
            self._left -= len(part)
            try:
                self._target.write(part)
                if self._left <= 0:
                    self._target.write("\n[gptlab: output truncated]\n")
            except Exception:
                pass
        self.dropped += max(0, len(text) - max(self._left, 0))
        return len(text)

    def flush(self):
        try:
            self._target.flush()
        except Exception:
            pass

    def isatty(self):
        return False


def main(job: dict | None = None) -> None:
    if job is None:
        job = json.loads(sys.stdin.buffer.read())
    out = job["out_dir"]
    me = os.getpid()
    events = os.path.join(out, "events.jsonl")

    def emit(**event) -> None:
        if os.getpid() != me:  # a fork of the learner's code returning here: end it, silently
            os._exit(0)
        with open(events, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    try:
        if job.get("nice"):
            os.nice(int(job["nice"]))  # only ever lower: an unprivileged process cannot raise it back
        _apply_rlimits(job)
        prepared = _trusted_phase(job)
    except BaseException as error:  # the course or the environment is broken, not the learner
        import traceback

        emit(event="fatal", message=f"{type(error).__name__}: {error}", detail=traceback.format_exc()[-2000:])
        os._exit(3)
    _drop_privileges(job)
    limit = int(job.get("max_output", 65536))
    sys.stdout, sys.stderr = _CappedWriter(sys.__stdout__, limit), _CappedWriter(sys.__stderr__, limit)
    emit(event="ready")
    for lesson, base, specs in prepared:
        for item in lesson["exercises"]:
            emit(event="start", key=item["key"])
            started = time.perf_counter()
            result = _run_exercise(item, base, specs[item["key"]], job)
            if os.getpid() != me:
                os._exit(0)
            result["seconds"] = round(time.perf_counter() - started, 3)
            _write_result(out, item["key"], result)
            emit(event="done", key=item["key"])
    emit(event="finished")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)  # skip atexit handlers and finalizers the learner may have registered


def _apply_rlimits(job: dict) -> None:
    import resource

    for name, value in job.get("rlimits", {}).items():
        which = getattr(resource, f"RLIMIT_{name}")
        soft, hard = resource.getrlimit(which)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        resource.setrlimit(which, (value, value))


def _trusted_phase(job: dict) -> list:
    for entry in reversed(job.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    import importlib
    import linecache  # noqa: F401  (loaded now: the sandbox user may not be able to read the stdlib later)
    import traceback  # noqa: F401

    import torch

    torch.set_num_threads(1)
    import safetensors.torch  # noqa: F401

    from gptlab.course.checks import resolve_check
    from gptlab.course.checks.core import run_cases
    from gptlab.course.grading import serialize  # noqa: F401

    for name in job.get("preload", DEFAULT_PRELOAD):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    prepared = []
    for lesson in job["lessons"]:
        namespace: dict = {"__name__": "__gptlab_setup__"}
        code = compile(lesson["setup_source"], lesson["setup_filename"], "exec")
        exec(code, namespace)  # the course's own set-up cell: trusted
        specs = {}
        for item in lesson["exercises"]:  # the reference's identity is taken now, before any learner code
            spec = resolve_check(item["check"]).spec
            specs[item["key"]] = (spec, spec.reference, _reference_codes(spec.reference))
            # Run the check once on the reference now, while trusted: every module its cases and calls import
            # lazily (numpy.ctypeslib, torch internals, …) is loaded before the sandbox user, who may not be
            # able to read the virtual environment at all, takes over.
            try:
                _warm_up(spec)
            except Exception:
                pass
        prepared.append((lesson, namespace, specs))
    return prepared


def _warm_up(spec) -> None:
    """Run the reference through the whole path a learner's function takes, results sent back included."""
    import torch
    from safetensors.torch import save

    from gptlab.course.checks.core import run_cases
    from gptlab.course.grading.serialize import encode_outcomes

    tensors: dict = {}
    json.dumps(encode_outcomes(run_cases(spec, spec.reference, 0), tensors), allow_nan=False)
    save(tensors or {"warm": torch.zeros(1)})  # safetensors converts through numpy, which imports more lazily


def _drop_privileges(job: dict) -> None:
    import resource

    nproc = job.get("nproc")
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(nproc), int(nproc)))
    drop = job.get("drop_to")
    if drop:
        uid, gid = int(drop[0]), int(drop[1])
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            os._exit(4)
    try:  # no set-uid binary can regain privileges from here
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    except Exception:
        pass


def _run_exercise(item: dict, base: dict, prepared: tuple, job: dict) -> dict:
    import linecache

    from gptlab.course.checks.core import run_cases

    spec, reference, watched = prepared
    filename = item["filename"]
    source = item["source"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(base)
    namespace["__name__"] = f"__gptlab_cell_{item['key']}__"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        magic = " (exercise cells must be plain Python: no % or ! lines)" if "%" in (error.text or "") or \
            (error.text or "").lstrip().startswith("!") else ""
        return {"status": "error", "message": f"is not valid Python: {error.msg} on line {error.lineno}{magic}",
                "say": ["sandbox.syntax_magic" if magic else "sandbox.syntax", {"error": str(error.msg), "line": error.lineno}]}
    try:
        exec(code, namespace)
    except BaseException as error:  # SystemExit and KeyboardInterrupt included
        described = _describe(error, filename)
        return {"status": "error", "message": "raised " + described + " while the cell itself ran",
                "say": ["sandbox.raised_in_cell", {"error": described}]}
    impl = namespace.get(item["name"])
    if impl is None:
        return {"status": "error", "message": f"does not define `{item['name']}`",
                "say": ["sandbox.undefined", {"name": item["name"]}]}
    if not callable(impl):
        return {"status": "error", "message": f"`{item['name']}` is a {type(impl).__name__}, not a function or class",
                "say": ["sandbox.not_callable", {"name": item["name"], "kind": type(impl).__name__}]}
    origin = _origin(impl, filename, namespace["__name__"], reference)
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in watched and frame.f_back is not None \
                and frame.f_back.f_code.co_filename == filename:
            calls.append(frame.f_code.co_name)

    runs = []
    for seed in job["seeds"]:
        sys.setprofile(profile if watched else None)
        try:
            outcomes = run_cases(spec, impl, seed)
        except BaseException as error:  # sys.exit() inside the function, or a broken invoker
            sys.setprofile(None)
            described = _describe(error, filename)
            return {"status": "error", "message": "raised " + described + " when called", "origin": origin,
                    "say": ["sandbox.raised_when_called", {"error": described}]}
        finally:
            sys.setprofile(None)
        runs.append({"seed": seed, "outcomes": outcomes})
    return {"status": "ran", "origin": origin, "calls_reference": bool(calls), "runs": runs}


def _origin(impl, filename: str, cell_module: str, reference) -> dict:
    """Where the learner's object comes from: their cell, the course package (the reference), or elsewhere."""
    import functools
    import inspect

    import gptlab

    package = os.path.dirname(os.path.abspath(gptlab.__file__))
    obj = impl
    for _ in range(10):  # see through functools.partial, bound methods and wrappers
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        else:
            break
    where = f"{getattr(obj, '__module__', None) or '?'}.{getattr(obj, '__qualname__', type(obj).__name__)}"
    if obj is reference:
        return {"own": False, "reference": True, "where": where}
    if inspect.isclass(obj):
        own = obj.__module__ == cell_module
        subclass = inspect.isclass(reference) and issubclass(obj, reference)
        from_package = str(obj.__module__ or "").startswith("gptlab")
        return {"own": own and not subclass, "reference": subclass or from_package, "where": where}
    code = getattr(obj, "__code__", None)
    if code is not None:
        file = code.co_filename
        from_package = os.path.abspath(file).startswith(package + os.sep)
        return {"own": file == filename, "reference": from_package, "where": where}
    module = str(getattr(obj, "__module__", "") or "")
    return {"own": False, "reference": module.startswith("gptlab"), "where": where}


def _reference_codes(reference) -> set:
    import inspect

    if inspect.isfunction(reference):
        return {reference.__code__}
    if inspect.isclass(reference):
        return {f.__code__ for name, f in vars(reference).items() if inspect.isfunction(f) and name != "__init__"}
    return set()


def _describe(error: BaseException, filename: str) -> str:
    import traceback

    if isinstance(error, SystemExit):
        return f"SystemExit (sys.exit({error.code!r}) was called)"
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    text = str(error).splitlines()[0][:300] if str(error) else ""
    where = f" on line {line}" if line else ""
    return f"{type(error).__name__}{': ' + text if text else ''}{where}"


def _write_result(out: str, key: int, result: dict) -> None:
    from safetensors.torch import save

    from gptlab.course.grading.serialize import encode_outcomes

    tensors: dict = {}
    try:
        for run in result.get("runs", []):
            run["outcomes"] = encode_outcomes(run["outcomes"], tensors)
        payload = json.dumps(result, ensure_ascii=False, allow_nan=False)
        blob = save(tensors) if tensors else b""
    except Exception as error:
        payload = json.dumps({"status": "error", "message": f"returned values that cannot be sent back "
                              f"({type(error).__name__}: {str(error)[:200]})"})
        blob = b""
    try:
        with open(os.path.join(out, f"r{key}.safetensors"), "wb") as handle:
            handle.write(blob)
        with open(os.path.join(out, f"r{key}.json"), "w", encoding="utf-8") as handle:
            handle.write(payload)
    except OSError as error:  # e.g. EFBIG: past the file size limit
        with open(os.path.join(out, f"r{key}.json"), "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"status": "error", "message": f"its outputs are too large to send back ({error.strerror})"}))


if __name__ == "__main__":
    main()
