"""Shared plumbing of the serving benchmarks in this directory.

* ``OpenmakerServer`` and ``TorchServeServer`` start a model server as a
  subprocess (its own session, so that stopping it stops its workers too) on
  free loopback ports, in a private temporary directory (``OPENMAKER_HOME``,
  TorchServe's logs, pid file and sockets all go there: nothing outside it is
  touched), wait until the model answers, and stop it again.
* ``run_rounds`` loads several servers in alternating rounds with
  ``openmaker.serving.loadgen.run_load``; ``summarise`` takes per-server
  medians over the rounds.
* ``write_results`` writes ``results/<name>.json`` and ``results/<name>.md``.

The scripts import this module as ``harness`` (``python
benchmarks/serving/<script>.py`` puts this directory first on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import httpx

from openmaker.serving.loadgen import LoadResult, run_load

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS_DIR = HERE / "results"


# -- machine and environment ----------------------------------------------------


def _run_text(cmd: Sequence[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPUs, CPU model, memory, Python, load, commit."""
    model = None
    lscpu = _run_text(["lscpu"])
    for line in (lscpu or "").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
            break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    commit = _run_text(["git", "rev-parse", "--short", "HEAD"], cwd=REPO)
    # Results files written by these scripts do not make the code dirty.
    dirty = _run_text(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                       ":(exclude)benchmarks/serving/results"], cwd=REPO)
    try:
        from openmaker import __version__ as om_version
    except ImportError:  # pragma: no cover
        om_version = None
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "memory_gib": mem_gib,
        "gpu": "none" if shutil.which("nvidia-smi") is None else _run_text(["nvidia-smi", "-L"]),
        "os": platform.platform(),
        "python": platform.python_version(),
        "openmaker": om_version,
        "commit": (commit + ("-dirty" if dirty else "")) if commit else None,
        "loadavg_at_start": list(os.getloadavg()),
    }


def machine_line(info: Mapping[str, Any]) -> str:
    gpu = "no GPU" if info.get("gpu") in (None, "none") else str(info["gpu"])
    return (
        f"{info.get('nproc')} vCPU ({info.get('cpu_model')}), {info.get('memory_gib')} GiB RAM, {gpu}; "
        f"Python {info.get('python')}; commit {info.get('commit')}; {info.get('date_utc')}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in info.get('loadavg_at_start', []))}"
    )


def command_line() -> str:
    """How this script was invoked, for the report."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (all held open together while choosing)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- servers ----------------------------------------------------------------------


class ServerError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


class ServerProcess:
    """A server run as a subprocess in its own session, with its output in a log file."""

    label = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.predict_url = ""

    # subclasses fill these in
    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its workers too
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, body: bytes, content_type: str, timeout: float = 180.0,
                   headers: Mapping[str, str] | None = None) -> float:
        """POST ``body`` to the model until it answers 2xx; return the seconds it took."""
        assert self.proc is not None
        t0 = time.monotonic()
        last = "no answer yet"
        hdrs = {"Content-Type": content_type, **(headers or {})}
        with httpx.Client(timeout=30.0) as client:
            while time.monotonic() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise ServerError(
                        f"{self.label} exited with code {self.proc.returncode} before it was ready; "
                        f"log {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    r = client.post(self.predict_url, content=body, headers=hdrs)
                    if r.is_success:
                        return time.monotonic() - t0
                    last = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}"
                time.sleep(0.25)
        raise ServerError(f"{self.label} not ready after {timeout:g}s ({last}); log {self.log_path}:\n{self.log_tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the server's process group, then SIGKILL what is left after ``grace`` seconds."""
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the pid of the process we started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        # Workers may outlive the launcher for a moment; make sure the whole group is gone.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        self.proc = None

    def pids(self) -> list[int]:
        """The pids in the server's process group (frontend first)."""
        if self.proc is None:
            return []
        out = _run_text(["ps", "-o", "pid=", "-g", str(self.proc.pid)]) or ""
        pids = [int(p) for p in out.split()]
        return sorted(pids, key=lambda p: (p != self.proc.pid, p))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def openmaker_executable() -> str:
    """The ``openmaker`` script next to this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "openmaker"
    if beside.exists():
        return str(beside)
    found = shutil.which("openmaker")
    if not found:
        raise SystemExit("cannot find the openmaker command; run with the Python of openmaker's venv")
    return found


class OpenmakerServer(ServerProcess):
    """``openmaker serve NAME=PATH`` with its own ``OPENMAKER_HOME`` and free ports."""

    def __init__(
        self,
        workdir: Path,
        model_name: str,
        model_path: Path,
        *,
        workers: int = 1,
        threads: int = 1,
        batch_size: int | None = None,
        max_batch_delay_ms: float | None = None,
        auth: bool = False,
        label: str = "openmaker",
        home: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.label = label
        self.model_name = model_name
        self.model_path = Path(model_path)
        self.workers, self.threads = workers, threads
        self.batch_size, self.max_batch_delay_ms = batch_size, max_batch_delay_ms
        self.auth = auth
        self.home = home or workdir / "home"
        self.inference_port, self.management_port, self.metrics_port = free_ports(3)
        self.predict_url = f"http://127.0.0.1:{self.inference_port}/predictions/{model_name}"
        self.management_url = f"http://127.0.0.1:{self.management_port}"

    def command(self) -> list[str]:
        cmd = [
            openmaker_executable(), "serve", f"{self.model_name}={self.model_path}",
            "--workers", str(self.workers), "--threads", str(self.threads),
            "--inference-port", str(self.inference_port),
            "--management-port", str(self.management_port),
            "--metrics-port", str(self.metrics_port),
            "--no-restore",
        ]  # fmt: skip
        if self.batch_size is not None:
            cmd += ["--batch-size", str(self.batch_size)]
        if self.max_batch_delay_ms is not None:
            cmd += ["--max-batch-delay", f"{self.max_batch_delay_ms:g}"]
        if not self.auth:
            cmd.append("--no-auth")
        return cmd

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Only OPENMAKER_HOME from us: any other OPENMAKER_* of the caller's shell would change the server.
        for key in [k for k in env if k.startswith("OPENMAKER_")]:
            del env[key]
        env["OPENMAKER_HOME"] = str(self.home)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def metric_sums(self, prefix: str = "openmaker_batch_size") -> dict[str, float]:
        """Sum over label sets of every ``<prefix>_sum`` / ``<prefix>_count`` sample at the metrics port."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        text = httpx.get(url, params=[("name[]", f"{prefix}_sum"), ("name[]", f"{prefix}_count")], timeout=10).text
        sums: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            key = name.removeprefix("openmaker_")
            sums[key] = sums.get(key, 0.0) + float(value)
        return sums

    def token(self) -> str | None:
        path = self.home / "management.token"
        return path.read_text().strip() if path.is_file() else None


