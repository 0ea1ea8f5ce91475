#!/usr/bin/env python3
"""Throughput of `serve` against a bare handler serving the same bytes.

    python3 benches/load_compare.py [--duration 10] [--connections 32] [--rounds 3]

Builds the release `serve` and `bare_hosting` examples, starts four servers on
loopback (serve on axum, serve on warp, a bare axum handler and a bare warp
filter), checks that all four answer GET /api/v1/hostings/{id} with the same
JSON bytes, then loads each with wrk (one thread, keep-alive) in turn, round
after round, so that drift of the machine hits every server alike. Prints
requests per second and p50/p99 latency (median over the rounds) and the
ratio of serve to the bare handler of the same framework.

Needs wrk (Debian: `apt-get install wrk`).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "target", "release", "examples")
HOST = "127.0.0.1"
PORTS = {"serve axum": 18801, "serve warp": 18802, "bare axum": 18803, "bare warp": 18804}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def get(port, path, key=None):
    request = urllib.request.Request(f"http://{HOST}:{port}{path}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def wait_until_up(port, process):
    for _ in range(200):
        if process.poll() is not None:
            sys.exit(f"the server for port {port} exited with {process.returncode}")
        try:
            get(port, "/api/v1/openapi.json")
            return
        except urllib.error.HTTPError:
            return  # answering, even if not that path
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def run_wrk(args, url, key):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
         "-H", f"Authorization: Bearer {key}", url],
        check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors against {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        latency[pct] = float(value) * UNITS[unit]
    return rps, latency["50"], latency["99"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    subprocess.run(["cargo", "build", "--release", "--example", "serve",
                    "--example", "bare_hosting"], cwd=ROOT, check=True)

    processes = []
    work = tempfile.mkdtemp(prefix="hyperion-load-")
    try:
        keys = {}
        for name in ("serve axum", "serve warp"):
            adapter = name.split()[1]
            key_file = os.path.join(work, f"key-{adapter}")
            process = subprocess.Popen(
                [os.path.join(EXAMPLES, "serve"), "--adapter", adapter,
                 "--addr", f"{HOST}:{PORTS[name]}", "--key-file", key_file],
                stdout=subprocess.DEVNULL)
            processes.append(process)
            wait_until_up(PORTS[name], process)
            with open(key_file) as f:
                keys[name] = f.read().strip()
        # Same seed, same simulated cluster: the first hosting is the same on both.
        first = json.loads(get(PORTS["serve axum"], "/api/v1/hostings?limit=1", keys["serve axum"]))
        path = f"/api/v1/hostings/{first['items'][0]['id']}"
        body = get(PORTS["serve axum"], path, keys["serve axum"])
        body_file = os.path.join(work, "detail.json")
        with open(body_file, "wb") as f:
            f.write(body)
        for name in ("bare axum", "bare warp"):
            process = subprocess.Popen(
                [os.path.join(EXAMPLES, "bare_hosting"), "--framework", name.split()[1],
                 "--addr", f"{HOST}:{PORTS[name]}", "--body", body_file],
                stdout=subprocess.DEVNULL)
            processes.append(process)
            wait_until_up(PORTS[name], process)
            keys[name] = keys["serve axum"]  # sent, and ignored, so requests are alike
        for name, port in PORTS.items():
            if get(port, path, keys[name]) != body:
                sys.exit(f"{name} does not answer {path} with the same bytes")
        print(f"GET {path}: {len(body)} bytes of JSON from all four servers")

        results = {name: [] for name in PORTS}
        for round_no in range(1, args.rounds + 1):
            for name, port in PORTS.items():
                figures = run_wrk(args, f"http://{HOST}:{port}{path}", keys[name])
                results[name].append(figures)
                print(f"round {round_no} {name}: {figures[0]:.0f} req/s, "
                      f"p50 {figures[1]:.3f} ms, p99 {figures[2]:.3f} ms", flush=True)

        median = {name: tuple(statistics.median(run[i] for run in runs) for i in range(3))
                  for name, runs in results.items()}
        print()
        print(f"wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds")
        print()
        print("| server | req/s | p50 ms | p99 ms | req/s vs bare | p50 vs bare | p99 vs bare |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name in PORTS:
            rps, p50, p99 = median[name]
            bare = median["bare " + name.split()[1]]
            print(f"| {name} | {rps:.0f} | {p50:.3f} | {p99:.3f} | {rps / bare[0]:.2f}x "
                  f"| {p50 / bare[1]:.2f}x | {p99 / bare[2]:.2f}x |")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
