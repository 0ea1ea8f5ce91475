"""Throughput of `serve` under a flood of unauthenticated requests, and the
size the flood leaves in the SQLite database.

    python3 benches/flood.py [--seconds 10] [--rate 1000] [--flood-total 100000]

Needs Debian's wrk. It starts a release `serve --data-dir` on a fresh
directory and runs, in turn (3 rounds each, medians reported):
  - wrk alone on GET /api/v1/hostings/<id> with the admin key;
  - the same while a second process sends `--rate` requests per second,
    each with a fresh random bogus key, over keep-alive connections.
Then it sends `--flood-total` such requests as fast as it can and reports
the data directory's size before and after (the 401s are counted per
address and minute, not stored one by one). Everything stays on loopback
and every loop is bounded.
"""

import argparse
import multiprocessing
import os
import random
import re
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

PORT = 18950
ALPHABET = string.ascii_letters + string.digits


def bogus_request(port):
    token = "hyp_" + "".join(random.choices(ALPHABET, k=43))
    return (f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def read_answer(conn):
    """Reads one whole answer (head and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(65536)


def flood(port, rate, seconds, total):
    """Sends bogus-key requests: `rate` per second for `seconds`, or (rate 0)
    `total` of them as fast as one connection allows."""
    conn = socket.create_connection(("127.0.0.1", port))
    sent = 0
    start = time.monotonic()
    while True:
        if rate:
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            if sent >= due:
                time.sleep(0.0005)
                continue
        elif sent >= total:
            break
        try:
            conn.sendall(bogus_request(port))
            read_answer(conn)
        except (ConnectionError, OSError):
            conn.close()
            conn = socket.create_connection(("127.0.0.1", port))
            continue
        sent += 1
    conn.close()
    return sent


def wrk(port, key, path, seconds):
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H", f"Authorization: Bearer {key}",
         f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def size_of(directory):
    return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flood-total", type=int, default=100_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk (apt-get install wrk)")
    servers.build("serve")
    data = tempfile.mkdtemp(prefix="hyperion-flood-")
    key_file = os.path.join(data, "admin.key")
    directory = os.path.join(data, "db")
    process, key = servers.start_serve(PORT, key_file, "--data-dir", directory)
    try:
        hosting = servers.get(PORT, "/api/v1/hostings?limit=1", key)
        hosting_id = re.search(rb'"id":"([^"]+)"', hosting).group(1).decode()
        path = f"/api/v1/hostings/{hosting_id}"
        quiet, flooded, rates = [], [], []
        for _ in range(args.rounds):
            quiet.append(wrk(PORT, key, path, args.seconds))
            with multiprocessing.Pool(1) as pool:
                sending = pool.apply_async(flood, (PORT, args.rate, args.seconds + 1, 0))
                time.sleep(0.5)
                flooded.append(wrk(PORT, key, path, args.seconds))
                rates.append(sending.get() / (args.seconds + 1))
        q, f = statistics.median(quiet), statistics.median(flooded)
        print(f"detail read, wrk -t1 -c16 {args.seconds}s, median of {args.rounds}:")
        print(f"  alone:                          {q:10.0f} req/s")
        print(f"  with {statistics.median(rates):5.0f} bogus-key req/s: {f:10.0f} req/s  "
              f"(ratio {f / q:.2f})")
        before = size_of(directory)
        started = time.monotonic()
        sent = flood(PORT, 0, 0, args.flood_total)
        took = time.monotonic() - started
        servers.get(PORT, "/api/v1/audit?limit=1", key)  # writes the counts out
        after = size_of(directory)
        print(f"{sent} bogus-key requests in {took:.1f} s: data directory "
              f"{before / 1e6:.2f} MB -> {after / 1e6:.2f} MB")
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
