"""What the AWS-compatible front end costs: InvokeEndpoint through it versus the inference API directly.

One ``openmaker serve --aws`` process serves a model that does nothing (``examples/noop``, one worker).
One client on the same machine sends requests one after another (closed loop) by three paths,
in alternating rounds (A B C, C B A, ...):

- ``direct``: ``POST /predictions/noop`` on the inference port (httpx, keep-alive);
- ``aws-raw``: ``POST /endpoints/noop/invocations`` on the AWS port, signed with SigV4 beforehand
  (botocore's signer, outside the timing), sent with httpx: the front end's own cost, SigV4
  verification, key lookup, validation against botocore's model and REST-JSON decoding;
- ``boto3``: ``invoke_endpoint`` with a boto3 client: what a user's script sees, the SDK's own
  serialisation, signing and parsing included.

It reports the median latency per path over the rounds, and the ratios to ``direct``. It also times
the server-side steps alone in this process: SigV4 verification, and request validation.

    .venv/bin/python benchmarks/aws/overhead.py            # about 1 minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import httpx
from rich.progress import Progress

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
BODY = b'{"x": 1}'


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def openmaker(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openmaker.cli", *args], env=env, capture_output=True, text=True, check=True)


def start_server(home: Path) -> tuple[subprocess.Popen, dict[str, str], dict[str, str]]:
    env = {**os.environ, "OPENMAKER_HOME": str(home)}
    created = openmaker("keys", "create", "benchmark", env=env).stdout
    key = dict(line.split(" = ") for line in created.splitlines() if " = " in line)
    inference, management, metrics, aws = free_ports(4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "openmaker.cli", "serve", f"noop={REPO / 'examples' / 'noop'}", "--no-restore",
         "--inference-port", str(inference), "--management-port", str(management), "--metrics-port", str(metrics),
         "--aws", "--aws-port", str(aws)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    urls = {"inference": f"http://127.0.0.1:{inference}", "aws": f"http://127.0.0.1:{aws}"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(urls["inference"] + "/ping", timeout=1).status_code == 200 and httpx.get(urls["aws"] + "/ping").status_code == 200:
                return proc, urls, key
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not come up in 120 s")


def signed(url: str, key: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=url, data=BODY, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key["aws_access_key_id"], key["aws_secret_access_key"]), "sagemaker", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return prepared.url, BODY, dict(prepared.headers)


def paths(urls: dict[str, str], key: dict[str, str]):
    import boto3
    from botocore.config import Config

    client = httpx.Client(timeout=30)
    runtime = boto3.client(
        "sagemaker-runtime", endpoint_url=urls["aws"], region_name="us-east-1",
        aws_access_key_id=key["aws_access_key_id"], aws_secret_access_key=key["aws_secret_access_key"],
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    direct_url = urls["inference"] + "/predictions/noop"

    def direct() -> float:
        start = time.perf_counter()
        client.post(direct_url, content=BODY, headers={"Content-Type": "application/json"}).raise_for_status()
        return time.perf_counter() - start

    def aws_raw() -> float:
        url, body, headers = signed(urls["aws"] + "/endpoints/noop/invocations", key)  # signing is not timed
        start = time.perf_counter()
        client.post(url, content=body, headers=headers).raise_for_status()
        return time.perf_counter() - start

    def boto3_call() -> float:
        start = time.perf_counter()
        runtime.invoke_endpoint(EndpointName="noop", ContentType="application/json", Body=BODY)["Body"].read()
        return time.perf_counter() - start

    return {"direct": direct, "aws-raw": aws_raw, "boto3": boto3_call}


def server_side_steps(key: dict[str, str]) -> dict[str, float]:
    """Microseconds per call of the front end's checks, in this process."""
    from openmaker.awsapi import sigv4
    from openmaker.awsapi.shapes import validate_input

    url, body, headers = signed("http://127.0.0.1:4566/endpoints/noop/invocations", key)
    lower = {k.lower(): [v] for k, v in headers.items()}
    lower.setdefault("host", ["127.0.0.1:4566"])  # the HTTP client adds it when sending
    auth = sigv4.parse_authorization(headers["Authorization"])
    note = {"Text": "Admitted with gastrointestinal hemorrhage; h/o afib. Warfarin 5 mg tablet by mouth daily."}

    def verify() -> None:
        sigv4.verify(auth, key["aws_secret_access_key"], method="POST", raw_path="/endpoints/noop/invocations",
                     query="", headers=lower, body=body)  # fmt: skip

    validate_input("comprehendmedical", "DetectEntitiesV2", note)  # load the model once
    out = {}
    for name, fn in {
        "sigv4_verify_us": verify,
        "validate_invoke_endpoint_us": lambda: validate_input("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "noop", "Body": BODY}),
        "validate_detect_entities_v2_us": lambda: validate_input("comprehendmedical", "DetectEntitiesV2", note),
    }.items():
        runs = timeit.repeat(fn, number=2000, repeat=5)
        out[name] = round(min(runs) / 2000 * 1e6, 1)
    return out


def plot(samples: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(samples)
    ax.boxplot([[s * 1000 for s in samples[n]] for n in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_ylabel("latency per request (ms)")
    ax.set_title("InvokeEndpoint on a no-op model: direct vs the AWS front end")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per path per round (default 300)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="openmaker-aws-bench-") as tmp:
        proc, urls, key = start_server(Path(tmp))
        try:
            calls = paths(urls, key)
            for fn in calls.values():  # warm up: connections, the worker, botocore's loaders
                for _ in range(50):
                    fn()
            per_round: dict[str, list[float]] = {name: [] for name in calls}
            samples: dict[str, list[float]] = {name: [] for name in calls}
            order = list(calls)
            with Progress(transient=True) as progress:
                task = progress.add_task("rounds", total=args.rounds * len(order))
                for r in range(args.rounds):
                    for name in order if r % 2 == 0 else reversed(order):
                        times = [calls[name]() for _ in range(args.requests)]
                        samples[name] += times
                        per_round[name].append(statistics.median(times))
                        progress.advance(task)
            steps = server_side_steps(key)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)

    medians = {name: statistics.median(values) * 1000 for name, values in per_round.items()}
    p90 = {name: statistics.quantiles(values, n=10)[-1] * 1000 for name, values in samples.items()}
    ratios = {
        name: statistics.median(a / d for a, d in zip(per_round[name], per_round["direct"])) for name in per_round
    }
    result = {
        "command": "python benchmarks/aws/overhead.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "requests_per_path_per_round": args.requests, "rounds": args.rounds,
        "median_ms": {k: round(v, 3) for k, v in medians.items()},
        "p90_ms": {k: round(v, 3) for k, v in p90.items()},
        "ratio_to_direct": {k: round(v, 2) for k, v in ratios.items()},
        "server_side_steps": steps,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(samples, RESULTS / "overhead.png")
    lines = ["| path | median (ms) | p90 (ms) | median ratio to direct |", "|---|---|---|---|"]
    for name in per_round:
        lines.append(f"| {name} | {medians[name]:.2f} | {p90[name]:.2f} | {ratios[name]:.2f} |")
    lines.append("")
    lines.append(", ".join(f"{k}: {v} µs" for k, v in steps.items()))
    (RESULTS / "overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
