"""A real two-node Ray cluster on this machine, for the distributed-ingest tests and benchmarks.

Ray advertises a node's routable address even when told 127.0.0.1, so the cluster runs in a network namespace of
its own whose only interface is loopback: every Ray process, and the mmrag driver run with :meth:`command`, then
talk over 127.0.0.1 only. Each node is a real ``ray start`` (head: ``--head --num-cpus 1``; worker: ``--address
... --num-cpus 1``); :meth:`kill_worker` SIGKILLs the worker node's processes, as a lost machine would.
Needs root (``ip netns``); without it the tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}
START_TIMEOUT_S = 240


def _ray_bin() -> str:
    script = Path(sys.executable).with_name("ray")
    return str(script) if script.exists() else shutil.which("ray") or "ray"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def namespace_support() -> str | None:
    """None when this process can make network namespaces, else the reason it cannot."""
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    return None


@dataclass
class RayCluster:
    """A head node and up to one worker node inside network namespace ``namespace``."""

    folder: Path
    namespace: str = field(default_factory=lambda: f"mmrag-ray-{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=_free_port)
    worker_port: int = field(default_factory=_free_port)
    nodes: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the cluster's namespace (loopback only), with a HOME of the cluster's own: Ray
        keeps state such as ``~/.ray/auth_token`` there, which another cluster on the machine must not see."""
        env = {**RAY_ENV, "HOME": str(self.folder / "home")}
        return ["ip", "netns", "exec", self.namespace, "env", *(f"{k}={v}" for k, v in env.items()), *argv]

    def _run(self, argv: Sequence[str], timeout: float = START_TIMEOUT_S) -> None:
        done = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-3000:]}")

    def start(self, workers: int = 1) -> RayCluster:
        """Start the head (and ``workers`` worker nodes); on failure everything started is stopped."""
        try:
            return self._start(workers)
        except BaseException:
            self.stop()
            raise

    def _start(self, workers: int) -> RayCluster:
        (self.folder / "home").mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.namespace], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "exec", self.namespace, "ip", "link", "set", "lo", "up"], check=True,
                       capture_output=True)
        common = ["--num-cpus", "1", "--disable-usage-stats", "--object-store-memory", str(300 << 20)]
        self._run([_ray_bin(), "start", "--head", "--port", str(self.port), "--include-dashboard=false",
                   "--temp-dir", str(self.folder / "ray"), *common])
        self.nodes = 1
        if workers:
            self.add_worker()
        return self

    def add_worker(self) -> None:
        self._run([_ray_bin(), "start", "--address", self.address, "--node-manager-port", str(self.worker_port),
                   "--num-cpus", "1", "--disable-usage-stats", "--object-store-memory", str(300 << 20)])
        self.nodes += 1
        self.wait_for_nodes(self.nodes)

    def wait_for_nodes(self, count: int, timeout: float = START_TIMEOUT_S) -> None:
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(1 for n in ray.nodes() if n['Alive']))")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run(self.command([sys.executable, "-c", probe, self.address]), capture_output=True,
                                  text=True, timeout=timeout)
            if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {count} live nodes in {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        """The worker node's raylet and the processes it started (found by its node-manager port)."""
        raylets = [pid for pid, cmd in _processes() if "raylet" in cmd and f"--node_manager_port={self.worker_port}"
                   in cmd]
        children = [pid for pid, _ in _processes() if _parent(pid) in raylets]
        return raylets + children

    def kill_worker(self) -> int:
        """SIGKILL the worker node (raylet and its workers); returns how many processes were killed."""
        pids = self.worker_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        """Kill this cluster's processes (those in its namespace; ``ray stop`` would stop every Ray cluster on
        the machine) and delete the namespace."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            listed = subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True, text=True)
            pids = [int(p) for p in listed.stdout.split()]
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if pids and sig == signal.SIGTERM:
                time.sleep(3)
        subprocess.run(["ip", "netns", "delete", self.namespace], capture_output=True)


def _processes() -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                continue
    return out


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
