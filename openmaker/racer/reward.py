"""DeepRacer reward functions: load, validate as the console did, call safely, and test on a track.

A reward file defines ``def reward_function(params): ... return float(reward)`` (see the DeepRacer
params contract in ``env.RaceSim.reward_params``). :func:`load_reward` validates it in three stages:

1. **Static checks** on the syntax tree (``ast``), each error naming ``file:line:col``:

   - a syntax error (the message Python gives);
   - exactly one top-level ``def reward_function(params)`` with exactly one parameter;
   - imports only of math, random, numpy, scipy, shapely (and their submodules), only in module-level code:
     an import inside a function or class is refused ("imports must be at the top of the file"), as the
     console refused it at run time; no relative or ``*`` imports;
   - none of the builtins that reach files, the interpreter or dynamic code: ``open``, ``eval``, ``exec``,
     ``compile``, ``input``, ``__import__``, ``globals``, ``locals``, ``vars``, ``breakpoint``, ``exit``,
     ``quit``, ``help``, ``setattr``, ``delattr``, ``__builtins__``; ``getattr`` / ``hasattr`` only with a
     constant attribute name that passes the attribute rule below;
   - **the console's forbidden strings**, applied to *names* rather than raw text. The console refused any
     file whose text contained ``__import__``, ``load``, ``fromfile``, ``genfromtxt``, ``loadtxt``,
     ``tofile``, ``savez``, ``save``, ``savetxt`` or ``memmap`` anywhere, so a variable called ``payload`` or
     a comment saying "save time" failed validation. Here those words (and ``dump``, ``open``, ``read``,
     ``write``, ``file``, which reach files in numpy/scipy too) are refused, case-insensitively, inside
     attribute names (``np.load``, ``scipy.io.loadmat``, ``arr.tofile``) and imported names
     (``from numpy import save``), where they can reach library functions; the user's own variables,
     functions, strings and comments may contain them. Attributes starting with ``_`` (``__class__``,
     ``np.lib._datasource``) are refused unless the file assigns that attribute itself (not dunders).
     ``load_reward(path, console=True)`` adds the console's raw-text rule for files meant to go back to AWS;
   - undefined names (flake8's F821, which the console's flake8 pass reported): a name that is neither a
     builtin nor bound anywhere in the file.

   These checks reproduce and tighten the console's rules; they are not a security sandbox. Reward files
   are the user's own code run on the user's machine (league evaluation never calls a reward function).

2. **A validation run in a subprocess** (``python -I``, so a crash or an endless loop cannot take the caller
   down) with a time limit of ``timeout`` seconds (default 5, the console's ``TIMEOUT_SEC``) for the module's
   own code and for each call: ``reward_function`` is called on synthetic params (start of a lap, mid-lap
   left of centre, off track, finishing, and a slow crooked car late in an episode) built on ``reinvent_base``
   (or the track given) with every key the simulator passes. Each result must be a Python ``float``
   (``isinstance(r, float)``, as the console tested: returning an ``int`` fails, ``numpy.float64`` passes),
   finite and within [-1e5, 1e5]. Errors name the file and the line: of the ``return`` that produced a bad
   value, of the user's frame where an exception was raised; a time-out says "did not return within 5 s
   (an endless loop?)".

3. The module is executed in-process (globals ``__name__ = "reward_function"``, ``__file__`` = its path) and
   wrapped in :class:`RewardFunction`, whose ``__call__`` coerces with ``float()`` like the simulator and
   raises :class:`RewardError` for NaN, infinities and values outside [-1e5, 1e5] (naming the file and the
   ``def`` line) and for exceptions (naming the user's line). ``__call__`` does not copy ``params``; callers
   pass a fresh dict per call (``RaceSim.reward_params`` does).

Runtime time limit: :func:`call_batch` calls the function on many params under one ``signal.setitimer``
(``ITIMER_REAL``) guard for the whole batch. When it fires, the exception is raised in the user's code; code
that catches it (a bare ``except:`` in a loop) meets it again on its next line (a line tracer is installed on
those frames until the batch ends). Signals only work in the main thread of the main interpreter (and not on
Windows): elsewhere :func:`call_batch` runs **without a time limit**. A single ``RewardFunction(params)`` call
has no time limit either.

:func:`test_reward` validates a file and plots the reward along the centre line, as a heat map over arc
length x lateral offset across the track, and along a recorded trajectory (a CSV, see :func:`read_trajectory`).
"""

from __future__ import annotations

import ast
import builtins
import csv
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from openmaker.racer.errors import RacerError

__all__ = [
    "RewardError",
    "RewardFunction",
    "call_batch",
    "load_reward",
    "read_trajectory",
    "test_reward",
    "validation_cases",
]

