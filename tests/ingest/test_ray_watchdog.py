"""The Ray ingest fails with a clear error, instead of waiting forever, when its cluster's head goes away.

The watchdog only needs the head's address from the runtime context: these tests give it a real port on
127.0.0.1 (listening, or closed as a dead head's is) and real time passing in the main thread."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mmrag.errors import LibraryError
from mmrag.ingest.ray_engine import watching_cluster


@dataclass
class _Context:
    gcs_address: str


@dataclass
class _Runtime:
    address: str

    def get_runtime_context(self) -> _Context:
        return _Context(self.address)


@pytest.fixture
def listening() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_head_that_stops_answering_ends_the_run_with_what_to_do(listening: str) -> None:
    host, port = listening.split(":")
    with socket.socket() as probe:  # a port nobody listens on: the head is gone
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(LibraryError, match="stopped answering.*run the same command again"):
        with watching_cluster(_Runtime(dead), lost_after_s=1.0):
            time.sleep(60)
    assert time.monotonic() - started < 30


def test_a_live_head_is_left_alone(listening: str) -> None:
    with watching_cluster(_Runtime(listening), lost_after_s=1.0):
        time.sleep(5)


def test_a_real_interrupt_is_not_mistaken_for_a_lost_cluster(listening: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        with watching_cluster(_Runtime(listening), lost_after_s=1.0):
            raise KeyboardInterrupt


def test_outside_the_main_thread_the_watchdog_never_interrupts() -> None:
    import threading

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    errors: list[BaseException] = []

    def job() -> None:
        try:
            with watching_cluster(_Runtime(dead), lost_after_s=0.5):
                time.sleep(4)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    worker = threading.Thread(target=job)
    worker.start()
    time.sleep(5)  # a SIGINT sent to the main thread would surface here as KeyboardInterrupt
    worker.join()
    assert errors == []
