"""Starting and asking the servers, for the benchmark scripts here: `serve`
(this crate's binary) and `bare_hosting` (its example, the bare handlers
serve is measured against)."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

# The workspace root: hyperion-serve/benches/ is two levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "target", "release")
HOST = "127.0.0.1"


def build(*servers):
    """Builds the release servers named (`serve`, `bare_hosting`)."""
    command = ["cargo", "build", "--release", "-p", "hyperion-serve"]
    for server in servers:
        command += ["--bin", server] if server == "serve" else ["--example", server]
    subprocess.run(command, cwd=ROOT, check=True)


def path_of(server):
    """Where the release build of a server is."""
    if server == "serve":
        return os.path.join(RELEASE, server)
    return os.path.join(RELEASE, "examples", server)


def get(port, path, key=None):
    """The body of GET path; raises on a non-2xx answer."""
    request = urllib.request.Request(f"http://{HOST}:{port}{path}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def start(example, port, *args, binary=None):
    """Starts a release server (or `binary` in its place) listening on port
    and waits until it answers. Its log goes to target/bench-EXAMPLE-PORT.log,
    out of the figures' way."""
    log = open(os.path.join(ROOT, "target", f"bench-{example}-{port}.log"), "wb")
    process = subprocess.Popen(
        [binary or path_of(example), "--addr", f"{HOST}:{port}", *args],
        stdout=subprocess.DEVNULL, stderr=log)
    log.close()  # the child holds its own descriptor
    for _ in range(1200):
        if process.poll() is not None:
            sys.exit(f"{example} on port {port} exited with {process.returncode} "
                     f"(see target/bench-{example}-{port}.log)")
        try:
            get(port, "/api/v1/openapi.json")
            return process
        except urllib.error.HTTPError:
            return process  # answering, even if not that path
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{example}: nothing listens on port {port}")


def start_serve(port, key_file, *args):
    """Starts `serve` with a fresh admin key written to key_file; returns (process, key)."""
    process = start("serve", port, "--key-file", key_file, *args)
    with open(key_file) as f:
        return process, f.read().strip()


def stop(processes):
    """Stops the servers (SIGTERM) and waits for them."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()