ALLOWED_IMPORTS = ("math", "random", "numpy", "scipy", "shapely")
CONSOLE_FORBIDDEN_STRINGS = (
    "__import__", "load", "fromfile", "genfromtxt", "loadtxt", "tofile", "savez", "save", "savetxt", "memmap",
)
# refused inside attribute and imported names (case-insensitive); covers the console's list
FORBIDDEN_NAME_PARTS = ("load", "save", "fromfile", "tofile", "memmap", "dump", "open", "read", "write", "file")
FORBIDDEN_BUILTINS = frozenset({
    "open", "eval", "exec", "compile", "input", "__import__", "globals", "locals", "vars", "breakpoint",
    "exit", "quit", "help", "setattr", "delattr", "__builtins__", "__loader__", "__spec__", "__build_class__",
})
REWARD_MIN, REWARD_MAX = -1e5, 1e5
VALIDATION_TIMEOUT = 5.0  # seconds, the console's TIMEOUT_SEC
_KNOWN_GLOBALS = frozenset(dir(builtins)) | {"__file__", "__name__", "__doc__"}


class RewardError(RacerError):
    """A reward function that breaks the rules, raises, returns a bad value or runs too long."""


class _Timeout(BaseException):
    """Raised by the SIGALRM handler; a BaseException so the user's ``except Exception`` does not swallow it."""


# ---------------------------------------------------------------------------------------------- static checks


