#!/usr/bin/env python3
"""The hot path of `serve` against bare handlers answering the same bytes.

    python3 benches/hot_path.py [--duration 5] [--connections 32] [--rounds 3]
                                [--only TEXT] [--no-flood] [--serve-binary PATH]
    # PostgreSQL rows too: HYPERION_TEST_POSTGRES=postgres://... (or source .ci/postgres.sh)

Builds the release `serve` and its `bare_hosting` example and starts, on
loopback, `serve` on axum and on warp, each on the memory stores, on SQLite
stores (`--data-dir`) and, when a PostgreSQL URL is given, on PostgreSQL
stores (a fresh database each), all with the same simulated cluster of 1,000
hostings; and bare axum and warp handlers answering the very bytes `serve`
answered (the detail as a scope-all key sees it, the detail as a
grants-scoped key sees it, and the first page of 50), once more under the
kit's own server loop (`--kit-server`: what that loop costs apart from the API). It checks that every
pair answers the same bytes, then loads each row with wrk (one thread,
keep-alive), each row in turn, round after round, so that drift of the
machine falls on every row alike.

Keys, minted over the API on each `serve`:
  - the admin key (scope all);
  - a key holding 1,000 view grants (every hosting);
  - a scope-all key with a rate limit it never reaches;
  - a scope-all key with a 3-entry IP allowlist that admits 127.0.0.1.

Each row reports requests per second and p50 (medians over the rounds), and
the server's own CPU per request: utime + stime of the process from /proc
(the kernel's accounting) over the run, divided by the requests wrk counted.

Then, unless --no-flood, the flood: the scope-all detail read on `serve`
(axum, memory and SQLite) alone, and again while a second wrk sends requests
with a fresh random well-formed `hyp_` token each, as fast as the server
answers them (32 connections, closed loop).

With --serve-binary, that `serve` is loaded instead of this tree's (a build
of an earlier commit, for a before-and-after table); the bare handlers are
this tree's.

Needs wrk (Debian: `apt-get install wrk`); psql for the PostgreSQL rows.
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
import urllib.error
import urllib.request

from servers import HOST, build, get, start, stop

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
TICKS = os.sysconf("SC_CLK_TCK")
FLOOD_LUA = r"""
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
request = function()
  local t = {}
  for i = 1, 43 do
    local n = math.random(1, #alphabet)
    t[i] = alphabet:sub(n, n)
  end
  return wrk.format("GET", nil, {["Authorization"] = "Bearer hyp_" .. table.concat(t)})
end
"""


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wrk(url, key, seconds, connections, script=None, allow_errors=False):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if key:
        command += ["-H", f"Authorization: Bearer {key}"]
    if script:
        command += ["-s", script]
    out = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    if not allow_errors and ("Non-2xx" in out or "Socket errors" in out):
        sys.exit(f"wrk saw errors against {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out).groups()
    return rps, total, float(value) * UNITS[unit]


def call(method, port, path, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{HOST}:{port}/api/v1{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def all_hosting_ids(port, key):
    ids, cursor = [], None
    while True:
        page = call("GET", port, "/hostings?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                    key)
        ids += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def mint(port, admin, label, **terms):
    request = {"label": label, "caps": ["hosting_view"], "scope": "all", **terms}
    return call("POST", port, "/keys", admin, request)["key"]


def fresh_database(url, name):
    subprocess.run(["psql", url, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return url.rsplit("/", 1)[0] + "/" + name


class Row:
    """One load: a server, a path, a key, and the row it is compared with."""

    def __init__(self, name, process, port, path, key, baseline=None):
        self.name, self.process, self.port = name, process, port
        self.path, self.key, self.baseline = path, key, baseline
        self.runs = []

    def run(self, args):
        before = cpu_seconds(self.process.pid)
        rps, total, p50 = wrk(f"http://{HOST}:{self.port}{self.path}", self.key,
                              args.duration, args.connections)
        cpu_us = (cpu_seconds(self.process.pid) - before) / total * 1e6
        self.runs.append((rps, p50, cpu_us))
        return rps, p50, cpu_us

    def median(self, index):
        return statistics.median(run[index] for run in self.runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="load only the rows whose name holds this "
                        "(their baselines too)")
    parser.add_argument("--no-flood", action="store_true")
    parser.add_argument("--postgres", default=os.environ.get("HYPERION_TEST_POSTGRES", ""),
                        help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--serve-binary", default=None,
                        help="the serve binary to load (default: this tree's release build)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    build("serve", "bare_hosting")

    stores = ["memory", "sqlite"] + (["postgres"] if args.postgres else [])
    processes = []
    work = tempfile.mkdtemp(prefix="hyperion-hot-")
    port = iter(range(18900, 18999))
    try:
        serves = {}
        for store in stores:
            for adapter in ("axum", "warp"):
                extra = {"memory": [],
                         "sqlite": ["--data-dir", os.path.join(work, f"db-{adapter}")],
                         "postgres": ["--postgres", fresh_database(
                             args.postgres, f"hot_path_{adapter}")] if args.postgres else []}
                key_file = os.path.join(work, f"key-{adapter}-{store}")
                number = next(port)
                process = start("serve", number, "--adapter", adapter, "--hostings", "1000",
                                "--key-file", key_file, *extra[store], binary=args.serve_binary)
                processes.append(process)
                admin = open(key_file).read().strip()
                serves[(adapter, store)] = (process, number, admin)

        # The same seed makes the same cluster everywhere: ids come from one.
        _, port0, admin0 = serves[("axum", "memory")]
        ids = all_hosting_ids(port0, admin0)
        assert len(ids) == 1000, len(ids)
        detail = f"/api/v1/hostings/{ids[0]}"
        page = "/api/v1/hostings?limit=50"
        keys = {}
        for (adapter, store), (_, number, admin) in serves.items():
            grants = [{"hosting": hosting, "level": "view"} for hosting in ids]
            keys[(adapter, store)] = {
                "scope all": admin,
                "1,000 grants": mint(number, admin, "grants", scope={"grants": grants}),
                "rate-limited": mint(number, admin, "limited", rate_limit_per_min=100_000_000),
                "allowlisted": mint(number, admin, "allowlisted",
                                    ip_allowlist=["10.0.0.0/8", "192.168.0.0/16", "127.0.0.1"]),
            }

        bodies = {
            "detail": get(port0, detail, admin0),
            "tenant": get(port0, detail, keys[("axum", "memory")]["1,000 grants"]),
            "page": get(port0, page, admin0),
        }
        for name, body in bodies.items():
            open(os.path.join(work, name), "wb").write(body)
        bares = {}
        for adapter in ("axum", "warp"):
            for view, body, list_body in (("", "detail", "page"), (" tenant", "tenant", "page")):
                number = next(port)
                processes.append(start("bare_hosting", number, "--framework", adapter,
                                       "--body", os.path.join(work, body),
                                       "--list-body", os.path.join(work, list_body)))
                bares[adapter + view] = (processes[-1], number)

            # The same bare handler under the kit's server loop (header
            # deadline, peer address, graceful shutdown), as `serve` runs.
            number = next(port)
            processes.append(start("bare_hosting", number, "--framework", adapter,
                                   "--body", os.path.join(work, "detail"), "--kit-server"))
            bares[adapter + " kit"] = (processes[-1], number)

        rows = []

        def bare_row(name, adapter, path):
            process, number = bares[adapter]
            rows.append(Row(name, process, number, path, admin0))
            return rows[-1]

        def serve_row(name, adapter, store, path, key, baseline):
            process, number, _ = serves[(adapter, store)]
            rows.append(Row(name, process, number, path, keys[(adapter, store)][key], baseline))
            return rows[-1]

        for adapter in ("axum", "warp"):
            bare = bare_row(f"bare {adapter} detail", adapter, detail)
            bare_tenant = bare_row(f"bare {adapter} detail, tenant bytes", adapter + " tenant",
                                   detail)
            bare_row(f"bare {adapter} detail on the kit's server loop", adapter + " kit",
                     detail).baseline = bare
            for store in stores:
                serve_row(f"serve {adapter} {store} detail, scope all", adapter, store, detail,
                          "scope all", bare)
                serve_row(f"serve {adapter} {store} detail, 1,000 grants", adapter, store, detail,
                          "1,000 grants", bare_tenant)
            bare_page = bare_row(f"bare {adapter} page of 50", adapter, page)
            for store in ("memory", "sqlite"):
                serve_row(f"serve {adapter} {store} page of 50", adapter, store, page,
                          "scope all", bare_page)
            unlimited = next(row for row in rows
                             if row.name == f"serve {adapter} memory detail, scope all")
            for key in ("rate-limited", "allowlisted"):
                serve_row(f"serve {adapter} memory detail, {key}", adapter, "memory", detail,
                          key, unlimited)

        if args.only:
            wanted = [row for row in rows if args.only in row.name]
            rows = [row for row in rows
                    if row in wanted or any(w.baseline is row for w in wanted)]
        for row in rows:
            answer = get(row.port, row.path, row.key)
            expected = get(row.baseline.port, row.baseline.path, row.baseline.key) \
                if row.baseline and row.name.startswith("serve") and \
                row.baseline.name.startswith("bare") else None
            if expected is not None and answer != expected:
                sys.exit(f"{row.name} does not answer the bytes of {row.baseline.name}")
        print(f"{len(rows)} rows; detail {len(bodies['detail'])} bytes, tenant detail "
              f"{len(bodies['tenant'])} bytes, page {len(bodies['page'])} bytes", flush=True)

        for round_no in range(1, args.rounds + 1):
            for row in rows:
                rps, p50, cpu = row.run(args)
                print(f"round {round_no} {row.name}: {rps:.0f} req/s, p50 {p50:.3f} ms, "
                      f"{cpu:.1f} us CPU/request", flush=True)

        print()
        print(f"wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} "
              "interleaved rounds; CPU is the server's utime + stime per request")
        print()
        print("| row | req/s | p50 ms | CPU µs/request | compared with | req/s ratio "
              "| CPU efficiency (theirs ÷ ours) | extra CPU µs |")
        print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
        for row in rows:
            rps, p50, cpu = (row.median(i) for i in range(3))
            line = f"| {row.name} | {rps:,.0f} | {p50:.3f} | {cpu:.1f} |"
            if row.baseline:
                b_rps, b_cpu = row.baseline.median(0), row.baseline.median(2)
                line += (f" {row.baseline.name} | **{rps / b_rps:.2f}x** | {b_cpu / cpu:.2f}x "
                         f"| {cpu - b_cpu:+.1f} |")
            else:
                line += " | | | |"
            print(line)

        if not args.no_flood:
            flood(args, serves, keys, detail, work)
    finally:
        stop(processes)
        shutil.rmtree(work, ignore_errors=True)


def flood(args, serves, keys, detail, work):
    script = os.path.join(work, "flood.lua")
    open(script, "w").write(FLOOD_LUA)
    print()
    print("| server | alone req/s | flooded req/s | ratio | bad-token req/s answered |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for store in ("memory", "sqlite"):
        process, number, admin = serves[("axum", store)]
        url = f"http://{HOST}:{number}{detail}"
        alone, flooded, bad = [], [], []
        for _ in range(args.rounds):
            alone.append(wrk(url, admin, args.duration, args.connections)[0])
            flooder = subprocess.Popen(
                ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration + 2}s", "-s", script,
                 url], stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            flooded.append(wrk(url, admin, args.duration, args.connections)[0])
            out = flooder.communicate()[0]
            bad.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
        a, f = statistics.median(alone), statistics.median(flooded)
        print(f"| serve axum {store} | {a:,.0f} | {f:,.0f} | **{f / a:.2f}** "
              f"| {statistics.median(bad):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