# A TorchServe log4j2 configuration that keeps warnings and errors only: no
# access log, no per-request model log, no metrics log (TorchServe's default
# writes all of them, and debug-level frontend logs, for every request).
TS_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
  <Appenders>
    <File name="ts_log" fileName="${env:LOG_LOCATION:-logs}/ts_log.log">
      <PatternLayout pattern="%d{ISO8601} [%-5p] %t %c - %m%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="ACCESS_LOG" level="off"/>
    <Logger name="MODEL_METRICS" level="off"/>
    <Logger name="TS_METRICS" level="off"/>
    <Logger name="MODEL_LOG" level="warn"><AppenderRef ref="ts_log"/></Logger>
    <Logger name="io.netty" level="error"/>
    <Logger name="org.apache" level="off"/>
    <Logger name="org.pytorch.serve" level="warn" additivity="false"><AppenderRef ref="ts_log"/></Logger>
    <Root level="warn"><AppenderRef ref="ts_log"/></Root>
  </Loggers>
</Configuration>
"""

# The handler of the TorchServe no-op model: one small JSON answer per request of the batch.
TS_NOOP_HANDLER = '''"""A TorchServe model that does nothing: the server's own overhead."""


def handle(data, context):
    if data is None:  # TorchServe may call the entry point once at load time
        return None
    return ['{"ok": true}'] * len(data)
