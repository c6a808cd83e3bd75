"""Load test of `POST /v1/extract` over loopback, next to the in-process call in the same run.

Starts `eligo serve` in a second process (uvicorn on a free loopback port, one worker, an API
key set), then sends ACI-Bench notes (`note` column) at each concurrency level with an httpx
async client, bounded by a request count and a time budget per level. Reports p50/p95/p99
latency, requests/s, characters/s and errors per level; and, measured in this process on the
same notes while the server idles, the in-process call (`nlp(text)`, `to_entities`, JSON
encoding): the HTTP overhead ratio is HTTP latency at concurrency 1 over that call. Two more
in-process rows say whether concurrency can pay on this machine: the same notes from 8
threads at once (do calls overlap, or serialise on the GIL?) and `nlp.pipe` in batches of
8 (what micro-batching concurrent requests could gain). The `cores` column is CPU seconds per
wall second (for HTTP rows, the server process's, from /proc): about 1.0 means one core at a
time, whatever the concurrency. Every measurement runs `--rounds` times, alternating, and
keeps its best round (a round with errors is always the one shown).

    .venv/bin/python benchmarks/load_test.py [--model default|none] [--levels 1,8,32]
        [--requests 200] [--seconds 40] [--rounds 2] [--data DIR]

Exit status 1 when any request failed at any level (the target is zero errors at 32). The
client shares the machine with the server: on two cores its own CPU use lowers the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ACI, aci_notes

#: Amazon Comprehend Medical's default DetectEntitiesV2 quota, for reference (characters/s).
COMPREHEND_MEDICAL_CHARS_PER_S = 40_000


@dataclass
class Level:
    """What one concurrency level measured."""

    concurrency: int
    latencies: list[float] = field(default_factory=list)
    chars: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    server_cpu_s: float = 0.0  # CPU seconds the server process used during the level

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(model: str, port: int, key: str, log: Path) -> subprocess.Popen[bytes]:
    """`eligo serve` on loopback, its JSON logs to `log`."""
    eligo = Path(sys.executable).with_name("eligo")
    command = [str(eligo)] if eligo.exists() else [sys.executable, "-m", "eligo.serving.cli"]
    env = {**os.environ, "ELIGO_MODEL": model, "ELIGO_API_KEYS": key}
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, server: subprocess.Popen[bytes], seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"eligo serve exited with status {server.returncode}")
        try:
            response = httpx.get(f"{base}/ready", timeout=2)
            if response.status_code == 200:
                ready: dict[str, Any] = response.json()
                return ready
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"eligo serve was not ready after {seconds:.0f} s")


async def run_level(
    base: str,
    key: str,
    notes: list[str],
    concurrency: int,
    requests: int,
    seconds: float,
    *,
    server_pid: int,
) -> Level:
    """`concurrency` workers send notes (cycling) until `requests` are sent or time is up."""
    level = Level(concurrency)
    cpu_before = cpu_seconds(server_pid)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"X-API-Key": key}
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def worker() -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() < deadline:
                text = notes[sent % len(notes)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        "/v1/extract", json={"text": text}, headers=headers
                    )
                except httpx.HTTPError as err:
                    name = type(err).__name__
                    level.errors[name] = level.errors.get(name, 0) + 1
                    continue
                elapsed = time.perf_counter() - t0
                if response.status_code != 200:
                    name = f"HTTP {response.status_code}"
                    level.errors[name] = level.errors.get(name, 0) + 1
                    continue
                level.latencies.append(elapsed)
                level.chars += len(text)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.seconds = time.perf_counter() - started
    level.server_cpu_s = cpu_seconds(server_pid) - cpu_before
    return level


def in_process(model: str, notes: list[str], rounds: int) -> dict[str, Any]:
    """Per-note seconds of the call the endpoint makes, here, sequentially; then the same
    notes from 8 threads, and through `nlp.pipe` in batches of 8. The three alternate for
    `rounds` rounds and each keeps its best round, so a burst of other work on the machine
    does not land on one of them only."""
    import eligo.nlp
    from eligo.nlp import to_entities

    nlp = eligo.nlp.load(model=None if model == "none" else model)

    def call(text: str) -> bytes:
        doc = nlp(text)
        return json.dumps([e.to_json() for e in to_entities(doc)]).encode()

    for text in notes[:8]:  # first-call initialisation is not part of the call
        call(text)

    def piped(texts: list[str]) -> None:
        for doc in nlp.pipe(texts, batch_size=8):
            json.dumps([e.to_json() for e in to_entities(doc)])

    def threaded(texts: list[str]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(call, texts))

    best: dict[str, Any] = {}
    for _ in range(rounds):
        times = []
        cpu0 = time.process_time()
        for text in notes:
            t0 = time.perf_counter()
            call(text)
            times.append(time.perf_counter() - t0)
        if sum(times) < best.get("sequential_s", float("inf")):
            best["sequential_s"], best["times"] = sum(times), times
            best["sequential_cpu_s"] = time.process_time() - cpu0
        for name, run in (("threaded", threaded), ("piped", piped)):
            t0, cpu0 = time.perf_counter(), time.process_time()
            run(notes)
            wall = time.perf_counter() - t0
            if wall < best.get(f"{name}_s", float("inf")):
                best[f"{name}_s"], best[f"{name}_cpu_s"] = wall, time.process_time() - cpu0
    best["chars"] = sum(len(text) for text in notes)
    best["notes"] = len(notes)
    return best


def report(levels: list[Level], local: dict[str, Any], ready: dict[str, Any]) -> None:
    times = local["times"]
    call_p50 = statistics.median(times)
    print(f"\npipeline: {', '.join(ready.get('pipeline', []))}")
    print(
        f"\n{'level':<22}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'req/s':>8}{'chars/s':>10}{'p50/in-proc':>13}{'cores':>7}"
    )
    n = local["notes"]
    seq = local["sequential_s"]
    print(
        f"{'in-process, 1 thread':<22}{n:>9}{0:>8}{call_p50 * 1000:>9.1f}"
        f"{percentile(times, 95) * 1000:>9.1f}{percentile(times, 99) * 1000:>9.1f}"
        f"{n / seq:>8.1f}{local['chars'] / seq:>10,.0f}{1.0:>13.2f}"
        f"{local['sequential_cpu_s'] / seq:>7.2f}"
    )
    for name, key in (("in-process, 8 threads", "threaded"), ("in-process, pipe(8)", "piped")):
        wall = local[f"{key}_s"]
        print(
            f"{name:<22}{n:>9}{0:>8}{'':>9}{'':>9}{'':>9}"
            f"{n / wall:>8.1f}{local['chars'] / wall:>10,.0f}{'':>13}"
            f"{local[f'{key}_cpu_s'] / wall:>7.2f}"
        )
    for level in levels:
        lat = level.latencies
        errors = sum(level.errors.values())
        ratio = percentile(lat, 50) / call_p50 if lat else float("nan")
        print(
            f"{'HTTP, concurrency ' + str(level.concurrency):<22}{level.requests:>9}{errors:>8}"
            f"{percentile(lat, 50) * 1000:>9.1f}{percentile(lat, 95) * 1000:>9.1f}"
            f"{percentile(lat, 99) * 1000:>9.1f}{len(lat) / level.seconds:>8.1f}"
            f"{level.chars / level.seconds:>10,.0f}{ratio:>13.2f}"
            f"{level.server_cpu_s / level.seconds:>7.2f}"
        )
        if level.errors:
            print(f"    errors: {level.errors}")
    best = max(levels, key=lambda lv: lv.chars / lv.seconds)
    print(
        f"\nbest HTTP throughput: {best.chars / best.seconds:,.0f} characters/s at concurrency "
        f"{best.concurrency} ({best.chars / best.seconds / COMPREHEND_MEDICAL_CHARS_PER_S:.2f}x "
        f"Amazon Comprehend Medical's default quota of {COMPREHEND_MEDICAL_CHARS_PER_S:,}/s)"
    )
    print(
        f"in-process: 8 threads {local['sequential_s'] / local['threaded_s']:.2f}x and "
        f"nlp.pipe(batch 8) {local['sequential_s'] / local['piped_s']:.2f}x the sequential rate"
    )
    print(
        "cores: CPU seconds per wall second (the server process's for HTTP rows); about 1.0 "
        "under load means the work ran one core at a time"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ACI, help="ACI-Bench challenge_data folder")
    parser.add_argument("--model", default="default", help="ELIGO_MODEL: default | none")
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels")
    parser.add_argument("--requests", type=int, default=200, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=40, help="most seconds per level")
    parser.add_argument("--notes", type=int, default=100, help="distinct notes to cycle through")
    parser.add_argument(
        "--local-notes", type=int, default=40, help="notes for the in-process measurements"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of every measurement; the best is kept"
    )
    args = parser.parse_args()
    levels = [int(part) for part in args.levels.split(",")]
    notes = aci_notes(args.data)[: args.notes]
    print(
        f"{len(notes)} ACI-Bench notes, {statistics.mean(len(t) for t in notes):,.0f} chars "
        f"on average; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )

    key = secrets.token_urlsafe(16)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        server = start_server(args.model, port, key, log)
        try:
            t0 = time.perf_counter()
            try:
                ready = wait_ready(base, server)
            except SystemExit:
                print("server log tail:\n" + "\n".join(log.read_text().splitlines()[-20:]))
                raise
            print(f"eligo serve ready in {time.perf_counter() - t0:.1f} s (port {port})")
            # the server idles meanwhile
            local = in_process(args.model, notes[: args.local_notes], args.rounds)
            pid = server.pid
            asyncio.run(run_level(base, key, notes[:8], 1, 8, 60, server_pid=pid))  # warm-up
            rounds: dict[int, list[Level]] = {c: [] for c in levels}
            for _ in range(args.rounds):  # levels alternate, so noise spreads over all of them
                for concurrency in levels:
                    rounds[concurrency].append(
                        asyncio.run(
                            run_level(
                                base,
                                key,
                                notes,
                                concurrency,
                                args.requests,
                                args.seconds,
                                server_pid=pid,
                            )
                        )
                    )
            # each level's best round; but a round with errors is the one shown
            results = [
                next((lv for lv in rounds[c] if lv.errors), None)
                or max(rounds[c], key=lambda lv: lv.chars / lv.seconds)
                for c in levels
            ]
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if any(level.errors for level in results):
            print("server log tail:\n" + "\n".join(log.read_text().splitlines()[-20:]))
    report(results, local, ready)
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other work shares these cores)")
    return 1 if any(level.errors for level in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