def _read_source(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RewardError(f"{path}: no such file (expected a Python file defining reward_function(params))") from None
    except IsADirectoryError:
        raise RewardError(f"{path}: is a directory, not a reward function file") from None
    except OSError as exc:
        raise RewardError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return importlib.util.decode_source(raw)
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
        raise RewardError(f"{path}: not a Python source file: {exc}") from None


def _bound_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound anywhere in the module, and attribute names the module assigns itself."""
    names: set[str] = set()
    attrs: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            attrs.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names, attrs


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module):
        self.path = path
        self.bound, self.own_attrs = _bound_names(tree)
        self.depth = 0  # > 0 inside a function, lambda or class body
        self.allowed_getattr: set[int] = set()

    def fail(self, node: ast.AST, message: str) -> None:
        raise RewardError(f"{self.path}:{node.lineno}:{node.col_offset + 1}: {message}")

    # -- scopes ------------------------------------------------------------------------------------------
    def _nested(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested

    # -- imports -----------------------------------------------------------------------------------------
    def _module_allowed(self, node: ast.AST, module: str) -> None:
        root = module.split(".")[0]
        if root not in ALLOWED_IMPORTS:
            self.fail(node, f"import of {module!r} is not allowed: reward functions may import only "
                            f"{', '.join(ALLOWED_IMPORTS)}")

    def visit_Import(self, node: ast.Import) -> None:
        names = ", ".join(a.name for a in node.names)
        if self.depth:
            self.fail(node, f"imports must be at the top of the file, not inside a function or class (import {names})")
        for alias in node.names:
            self._module_allowed(node, alias.name)
            self._name_allowed(node, alias.name.split(".")[-1], "module")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.fail(node, "relative imports are not allowed in a reward function")
        module = node.module or ""
        if self.depth:
            self.fail(node, f"imports must be at the top of the file, not inside a function or class "
                            f"(from {module} import ...)")
        self._module_allowed(node, module)
        for alias in node.names:
            if alias.name == "*":
                self.fail(node, f"'from {module} import *' is not allowed: import the names you use")
            self._name_allowed(node, alias.name, "imported name")

    # -- names and attributes ----------------------------------------------------------------------------
    def _name_allowed(self, node: ast.AST, name: str, what: str) -> None:
        low = name.lower()
        for part in FORBIDDEN_NAME_PARTS:
            if part in low:
                self.fail(node, f"{what} {name!r} is not allowed: names containing {part!r} can read or write "
                                f"files (the DeepRacer console refused them too)")

    def _attribute_allowed(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("__") and attr.endswith("__"):
            self.fail(node, f"attribute {attr!r} is not allowed: dunder attributes reach the interpreter's internals")
        if attr in self.own_attrs:
            return
        if attr.startswith("_"):
            self.fail(node, f"attribute {attr!r} is not allowed: private attributes of modules and objects are off limits")
        self._name_allowed(node, attr, "attribute")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._attribute_allowed(node, node.attr)
        elif node.attr.startswith("__") and node.attr.endswith("__"):
            self.fail(node, f"attribute {node.attr!r} is not allowed: dunder attributes reach the interpreter's internals")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("getattr", "hasattr") and f.id not in self.bound:
            attr = node.args[1] if len(node.args) >= 2 else None
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                self.fail(node, f"{f.id}() needs a constant attribute name (a string literal) in a reward function")
            self._attribute_allowed(node, attr.value)
            self.allowed_getattr.add(id(f))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in FORBIDDEN_BUILTINS:
            self.fail(node, f"{name!r} is not allowed in a reward function (no files, no dynamic code, no "
                            f"interpreter internals)")
        if name in ("getattr", "hasattr") and name not in self.bound and id(node) not in self.allowed_getattr:
            self.fail(node, f"{name} may only be called directly, with a constant attribute name")
        if isinstance(node.ctx, ast.Load) and name not in self.bound and name not in _KNOWN_GLOBALS:
            self.fail(node, f"undefined name {name!r}")


def _check_signature(path: str, tree: ast.Module) -> ast.FunctionDef:
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "reward_function"]
    if not defs:
        nested = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name == "reward_function"]
        where = f"{path}:{nested[0].lineno}" if nested else path
        raise RewardError(f"{where}: no top-level function reward_function(params): define "
                          f"'def reward_function(params):' at the left margin of the file")
    if len(defs) > 1:
        lines = ", ".join(str(d.lineno) for d in defs)
        raise RewardError(f"{path}:{defs[1].lineno}: reward_function is defined {len(defs)} times (lines {lines}): "
                          f"keep exactly one")
    fn = defs[0]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise RewardError(f"{path}:{fn.lineno}: reward_function must be a plain function, not 'async def'")
    a = fn.args
    n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)
    if n != 1 or not (a.posonlyargs or a.args):
        raise RewardError(f"{path}:{fn.lineno}: reward_function must take exactly one parameter: "
                          f"def reward_function(params) (it takes {n})")
    return fn


def check_source(source: str, path: str | Path, *, console: bool = False) -> tuple[ast.Module, int]:
    """The static checks. Returns the syntax tree and the line of ``def reward_function``; RewardError if bad."""
    path = str(path)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        col = f":{exc.offset}" if exc.offset else ""
        raise RewardError(f"{path}:{exc.lineno}{col}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise RewardError(f"{path}: not a Python source file: {exc}") from None
    fn = _check_signature(path, tree)
    _Checker(path, tree).visit(tree)
    if console:
        for word in CONSOLE_FORBIDDEN_STRINGS:
            at = source.find(word)
            if at >= 0:
                line = source.count("\n", 0, at) + 1
                col = at - (source.rfind("\n", 0, at) + 1) + 1
                raise RewardError(f"{path}:{line}:{col}: contains the string {word!r}, which the DeepRacer console "
                                  f"refused anywhere in the file (also in names and comments)")
    try:  # what only the compiler sees: 'return' outside a function, duplicate arguments, ...
        compile(tree, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        col = f":{exc.offset}" if exc.offset else ""
        raise RewardError(f"{path}:{exc.lineno}{col}: syntax error: {exc.msg}") from None
    return tree, fn.lineno


# ---------------------------------------------------------------------------------------------- validation run

# Runs in `python -I -c`: reads {"source", "cases"} from stdin, prints one JSON result on the original stdout
# (the user's prints go to stderr). A watchdog thread ends the process if a stage outlives the time limit.
_RUNNER = r"""
import json, math, os, sys, threading, traceback
path, limit = sys.argv[1], float(sys.argv[2])
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
lock = threading.Lock()
def report(**kw):
    with lock:
        out.write(json.dumps(kw) + "\n")
        out.flush()
        os._exit(0)
def user_line(tb):
    line = None
    for fr in traceback.extract_tb(tb):
        if fr.filename == path:
            line = fr.lineno
    return line
def guarded(stage, fn, *args):
    timer = threading.Timer(limit, report, kwargs={"status": "timeout", "case": stage})
    timer.daemon = True
    timer.start()
    try:
        return fn(*args)
    except BaseException as exc:
        timer.cancel()
        msg = str(exc).splitlines()[0] if str(exc) else ""
        report(status="raised", case=stage, type=type(exc).__name__, message=msg, line=user_line(exc.__traceback__))
    finally:
        timer.cancel()
job = json.loads(sys.stdin.read())
g = {"__name__": "reward_function", "__file__": path}
guarded("module", exec, compile(job["source"], path, "exec", dont_inherit=True), g)
fn = g.get("reward_function")
if not callable(fn):
    report(status="nofunction")
code = getattr(fn, "__code__", None)
last = [None]
def prof(frame, event, arg):
    if event == "return" and frame.f_code is code:
        last[0] = frame.f_lineno
values = []
for name, params in job["cases"]:
    params["waypoints"] = [tuple(p) for p in params["waypoints"]]
    params["objects_location"] = [tuple(p) for p in params["objects_location"]]
    last[0] = None
    sys.setprofile(prof)
    try:
        r = guarded(name, fn, params)
    finally:
        sys.setprofile(None)
    info = dict(case=name, line=last[0], rtype=type(r).__name__, value=repr(r)[:80])
    if not isinstance(r, float):
        report(status="type", **info)
    if not (-1e5 <= r <= 1e5):
        report(status="range", **info)
    values.append(float(r))
report(status="ok", values=values)
"""


def _validate_in_subprocess(path: str, source: str, def_line: int, cases: list[tuple[str, dict]],
                            timeout: float) -> list[float]:
    job = json.dumps({"source": source, "cases": cases})
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    hard_limit = 30.0 + timeout * (len(cases) + 2)  # the watchdog normally ends it long before
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", _RUNNER, path, repr(float(timeout))], input=job,
                              capture_output=True, text=True, timeout=hard_limit, env=env)
    except subprocess.TimeoutExpired:
        raise RewardError(f"{path}: reward_function did not return within {timeout:g} s (an endless loop?)") from None
    lines = proc.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RewardError(f"{path}: the validation run crashed: {tail}") from None
    status = res["status"]
    if status == "ok":
        return res["values"]
    case = res.get("case")
    during = "while running the module's top-level code" if case == "module" else f"on the validation call {case!r}"
    if status == "timeout":
        if case == "module":
            raise RewardError(f"{path}: the module's top-level code did not finish within {timeout:g} s "
                              f"(an endless loop?)")
        raise RewardError(f"{path}: reward_function did not return within {timeout:g} s (an endless loop?) "
                          f"{during}")
    if status == "raised":
        where = f"{path}:{res['line']}" if res.get("line") else path
        msg = f": {res['message']}" if res.get("message") else ""
        raise RewardError(f"{where}: {res['type']}{msg} ({during})")
    if status == "nofunction":
        raise RewardError(f"{path}: the module does not leave a callable reward_function after it runs")
    where = f"{path}:{res.get('line') or def_line}"
    if status == "type":
        raise RewardError(f"{where}: reward_function must return a float, got {res['rtype']} {res['value']} "
                          f"({during}; write 'return float(reward)')")
    raise RewardError(f"{where}: reward_function returned {res['value']}, which is not a finite number within "
                      f"[-1e5, 1e5] ({during})")


# ---------------------------------------------------------------------------------------------- params


def _param_dicts(track: Any, x, y, heading_deg, speed, steering, steps, progress) -> list[dict]:
    """DeepRacer params for cars whose front point is (x, y), built from the Track API as RaceSim does."""
    from openmaker.racer.physics import FRONT_OFFSET, WHEEL_OFFSETS

    x, y, heading_deg, speed, steering, progress = (np.asarray(a, dtype=np.float64).ravel() for a in
                                                    np.broadcast_arrays(x, y, heading_deg, speed, steering, progress))
    steps = np.broadcast_to(np.asarray(steps, dtype=np.int64).ravel(), x.shape)
    p = track.project(x, y)
    prev, nxt = track.closest_waypoints(p.s)
    yaw = np.radians(heading_deg)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    bx, by = x[:, None] - FRONT_OFFSET * c, y[:, None] - FRONT_OFFSET * s
    wx = bx + WHEEL_OFFSETS[None, :, 0] * c - WHEEL_OFFSETS[None, :, 1] * s
    wy = by + WHEEL_OFFSETS[None, :, 0] * s + WHEEL_OFFSETS[None, :, 1] * c
    on = np.asarray(track.on_track(wx, wy)).reshape(wx.shape)
    h = np.where(heading_deg <= -180.0, heading_deg + 360.0, heading_deg)
    h = np.where(h > 180.0, h - 360.0, h)
    waypoints = [(float(a), float(b)) for a, b in track.center]
    reversed_ = bool(getattr(track, "reverse", False))
    length = float(track.length)
    cols = zip(on.all(axis=1).tolist(), x.tolist(), y.tolist(), prev.tolist(), nxt.tolist(), p.dist.tolist(),
               p.left.tolist(), (~on.any(axis=1)).tolist(), h.tolist(), progress.tolist(), speed.tolist(),
               steering.tolist(), steps.tolist(), p.width.tolist(), p.s.tolist())
    return [{
        "all_wheels_on_track": aw, "x": px, "y": py, "closest_objects": [0, 0], "closest_waypoints": [pw, nw],
        "distance_from_center": d, "is_crashed": False, "is_left_of_center": lf, "is_offtrack": off,
        "is_reversed": reversed_, "heading": hd, "objects_distance": [], "objects_heading": [],
        "objects_left_of_center": [], "objects_location": [], "objects_speed": [], "progress": pr, "speed": sp,
        "steering_angle": st, "steps": stp, "track_length": length, "track_width": w, "waypoints": list(waypoints),
        "projection_distance": ps, "objects_distance_from_center": [], "object_in_camera": False,
    } for aw, px, py, pw, nw, d, lf, off, hd, pr, sp, st, stp, w, ps in cols]


def _pose(track: Any, s: float, offset: float) -> tuple[float, float, float]:
    """Front point at arc length ``s`` moved ``offset`` metres to the left (negative: right); heading along the track."""
    x, y, h = (float(v) for v in track.point_at(s))
    return x - offset * math.sin(h), y + offset * math.cos(h), math.degrees(h)


def validation_cases(track: Any = None) -> list[tuple[str, dict]]:
    """The synthetic (name, params) pairs of the validation run, on ``track`` (default ``reinvent_base``)."""
    if track is None:
        try:
            from openmaker.racer.tracks import load_track

            track = load_track("reinvent_base")
        except Exception:  # tracks unavailable: a small synthetic loop, params set by hand
            return _synthetic_cases()
    L = float(track.length)
    w = float(np.median(track.width))
    spec = [  # name, s, lateral offset, heading offset (deg), speed, steering, steps, progress
        ("start", 0.0, 0.0, 0.0, 1.0, 0.0, 1, 0.0),
        ("mid-lap", 0.37 * L, 0.2 * w, 10.0, 2.0, -15.0, 100, 37.0),
        ("off-track", 0.6 * L, 1.0 * w, 30.0, 1.0, 15.0, 150, 60.0),
        ("finish", L - 0.01, 0.0, 0.0, 4.0, 0.0, 250, 100.0),
        ("slow and crooked", 0.05 * L, -0.3 * w, 150.0, 0.1, -30.0, 10_000, 5.0),
    ]
    out = []
    for name, s, off, dh, sp, st, steps, prog in spec:
        x, y, h = _pose(track, s, off)
        params = _param_dicts(track, x, y, h + dh, sp, st, steps, prog)[0]
        if name == "off-track":  # off the road whatever the track's shape there
            params.update(all_wheels_on_track=False, is_offtrack=True)
        out.append((name, params))
    return out


def _synthetic_cases() -> list[tuple[str, dict]]:
    t = np.linspace(0.0, 2.0 * math.pi, 61)
    wp = [(3.0 * math.cos(a), 1.5 * math.sin(a)) for a in t[:-1]] + [(3.0, 0.0)]
    length = float(sum(math.dist(wp[i], wp[i + 1]) for i in range(len(wp) - 1)))
    base = {
        "all_wheels_on_track": True, "closest_objects": [0, 0], "is_crashed": False, "is_offtrack": False,
        "is_reversed": False, "objects_distance": [], "objects_heading": [], "objects_left_of_center": [],
        "objects_location": [], "objects_speed": [], "track_length": length, "track_width": 0.76,
        "waypoints": wp, "objects_distance_from_center": [], "object_in_camera": False,
    }
    rows = [  # name, waypoint, distance, left, heading, speed, steering, steps, progress, off
        ("start", 0, 0.0, True, 90.0, 1.0, 0.0, 1, 0.0, False),
        ("mid-lap", 22, 0.15, True, -100.0, 2.0, -15.0, 100, 37.0, False),
        ("off-track", 36, 0.76, False, -40.0, 1.0, 15.0, 150, 60.0, True),
        ("finish", 59, 0.0, True, 85.0, 4.0, 0.0, 250, 100.0, False),
        ("slow and crooked", 3, 0.2, False, -80.0, 0.1, -30.0, 10_000, 5.0, False),
    ]
    out = []
    for name, i, d, left, hd, sp, st, steps, prog, off in rows:
        p = dict(base, x=wp[i][0], y=wp[i][1], closest_waypoints=[i, i + 1], distance_from_center=d,
                 is_left_of_center=left, heading=hd, speed=sp, steering_angle=st, steps=steps, progress=prog,
                 projection_distance=prog / 100.0 * length, waypoints=list(wp))
        if off:
            p.update(all_wheels_on_track=False, is_offtrack=True)
        out.append((name, p))
    return out


# ---------------------------------------------------------------------------------------------- the function


def _exec_module(path: str, source: str) -> tuple[Callable, dict]:
    g: dict = {"__name__": "reward_function", "__file__": path}
    try:
        exec(compile(source, path, "exec", dont_inherit=True), g)
    except Exception as exc:
        raise RewardError(f"{_user_where(path, exc)}: {type(exc).__name__}: {exc} (while loading the module)") from exc
    fn = g.get("reward_function")
    if not callable(fn):
        raise RewardError(f"{path}: the module does not leave a callable reward_function after it runs")
    return fn, g


def _user_where(path: str, exc: BaseException) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{path}:{line}" if line else path


class RewardFunction:
    """A loaded, validated reward function. Call it with a params dict; it returns a float or raises RewardError.

    Attributes: ``path`` (Path), ``source`` (the file's text), ``line`` (the ``def reward_function`` line),
    ``function`` (the user's function itself, unchecked). Picklable: unpickling re-executes the source without
    validating it again (for worker processes).
    """

    def __init__(self, path: str | Path, source: str, line: int):
        self.path = Path(path)
        self.source = source
        self.line = line
        self._file = str(path)
        self._where = f"{self._file}:{line}"
        self.function, self._globals = _exec_module(self._file, source)

    def __call__(self, params: dict) -> float:
        try:
            r = self.function(params)
        except (Exception, SystemExit) as exc:
            raise RewardError(f"{_user_where(self._file, exc)}: reward_function raised {type(exc).__name__}: {exc}") from exc
        try:
            v = float(r)
        except (TypeError, ValueError, OverflowError):
            raise RewardError(f"{self._where}: reward_function returned {type(r).__name__} {repr(r)[:60]}, "
                              f"not a number") from None
        if REWARD_MIN <= v <= REWARD_MAX:
            return v
        raise RewardError(f"{self._where}: reward_function returned {v!r}: rewards must be finite numbers within "
                          f"[-1e5, 1e5]")

    def __repr__(self) -> str:
        return f"RewardFunction({self._file!r})"

    def __getstate__(self) -> dict:
        return {"path": self._file, "source": self.source, "line": self.line}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["source"], state["line"])


def load_reward(path: str | Path, *, timeout: float = VALIDATION_TIMEOUT, track: Any = None,
                console: bool = False) -> RewardFunction:
    """Read, check and validate a reward file (see the module docstring). Any problem → RewardError (file:line).

    ``timeout``: seconds allowed for the module's code and for each validation call (the console's 5 s).
    ``track``: a Track to build the validation params on (default reinvent_base). ``console``: also refuse the
    console's forbidden strings anywhere in the text, for files meant to be uploaded to DeepRacer.
    """
    path = Path(path)
    source = _read_source(path)
    _, line = check_source(source, path, console=console)
    _validate_in_subprocess(str(path), source, line, validation_cases(track), timeout)
    return RewardFunction(path, source, line)


class _Checked:
    """Wrap a plain callable with the runtime rules of RewardFunction.__call__."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self._where = getattr(getattr(fn, "__code__", None), "co_filename", None) or repr(fn)

    def __call__(self, params: dict) -> float:
        r = self.fn(params)
        try:
            v = float(r)
        except (TypeError, ValueError, OverflowError):
            raise RewardError(f"{self._where}: reward function returned {type(r).__name__} {repr(r)[:60]}, "
                              f"not a number") from None
        if REWARD_MIN <= v <= REWARD_MAX:
            return v
        raise RewardError(f"{self._where}: reward function returned {v!r}: rewards must be finite numbers "
                          f"within [-1e5, 1e5]")


def call_batch(fn: Callable[[dict], float], params_list: Sequence[dict], *, timeout: float | None = 10.0) -> np.ndarray:
    """Rewards (float64 array) for many params, the whole batch under one time limit of ``timeout`` seconds.

    ``fn``: a RewardFunction (or any callable, given the same float/range checks). Over time → RewardError
    "did not return within ... s". The limit uses ``signal.setitimer(ITIMER_REAL)`` and SIGALRM, so it only
    applies in the main thread (on POSIX); elsewhere, or with ``timeout=None``, there is no time limit. A
    timer already set by the caller is restored afterwards (less the time used).
    """
    call = fn if isinstance(fn, RewardFunction) else _Checked(fn)
    n = len(params_list)
    out = np.empty(n, dtype=np.float64)
    guard = (timeout is not None and timeout > 0 and hasattr(signal, "setitimer")
             and threading.current_thread() is threading.main_thread())
    if not guard:
        for i, p in enumerate(params_list):
            out[i] = call(p)
        return out
    armed = [True]
    traced = [False]
    old_trace = sys.gettrace()

    def tracer(frame, event, arg):
        if not armed[0]:
            return None
        if event == "line" and frame.f_code is not _CALL_BATCH_CODE:
            raise _Timeout
        return tracer

    def on_alarm(signum, frame):
        if not armed[0]:
            return
        # Code that catches the exception (a bare 'except:' in a loop) meets it again on its next line: a line
        # tracer on the frames above call_batch raises it there, i.e. inside the handler that caught it.
        traced[0] = True
        sys.settrace(tracer)
        f = frame
        while f is not None and f.f_code is not _CALL_BATCH_CODE:
            f.f_trace = tracer
            f = f.f_back
        raise _Timeout

    i = 0
    started = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    # re-fires every 0.1 s until the exception gets out of the user's code
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, float(timeout), 0.1)
    try:
        try:
            for i, p in enumerate(params_list):
                out[i] = call(p)
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if traced[0]:
                sys.settrace(old_trace)
            if old_delay > 0:
                signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - started), 1e-3), old_interval)
    except _Timeout:
        where = str(fn._file) if isinstance(fn, RewardFunction) else call._where
        raise RewardError(f"{where}: reward_function did not return within {timeout:g} s (an endless loop?): "
                          f"the time ran out at call {i + 1} of {n}") from None
    return out


