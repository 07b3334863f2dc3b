"""``mmrag serve`` over HTTP on 127.0.0.1: text search p50/p99 with 1 and 8 concurrent clients, throughput,
and image-upload search p50; side by side with the same queries through ``Library.search_text`` in-process
(no HTTP) query by query in turn, so the HTTP layer's cost is a ratio from one run.

The library is bench_search.py's: N image assets with clustered 512-d vectors bulk-inserted into the
catalog, the auto index built from them, the ViT-B-32 architecture with random weights for the text and
image towers (the timing is the same as with trained weights). The server is a real ``mmrag serve``
process; clients are httpx, one connection each (keep-alive), each query text distinct.

    python bench/bench_serve.py --n 1000000 --queries 400 --library /tmp/serve-bench/lib
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import build_library, clustered  # noqa: E402

K = 10


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(1000 * statistics.median(ordered), 2),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "n": len(ordered)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(library: Path, port: int) -> subprocess.Popen[str]:
    mmrag = Path(sys.executable).with_name("mmrag")
    process = subprocess.Popen([str(mmrag), "serve", "--library", str(library), "--port", str(port),
                                "--log-level", "warning"], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mmrag serve exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("mmrag serve did not become healthy in 900 s")


def text_queries(count: int, offset: int) -> list[str]:
    return [f"a photo of item {offset + i} in the archive" for i in range(count)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_clients(url: str, queries: list[str], clients: int, server_pid: int | None = None) -> dict[str, Any]:
    """``clients`` threads share the queries; per-request latency and overall requests per second, and the
    server's CPU time per request (what a request costs an idle machine: load-independent)."""
    latencies: list[float] = []
    lock = threading.Lock()
    shares = [queries[i::clients] for i in range(clients)]

    def client(share: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for text in share:
                t0 = time.perf_counter()
                response = http.get("/search", params={"text": text, "k": K})
                elapsed = time.perf_counter() - t0
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    out = {**percentiles(latencies), "clients": clients, "throughput_qps": round(len(latencies) / wall, 1)}
    if server_pid:
        out["server_cpu_ms_per_query"] = round(1000 * (cpu_seconds(server_pid) - cpu0) / len(latencies), 1)
    return out


def health_cost(url: str, server_pid: int, runs: int = 400) -> dict[str, float]:
    """GET /health in a loop: the HTTP stack's own cost per request (uvicorn, FastAPI, the middlewares)."""
    times = []
    with httpx.Client(base_url=url, timeout=60) as http:
        cpu0 = cpu_seconds(server_pid)
        for _ in range(runs):
            t0 = time.perf_counter()
            http.get("/health").raise_for_status()
            times.append(time.perf_counter() - t0)
        cpu = cpu_seconds(server_pid) - cpu0
    return {"p50_ms": percentiles(times)["p50_ms"], "server_cpu_ms_per_request": round(1000 * cpu / runs, 2)}


def upload_search(url: str, runs: int) -> dict[str, Any]:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)  # 512 x 512
    payload = buffer.getvalue()
    times = []
    with httpx.Client(base_url=url, timeout=120) as http:
        http.post("/search", files={"image": ("q.jpg", payload)}, data={"k": str(K)}).raise_for_status()
        for _ in range(runs):
            t0 = time.perf_counter()
            http.post("/search", files={"image": ("q.jpg", payload)}, data={"k": str(K)}).raise_for_status()
            times.append(time.perf_counter() - t0)
    return {**percentiles(times), "image": "512x512 JPEG", "bytes": len(payload)}


def interleaved(url: str, library: Path, queries: list[str]) -> dict[str, Any]:
    """One client over HTTP and ``Library.search_text`` in this process, query by query in turn, so both see
    the same machine load (the other side is idle while one runs)."""
    from mmrag import Library

    http_times, local_times, local_cpu = [], [], 0.0
    with Library(library) as lib, httpx.Client(base_url=url, timeout=120) as http:
        lib.search_text("warm up", k=K)
        for text in queries:
            t0 = time.perf_counter()
            http.get("/search", params={"text": text, "k": K}).raise_for_status()
            t1, c1 = time.perf_counter(), time.process_time()
            lib.search_text(text + " ", k=K)
            t2 = time.perf_counter()
            local_cpu += time.process_time() - c1
            http_times.append(t1 - t0)
            local_times.append(t2 - t1)
    return {"http_1_client": percentiles(http_times), "in_process_search_text": {
        **percentiles(local_times), "cpu_ms_per_query": round(1000 * local_cpu / len(queries), 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="Image vectors in the library.")
    parser.add_argument("--queries", type=int, default=400, help="Text queries per measurement.")
    parser.add_argument("--uploads", type=int, default=50, help="Image-upload searches.")
    parser.add_argument("--library", type=Path, help="Reuse (or create) the library here.")
    args = parser.parse_args()

    folder = args.library or Path(tempfile.mkdtemp(prefix="mmrag-serve-bench-")) / "lib"
    if not (folder / "catalog.sqlite").exists():
        t0 = time.perf_counter()
        build_library(folder, clustered(args.n, 512))
        print(f"built library of {args.n:,} in {time.perf_counter() - t0:.0f}s at {folder}", file=sys.stderr)
    port = free_port()
    t0 = time.perf_counter()
    server = start_server(folder, port)
    url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"n": args.n, "k": K, "server_ready_s": round(time.perf_counter() - t0, 1)}
    try:
        result["index"] = httpx.get(url + "/status", timeout=60).json()["indexes"]["image"].get("spec")
        run_clients(url, text_queries(20, 10**6), 1)  # warm-up
        result["health"] = health_cost(url, server.pid)
        result |= interleaved(url, folder, text_queries(args.queries, 0))
        result["http_1_client_alone"] = run_clients(url, text_queries(args.queries, 2 * args.queries), 1,
                                                    server.pid)
        result["http_8_clients"] = run_clients(url, text_queries(args.queries, 3 * args.queries), 8, server.pid)
        if args.uploads:
            result["http_image_upload"] = upload_search(url, args.uploads)
    except Exception as exc:  # keep what was measured before the failure
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if "http_1_client" in result:
        result["http_over_in_process_p50"] = round(
            result["http_1_client"]["p50_ms"] / max(result["in_process_search_text"]["p50_ms"], 1e-6), 2)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