'''


class TorchServeServer(ServerProcess):
    """TorchServe from its own venv, with every file it writes under ``workdir``.

    ``--ncs`` (no config snapshots), ``--disable-token-auth``, its own ports,
    ``default_workers_per_model``, Prometheus metrics mode without system
    metrics, async logging and the quiet log4j2 configuration above.
    """

    def __init__(self, workdir: Path, venv: Path, model_store: Path, model_name: str, *,
                 workers: int = 1, label: str = "torchserve") -> None:
        super().__init__(workdir)
        self.label = label
        self.venv = Path(venv)
        self.model_store = Path(model_store)
        self.model_name = model_name
        self.workers = workers
        self.inference_port, self.management_port, self.metrics_port = free_ports(3)
        self.predict_url = f"http://127.0.0.1:{self.inference_port}/predictions/{model_name}"
        self.config_path = workdir / "config.properties"
        self.log4j_path = workdir / "log4j2.xml"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.config_path.write_text(
            "\n".join(
                [
                    f"inference_address=http://127.0.0.1:{self.inference_port}",
                    f"management_address=http://127.0.0.1:{self.management_port}",
                    f"metrics_address=http://127.0.0.1:{self.metrics_port}",
                    "disable_token_authorization=true",
                    f"default_workers_per_model={self.workers}",
                    f"model_store={self.model_store}",
                    "metrics_mode=prometheus",
                    "disable_system_metrics=true",
                    "async_logging=true",
                    "enable_envvars_config=false",
                    "",
                ]
            )
        )
        self.log4j_path.write_text(TS_LOG4J2)

    def command(self) -> list[str]:
        return [
            str(self.venv / "bin" / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
            "--ts-config", str(self.config_path), "--log-config", str(self.log4j_path),
            "--model-store", str(self.model_store), "--models", f"{self.model_name}={self.model_name}.mar",
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TS_", "OPENMAKER_"))}
        # The launcher's pid file (tempfile.gettempdir()), the JVM's java.io.tmpdir (TEMP) and
        # with it the workers' Unix sockets, and the logs: all inside workdir, so that this
        # instance neither sees nor disturbs another TorchServe on the machine.
        env.update(TMPDIR=str(self.workdir), TEMP=str(self.workdir),
                   LOG_LOCATION=str(self.workdir / "logs"), METRICS_LOCATION=str(self.workdir / "logs"))
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("VIRTUAL_ENV", None)
        return env

    def start(self) -> None:
        self.write_config()
        super().start()

    def log_tail(self, lines: int = 40) -> str:
        own = super().log_tail(lines)
        ts_log = self.workdir / "logs" / "ts_log.log"
        if ts_log.is_file():
            own += "\n--- logs/ts_log.log ---\n" + "\n".join(ts_log.read_text(errors="replace").splitlines()[-lines:])
        return own


def check_torchserve_venv(venv: Path) -> None:
    """Fail with the install recipe when ``venv`` has no TorchServe or no Java is around."""
    missing = [name for name in ("torchserve", "torch-model-archiver", "python") if not (venv / "bin" / name).exists()]
    if missing:
        raise SystemExit(
            f"no TorchServe in {venv} (missing {', '.join(missing)}). Create it with:\n  {TS_INSTALL}"
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SystemExit("TorchServe needs Java 11+ (java on PATH or JAVA_HOME)")
    # torchserve 0.12's worker imports yaml, which the wheel does not declare: without it every
    # worker dies at start and TorchServe retries forever.
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import ts, yaml, torch"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"the TorchServe venv {venv} cannot import ts, yaml and torch:\n"
                         f"{check.stderr.strip().splitlines()[-1] if check.stderr.strip() else ''}\n"
                         f"Create it with:\n  {TS_INSTALL}")


TS_INSTALL = (
    "python3 -m venv /tmp/tsvenv && /tmp/tsvenv/bin/pip install torch==2.13.0 && "
    "/tmp/tsvenv/bin/pip install -c constraints.txt torchserve==0.12.0 torch-model-archiver==0.12.0 "
    "pyyaml numpy"
)


def build_torchserve_noop_mar(venv: Path, export_dir: Path, model_name: str = "noop") -> Path:
    """``torch-model-archiver`` a no-op handler into ``export_dir/<model_name>.mar``."""
    export_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ts-noop-") as src:
        handler = Path(src) / "noop_handler.py"
        handler.write_text(TS_NOOP_HANDLER)
        cmd = [
            str(venv / "bin" / "torch-model-archiver"), "--model-name", model_name, "--version", "1.0",
            "--handler", str(handler), "--export-path", str(export_dir), "--force",
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"torch-model-archiver failed:\n{out.stdout}\n{out.stderr}")
    return export_dir / f"{model_name}.mar"


@contextlib.contextmanager
def running(servers: Sequence[ServerProcess], body: bytes, content_type: str, ready_timeout: float = 240.0,
            headers: Mapping[str, str] | None = None) -> Iterator[Sequence[ServerProcess]]:
    """Start every server, wait until each answers, stop them all at the end (also on errors)."""
    try:
        for server in servers:
            log(f"starting {server.label}: {shlex.join(server.command())}")
            server.start()
        for server in servers:
            took = server.wait_ready(body, content_type, ready_timeout, headers=headers)
            log(f"{server.label} ready after {took:.1f}s at {server.predict_url}")
        yield servers
    finally:
        for server in servers:
            server.stop()


# -- load, rounds and statistics -----------------------------------------------


@dataclass
class LoadSpec:
    body: bytes
    content_type: str
    concurrency: int = 16
    duration: float = 10.0
    warmup_requests: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    def run(self, url: str, duration: float | None = None, warmup: int | None = None) -> LoadResult:
        return run_load(
            url,
            body=self.body,
            content_type=self.content_type,
            headers=self.headers,
            concurrency=self.concurrency,
            duration=duration if duration is not None else self.duration,
            warmup=self.warmup_requests if warmup is None else warmup,
            progress=False,
            timeout=self.timeout,
        )


def warm_up(servers: Sequence[ServerProcess], spec: LoadSpec, seconds: float) -> None:
    """An unmeasured stretch of the same load on each server (JIT, caches, thread pools)."""
    if seconds <= 0:
        return
    for server in servers:
        result = spec.run(server.predict_url, duration=seconds, warmup=0)
        log(f"warm-up {server.label}: {result.throughput:,.1f} req/s over {seconds:g}s (not recorded)")


def run_rounds(
    servers: Sequence[ServerProcess],
    spec: LoadSpec,
    rounds: int,
    on_result: Callable[[int, ServerProcess, LoadResult], None] | None = None,
    counters: Callable[[ServerProcess], Mapping[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Load each server in turn, ``rounds`` times; the order alternates (A B, B A, ...).

    Reversing the order every other round spreads slow drifts of a shared
    machine (another job starting, thermal state) evenly over the servers.
    ``counters(server)``, when given, reads cumulative server-side counters;
    their increase over each run (warm-up included) is recorded with it.
    Returns one record per run: round, position, server label and the LoadResult dict.
    """
    records = []
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for position, server in enumerate(order):
            before = counters(server) if counters else {}
            result = spec.run(server.predict_url)
            after = counters(server) if counters else {}
            deltas = {f"server_{k}": after[k] - before.get(k, 0.0) for k in after}
            records.append({"round": r + 1, "position": position, "server": server.label,
                            "loadavg_1m": os.getloadavg()[0], **result.as_dict(), **deltas})
            log(
                f"round {r + 1}/{rounds} {server.label:>24}: {result.throughput:9,.1f} req/s  "
                f"p50 {_ms(result.p50_ms)}  p99 {_ms(result.p99_ms)}  errors {result.errors}"
            )
            if on_result is not None:
                on_result(r, server, result)
    return records


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:7.2f} ms"


def median(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def summarise(records: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per server: medians (and min/max) of throughput and latency percentiles over the rounds."""
    out = {}
    for label in labels:
        runs = [r for r in records if r["server"] == label]
        thr = [r["throughput"] for r in runs]
        out[label] = {
            "rounds": len(runs),
            "throughput_median": median(thr),
            "throughput_min": min(thr) if thr else None,
            "throughput_max": max(thr) if thr else None,
            "p50_ms_median": median([r["p50_ms"] for r in runs]),
            "p90_ms_median": median([r["p90_ms"] for r in runs]),
            "p99_ms_median": median([r["p99_ms"] for r in runs]),
            "errors_total": sum(r["errors"] for r in runs),
            "requests_total": sum(r["requests"] for r in runs),
        }
    return out


def paired_ratios(records: Sequence[Mapping[str, Any]], numerator: str, denominator: str,
                  key: str = "throughput") -> list[float]:
    """``key`` of ``numerator`` over ``denominator``, round by round (runs of the same round are adjacent)."""
    by_round: dict[int, dict[str, float]] = {}
    for r in records:
        by_round.setdefault(r["round"], {})[r["server"]] = r[key]
    ratios = []
    for values in by_round.values():
        a, b = values.get(numerator), values.get(denominator)
        if a is not None and b:
            ratios.append(a / b)
    return ratios


# -- reports -----------------------------------------------------------------------


def fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "n/a"
    if kind == "rps":
        return f"{value:,.1f}"
    if kind == "ms":
        return f"{value:.2f}"
    if kind == "x":
        return f"{value:.2f}x"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rounds_table(records: Sequence[Mapping[str, Any]]) -> str:
    with_batch = any(r.get("mean_batch") is not None for r in records)
    rows = []
    for r in records:
        row = [r["round"], r["server"], fmt(r["throughput"], "rps"), fmt(r["p50_ms"], "ms"), fmt(r["p90_ms"], "ms"),
               fmt(r["p99_ms"], "ms"), r["errors"], f"{r['loadavg_1m']:.2f}"]
        if with_batch:
            row.append("n/a" if r.get("mean_batch") is None else f"{r['mean_batch']:.1f}")
        rows.append(row)
    header = ["Round", "Server", "Throughput (req/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "Errors", "Load avg (1 min)"]
    if with_batch:
        header.append("Mean batch")
    return markdown_table(header, rows, "rl" + "r" * (len(header) - 2))


def write_results(name: str, payload: Mapping[str, Any], markdown: str, out_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.json`` and ``<name>.md``; print the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown)
    print(markdown)
    log(f"wrote {json_path} and {md_path}")
    return json_path, md_path


@contextlib.contextmanager
def workspace(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A short temporary directory (Unix socket paths must stay under ~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        if keep:
            log(f"kept the work directory {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def kitten_zoo():
    """``(build_efficientnet_lite0, kitten_jpeg)``, or exit with how to install them."""
    try:
        from openmaker.serving.zoo import build_efficientnet_lite0, kitten_jpeg
    except ImportError as exc:
        raise SystemExit(f"{exc}; install openmaker with the 'kitten' extra") from None
    return build_efficientnet_lite0, kitten_jpeg