_CALL_BATCH_CODE = call_batch.__code__

# ---------------------------------------------------------------------------------------------- test_reward


TRAJECTORY_ALIASES = {"X": "x", "Y": "y", "yaw": "heading", "steer": "steering_angle", "throttle": "speed"}
TRAJECTORY_COLUMNS = ("x", "y", "heading", "speed", "steering_angle")


def read_trajectory(path: str | Path) -> dict[str, np.ndarray]:
    """A recorded trajectory CSV with a header row.

    Required columns: ``x``, ``y`` (the params' x, y: the car's front point, metres), ``heading`` (degrees),
    ``speed`` (m/s) and ``steering_angle`` (degrees). Optional: ``steps`` (default: the row number from 1) and
    ``progress`` (default: computed from the arc length travelled since the first row). DeepRacer sim-trace
    names are accepted too: X, Y, yaw, steer, throttle (and steps, progress). Other columns are ignored.
    """
    path = Path(path)
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise RacerError(f"{path}: cannot read the trajectory: {exc.strerror or exc}") from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise RacerError(f"{path}: empty trajectory file (expected a header: {','.join(TRAJECTORY_COLUMNS)})") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise RacerError(f"{path}:1: not a CSV file: {exc}") from None
        names = [TRAJECTORY_ALIASES.get(h.strip(), h.strip()) for h in header]
        missing = [c for c in TRAJECTORY_COLUMNS if c not in names]
        if missing:
            raise RacerError(f"{path}:1: the trajectory needs columns {', '.join(TRAJECTORY_COLUMNS)}; missing "
                             f"{', '.join(missing)}")
        wanted = [c for c in (*TRAJECTORY_COLUMNS, "steps", "progress") if c in names]
        cols: dict[str, list[float]] = {c: [] for c in wanted}
        try:
            for row in reader:
                if not any(v.strip() for v in row):
                    continue
                if len(row) != len(names):
                    raise RacerError(f"{path}:{reader.line_num}: {len(row)} values, expected {len(names)}")
                for c in wanted:
                    v = row[names.index(c)].strip()
                    try:
                        val = float(v)
                    except ValueError:
                        raise RacerError(f"{path}:{reader.line_num}: column {c}: not a number: {v!r}") from None
                    if not math.isfinite(val):
                        raise RacerError(f"{path}:{reader.line_num}: column {c}: not a finite number: {v!r}")
                    cols[c].append(val)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise RacerError(f"{path}:{reader.line_num}: not a valid CSV file: {exc}") from None
    if not cols["x"]:
        raise RacerError(f"{path}: the trajectory has a header but no rows")
    return {c: np.asarray(v) for c, v in cols.items()}


