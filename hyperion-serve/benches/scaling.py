#!/usr/bin/env python3
"""Scaling runs of `serve` on simulated clusters (issue "Performance at scale").

    python3 benches/scaling.py [--requests 1000]

(a) 32 nodes, 20 ms per node call: cold and warm lookup of hostings on the
    last node, and a list page, as multiples of one node's latency.
(b) 20 nodes, no simulated latency, 2,000 vs 200,000 hostings served at
    once and asked in turn: the client's p50/p99 of list pages and details,
    the server's CPU time per request, and the ratios of the two sizes.
(c) peak RSS (VmHWM) of serve with each cluster size.

Every request goes over one keep-alive connection and is timed by the client
(perf_counter around request and full read), so latencies include the
client; the CPU figures are the server's alone.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from servers import HOST, build, start_serve, stop

PORT = 18811


class Client:
    """One keep-alive connection with the admin key."""

    def __init__(self, key, port=PORT):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}"}

    def timed(self, path):
        """(seconds, parsed JSON body) of one GET; exits on a non-200."""
        started = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            sys.exit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)


def cpu_seconds(process):
    """CPU time the server's threads have run so far, to the nanosecond
    (the sum of /proc/PID/task/*/schedstat)."""
    total = 0
    task_dir = f"/proc/{process.pid}/task"
    for task in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return total / 1e9


def peak_rss_mb(process):
    with open(f"/proc/{process.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fan_out(work):
    """(a): 32 nodes at 20 ms."""
    latency_ms, nodes = 20, 32
    process, key = start_serve(PORT, os.path.join(work, "key-a"), "--nodes", str(nodes),
                               "--hostings", str(nodes * 10),
                               "--node-latency-ms", str(latency_ms))
    try:
        client = Client(key)
        no_node_call = statistics.median(client.timed("/api/v1/me")[0] for _ in range(50)) * 1e3
        # Hostings number n sit on node ((n - 1) % 32) + 1: these are node-32's.
        last_node = [f"/api/v1/hostings/site-{n:04}.example.test"
                     for n in range(nodes, nodes * 10 + 1, nodes)]
        cold = [client.timed(path)[0] * 1e3 for path in last_node]  # locator empty
        warm = [client.timed(path)[0] * 1e3 for path in last_node]  # learned above
        page = [client.timed("/api/v1/hostings?limit=50")[0] * 1e3 for _ in range(10)]
    finally:
        stop([process])
    print(f"## (a) {nodes} nodes, {latency_ms} ms per node call\n")
    print(f"A request that calls no node (GET /me): {no_node_call:.2f} ms (p50 of 50).\n")
    print("| request | n | p50 ms | max ms | p50 / node latency | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, times, target in [("cold lookup (first request for a hosting on node-32)", cold, "<= 4x"),
                                ("warm lookup (the same hostings again)", warm, "<= 2x"),
                                ("list page, limit=50", page, "<= 3x")]:
        p50 = statistics.median(times)
        print(f"| {name} | {len(times)} | {p50:.1f} | {max(times):.1f} "
              f"| {p50 / latency_ms:.2f}x | {target} |")
    print()


def sizes(work, n):
    """(b) and (c): both cluster sizes served at once and asked in turn, request
    by request, so that drift and scheduling noise of the machine fall on both
    alike."""
    small, large = 2_000, 200_000
    ports = {small: PORT + 1, large: PORT + 2}
    processes, clients, paths = {}, {}, {}
    try:
        for hostings, port in ports.items():
            processes[hostings], key = start_serve(
                port, os.path.join(work, f"key-{hostings}"), "--nodes", "20",
                "--hostings", str(hostings))
            client = clients[hostings] = Client(key, port)
            _, first = client.timed("/api/v1/hostings?limit=1")
            if first["total"] != hostings:
                sys.exit(f"expected {hostings} hostings, the list says {first['total']}")
            last = f"site-{hostings:04}.example.test"
            _, detail = client.timed(f"/api/v1/hostings/{last}")
            paths[hostings] = {
                "first list page, limit=50": "/api/v1/hostings?limit=50",
                # A cursor half-way through the id space: a page deep in the list.
                "list page half-way (cursor), limit=50":
                    "/api/v1/hostings?limit=50&cursor=h8000000000000000",
                "list page, state=suspended": "/api/v1/hostings?limit=50&state=suspended",
                "detail by id": f"/api/v1/hostings/{detail['id']}",
                "detail by domain": f"/api/v1/hostings/{last}",
            }
        figures = {small: {}, large: {}}
        for name in paths[small]:
            for _ in range(20):  # warm-up, unmeasured
                for hostings in (small, large):
                    clients[hostings].timed(paths[hostings][name])
            times = {small: [], large: []}
            cpu = {hostings: -cpu_seconds(process) for hostings, process in processes.items()}
            for _ in range(n):
                for hostings in (small, large):
                    times[hostings].append(clients[hostings].timed(paths[hostings][name])[0])
            for hostings, process in processes.items():
                cpu[hostings] += cpu_seconds(process)
            for hostings, measured in times.items():
                measured.sort()
                figures[hostings][name] = (statistics.median(measured) * 1e3,
                                           measured[max(0, int(n * 0.99) - 1)] * 1e3,
                                           cpu[hostings] / n * 1e6)
        rss = {hostings: peak_rss_mb(process) for hostings, process in processes.items()}
    finally:
        stop(processes.values())
    print(f"## (b) 20 nodes, {small:,} vs {large:,} hostings, no simulated latency\n")
    print(f"Over {n} requests each, the two servers asked in turn: the client's p50 / p99"
          " in ms, and the server's CPU time per request in µs (its threads' schedstat),"
          " which the machine's scheduling noise does not move.\n")
    print(f"| request | {small:,}: p50 / p99 ms | {large:,}: p50 / p99 ms | ratio of p50 "
          f"| {small:,}: CPU µs | {large:,}: CPU µs | ratio of CPU | target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (p50, p99, cpu) in figures[small].items():
        big50, big99, big_cpu = figures[large][name]
        print(f"| {name} | {p50:.3f} / {p99:.3f} | {big50:.3f} / {big99:.3f} "
              f"| {big50 / p50:.2f}x | {cpu:.0f} | {big_cpu:.0f} | {big_cpu / cpu:.2f}x "
              f"| <= 1.5x |")
    print()
    print("## (c) peak memory of serve (VmHWM, after the runs of (b))\n")
    print(f"| hostings | peak RSS |\n| --- | --- |\n| {small:,} | {rss[small]:.1f} MB |"
          f"\n| {large:,} | {rss[large]:.1f} MB |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000,
                        help="timed requests per figure in (b)")
    args = parser.parse_args()
    build("serve")
    work = tempfile.mkdtemp(prefix="hyperion-scaling-")
    try:
        fan_out(work)
        sizes(work, args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
