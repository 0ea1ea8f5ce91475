#!/usr/bin/env python3
"""Throughput of `serve` on PostgreSQL stores against memory stores.

    HYPERION_TEST_POSTGRES=postgres://user@127.0.0.1:PORT/postgres \\
        python3 benches/stores_compare.py [--duration 10] [--connections 32] [--rounds 3]

Builds the release `serve`, starts it twice on loopback (axum): once on the
memory stores, once with --postgres on a fresh database of that server. Loads
each with wrk (one thread, keep-alive), in turn, round after round: a detail
read (GET /hostings/{id}) and a suspend (POST /hostings/{id}/suspend, which
authenticates, calls the node, and writes an audit event). Prints requests
per second, p50 latency and serve's own CPU per request (utime + stime from
/proc, the PostgreSQL server's CPU not included), medians over the rounds,
and the ratio of PostgreSQL to memory. Then starts a second PostgreSQL
replica and times revoke on A to the first 401 on B, 20 times.

Needs wrk (Debian: `apt-get install wrk`) and psql.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from servers import HOST, build, get, start, start_serve, stop

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_wrk(args, url, key, script=None):
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
               "-H", f"Authorization: Bearer {key}"]
    if script:
        command += ["-s", script]
    out = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors against {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out).groups()
    return rps, total, float(value) * UNITS[unit]


def request(method, port, path, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{HOST}:{port}/api/v1{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def fresh_database(url):
    name = f"bench_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return url.rsplit("/", 1)[0] + "/" + name


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("HYPERION_TEST_POSTGRES")
    if not url:
        sys.exit("set HYPERION_TEST_POSTGRES (source .ci/postgres.sh starts a throwaway server)")
    build("serve")
    database = fresh_database(url)
    tmp = tempfile.mkdtemp()
    servers = {}
    memory, memory_key = start_serve(18811, os.path.join(tmp, "m.key"), "--hostings", "1000")
    servers["memory"] = (18811, memory, memory_key)
    pg, pg_key = start_serve(18812, os.path.join(tmp, "p.key"), "--hostings", "1000",
                             "--postgres", database)
    servers["postgres"] = (18812, pg, pg_key)
    processes = [memory, pg]
    try:
        hosting = json.loads(get(18811, "/api/v1/hostings?limit=1", memory_key))["items"][0]["id"]
        assert get(18811, f"/api/v1/hostings/{hosting}", memory_key) == \
            get(18812, f"/api/v1/hostings/{hosting}", pg_key), "same bytes from both"
        script = os.path.join(tmp, "suspend.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = "{}"\n'
                    'wrk.headers["Content-Type"] = "application/json"\n')
        loads = {"detail read": (f"/api/v1/hostings/{hosting}", None),
                 "suspend": (f"/api/v1/hostings/{hosting}/suspend", script)}
        results = {}
        for round_ in range(args.rounds):
            for load, (path, lua) in loads.items():
                for name, (port, process, key) in servers.items():
                    before = cpu_seconds(process.pid)
                    rps, total, p50 = run_wrk(args, f"http://{HOST}:{port}{path}", key, lua)
                    cpu_us = (cpu_seconds(process.pid) - before) / total * 1e6
                    results.setdefault((load, name), []).append((rps, p50, cpu_us))
                    print(f"round {round_ + 1} {load:12} {name:9} {rps:9.0f} req/s "
                          f"p50 {p50:6.2f} ms  {cpu_us:5.1f} us CPU/req", flush=True)
        print(f"\nmedian of {args.rounds} rounds, wrk -t1 -c{args.connections} -d{args.duration}s:")
        print(f"{'load':12} {'stores':9} {'req/s':>9} {'p50 ms':>7} {'CPU us/req':>10} {'ratio':>6}")
        for load in loads:
            base = statistics.median(r[0] for r in results[(load, "memory")])
            base_p50 = statistics.median(r[1] for r in results[(load, "memory")])
            for name in servers:
                runs = results[(load, name)]
                rps = statistics.median(r[0] for r in runs)
                p50 = statistics.median(r[1] for r in runs)
                cpu = statistics.median(r[2] for r in runs)
                extra = f"  (+{p50 - base_p50:.2f} ms p50)" if name != "memory" else ""
                print(f"{load:12} {name:9} {rps:9.0f} {p50:7.2f} {cpu:10.1f} "
                      f"{rps / base:6.2f}{extra}")

        # Revoke on A, first 401 on B.
        # The second replica finds keys in the database and mints none.
        replica = start("serve", 18813, "--postgres", database)
        processes.append(replica)
        delays = []
        for n in range(20):
            status, body = request("POST", 18812, "/keys", pg_key,
                                   {"label": f"revoked-{n}", "caps": ["hosting_view"],
                                    "scope": "all"})
            assert status == 201, body
            minted = json.loads(body)
            for _ in range(2):  # the second answer comes from B's cache
                status, body = request("GET", 18813, "/me", minted["key"])
                assert status == 200, (status, body)
            status, _ = request("DELETE", 18812, f"/keys/{minted['id']}", pg_key)
            assert status == 200, status
            revoked_at = time.perf_counter()
            while request("GET", 18813, "/me", minted["key"])[0] != 401:
                pass
            delays.append((time.perf_counter() - revoked_at) * 1e3)
        print(f"\nrevoke answered on A to first 401 on B (20 times): median "
              f"{statistics.median(delays):.2f} ms, max {max(delays):.2f} ms")
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