def _trajectory_params(track: Any, traj: dict[str, np.ndarray]) -> list[dict]:
    n = len(traj["x"])
    steps = traj["steps"].astype(np.int64) if "steps" in traj else np.arange(1, n + 1)
    if "progress" in traj:
        progress = traj["progress"]
    else:
        s = track.project(traj["x"], traj["y"]).s
        ds = np.diff(s)
        if track.is_loop:
            ds = (ds + 0.5 * track.length) % track.length - 0.5 * track.length
        progress = np.clip(100.0 * np.concatenate([[0.0], np.cumsum(ds)]) / track.length, 0.0, 100.0)
    return _param_dicts(track, traj["x"], traj["y"], traj["heading"], traj["speed"], traj["steering_angle"], steps,
                        progress)


def _figure(size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _draw_track(ax: Any, track: Any) -> None:
    ax.plot(*track.outer.T, color="black", lw=1.0, zorder=3)
    ax.plot(*track.inner.T, color="black", lw=1.0, zorder=3)
    ax.plot(*track.center.T, color="#f0a000", lw=0.8, ls="--", zorder=3)
    ax.plot([track.inner[0, 0], track.outer[0, 0]], [track.inner[0, 1], track.outer[0, 1]], color="red", lw=2.0,
            zorder=4)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def test_reward(path: str | Path, track: Any, *, trajectory: str | Path | None = None, out_dir: str | Path,
                speed: float = 2.0, timeout: float = VALIDATION_TIMEOUT, samples: int = 400,
                heat_shape: tuple[int, int] = (240, 41)) -> dict:
    """Validate a reward file and plot what it pays on ``track`` (a Track or a track name).

    Writes to ``out_dir``: ``reward_centerline.png`` (reward at ``samples`` points along the centre line,
    heading along the track at ``speed`` m/s, steering 0, progress = arc length / track length, steps as a car
    at that speed from the start line would have), ``reward_heatmap.png`` (the same over arc length x lateral
    offset from -0.6 to +0.6 of the local track width, so the borders and a strip off the track show, drawn on
    the track) and, with ``trajectory`` (a CSV, see :func:`read_trajectory`), ``reward_trajectory.png``.
    Returns {"valid": True, "path", "track", "speed", "min", "max", "mean" (along the centre line),
    "heatmap": {"min", "max"}, "trajectory": {"rows", "min", "max", "mean", "total"} or None, "pngs": [...]}.
    """
    from openmaker.racer.physics import DT
    from openmaker.racer.tracks import load_track

    if isinstance(track, (str, Path)):
        track = load_track(str(track))
    if not speed > 0:
        raise RacerError(f"speed must be positive, not {speed}")
    rf = load_reward(path, timeout=timeout, track=track)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L = float(track.length)
    limit = max(10.0, 10.0 * timeout)

    def along(s: np.ndarray, offset: np.ndarray) -> list[dict]:
        x, y, h = track.point_at(s)
        px, py = x - offset * np.sin(h), y + offset * np.cos(h)
        steps = np.maximum(1, np.round(s / (speed * DT))).astype(np.int64)  # as a car at this speed from the line
        return _param_dicts(track, px, py, np.degrees(h), speed, 0.0, steps, 100.0 * s / L)

    # along the centre line
    s = np.linspace(0.0, L, samples, endpoint=not track.is_loop)
    r_center = call_batch(rf, along(s, np.zeros_like(s)), timeout=limit)
    fig = _figure((10, 4))
    ax = fig.subplots()
    ax.plot(s, r_center, color="#3b6ea8", lw=1.5)
    ax.set_xlabel("arc length from the start line (m)")
    ax.set_ylabel("reward")
    ax.set_xlim(0, L)
    ax.grid(alpha=0.3)
    top = ax.secondary_xaxis("top", functions=(lambda v: 100.0 * v / L, lambda p: p * L / 100.0))
    top.set_xlabel("progress (%)")
    ax.set_title(f"{rf.path.name} on {track.name}: reward along the centre line at {speed:g} m/s "
                 f"(min {r_center.min():.4g}, mean {r_center.mean():.4g}, max {r_center.max():.4g})", fontsize=9)
    fig.tight_layout()
    pngs = [out / "reward_centerline.png"]
    fig.savefig(pngs[-1], format="png")

    # heat map over arc length x lateral offset
    ns, no = heat_shape
    sg = np.linspace(0.0, L, ns, endpoint=not track.is_loop)
    frac = np.linspace(-0.6, 0.6, no)
    width = np.interp(sg, track.cum, track.width)
    S = np.repeat(sg, no)
    O = (width[:, None] * frac[None, :]).ravel()
    r_heat = call_batch(rf, along(S, O), timeout=limit).reshape(len(sg), no)
    if track.is_loop:  # close the ring with the start line's column (not a lap completion)
        sg = np.append(sg, L)
        S = np.concatenate([S, np.full(no, L)])
        O = np.concatenate([O, O[:no]])
        r_heat = np.vstack([r_heat, r_heat[:1]])
    x, y, h = track.point_at(S)
    X = (x - O * np.sin(h)).reshape(len(sg), no)
    Y = (y + O * np.cos(h)).reshape(len(sg), no)
    fig = _figure((9, 7))
    ax = fig.subplots()
    mesh = ax.pcolormesh(X, Y, r_heat, shading="gouraud", cmap="viridis", zorder=1)
    fig.colorbar(mesh, ax=ax, label="reward", shrink=0.8)
    _draw_track(ax, track)
    ax.set_title(f"{rf.path.name} on {track.name}: reward by position at {speed:g} m/s, heading along the track",
                 fontsize=9)
    fig.tight_layout()
    pngs.append(out / "reward_heatmap.png")
    fig.savefig(pngs[-1], format="png")

    report = {
        "valid": True,
        "path": str(path),
        "track": track.name,
        "speed": speed,
        "min": float(r_center.min()),
        "max": float(r_center.max()),
        "mean": float(r_center.mean()),
        "heatmap": {"min": float(r_heat.min()), "max": float(r_heat.max())},
        "trajectory": None,
    }
    if trajectory is not None:
        traj = read_trajectory(trajectory)
        r_traj = call_batch(rf, _trajectory_params(track, traj), timeout=limit)
        fig = _figure((13, 5.5))
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        _draw_track(ax1, track)
        sc = ax1.scatter(traj["x"], traj["y"], c=r_traj, cmap="viridis", s=10, zorder=5)
        fig.colorbar(sc, ax=ax1, label="reward", shrink=0.8)
        ax1.set_title(f"{Path(trajectory).name}: reward along the trajectory", fontsize=9)
        steps = traj["steps"] if "steps" in traj else np.arange(1, len(r_traj) + 1)
        ax2.plot(steps, r_traj, color="#3b6ea8", lw=1.2)
        ax2.set_xlabel("step")
        ax2.set_ylabel("reward")
        ax2.grid(alpha=0.3)
        ax2.set_title(f"total {r_traj.sum():.4g} over {len(r_traj)} steps", fontsize=9)
        fig.tight_layout()
        pngs.append(out / "reward_trajectory.png")
        fig.savefig(pngs[-1], format="png")
        report["trajectory"] = {"rows": int(len(r_traj)), "min": float(r_traj.min()), "max": float(r_traj.max()),
                                "mean": float(r_traj.mean()), "total": float(r_traj.sum())}
    report["pngs"] = [str(p) for p in pngs]
    return report


test_reward.__test__ = False  # not a pytest test, whatever module imports it
