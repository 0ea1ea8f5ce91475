#!/usr/bin/env python3
"""Throughput of `serve` against a bare handler serving the same bytes.

    python3 benches/load_compare.py [--duration 10] [--connections 32] [--rounds 3]
                                    [--busy-us 2,5,10]

Builds the release `serve` and its `bare_hosting` example, starts four servers on
loopback (serve on axum, serve on warp, a bare axum handler and a bare warp
filter), checks that all four answer GET /api/v1/hostings/{id} with the same
JSON bytes, then loads each with wrk (one thread, keep-alive) in turn, round
after round, so that drift of the machine hits every server alike. Prints
requests per second and p50/p99 latency (median over the rounds) and the
ratio of serve to the bare handler of the same framework. With --busy-us,
bare axum handlers that spin that long per request are loaded too: they show
what a microsecond of handler work costs in throughput on this machine.

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

from servers import HOST, build, get, start, start_serve, stop

PORTS = {"serve axum": 18801, "serve warp": 18802, "bare axum": 18803, "bare warp": 18804}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


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
    parser.add_argument("--busy-us", default="",
                        help="comma-separated microseconds: also load a bare axum handler that "
                             "spins that long per request, to calibrate what a microsecond of "
                             "handler work costs in throughput here")
    args = parser.parse_args()
    busy_us = {"bare axum": 0, "bare warp": 0}
    for index, us in enumerate(int(us) for us in args.busy_us.split(",") if us.strip()):
        name = f"bare axum +{us} us busy"
        PORTS[name] = 18805 + index
        busy_us[name] = us
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    build("serve", "bare_hosting")

    processes = []
    work = tempfile.mkdtemp(prefix="hyperion-load-")
    try:
        keys = {}
        for name in ("serve axum", "serve warp"):
            adapter = name.split()[1]
            process, keys[name] = start_serve(
                PORTS[name], os.path.join(work, f"key-{adapter}"), "--adapter", adapter)
            processes.append(process)
        # Same seed, same simulated cluster: the first hosting is the same on both.
        first = json.loads(get(PORTS["serve axum"], "/api/v1/hostings?limit=1", keys["serve axum"]))
        path = f"/api/v1/hostings/{first['items'][0]['id']}"
        body = get(PORTS["serve axum"], path, keys["serve axum"])
        body_file = os.path.join(work, "detail.json")
        with open(body_file, "wb") as f:
            f.write(body)
        for name, us in busy_us.items():
            processes.append(start("bare_hosting", PORTS[name], "--framework", name.split()[1],
                                   "--body", body_file, "--busy-us", str(us)))
        for name in PORTS:
            # Bare handlers ignore the key; it is sent so that requests are alike.
            keys.setdefault(name, keys["serve axum"])
        for name, port in PORTS.items():
            if get(port, path, keys[name]) != body:
                sys.exit(f"{name} does not answer {path} with the same bytes")
        print(f"GET {path}: {len(body)} bytes of JSON from all {len(PORTS)} servers")

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
        stop(processes)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
