"""Background jobs (ingest, generate): submitted over HTTP, run one at a time in a worker thread, polled.

A job records its progress (done / total), its result as JSON, or its error message. Writers to a library
are serialised anyway (one write lock), so one worker thread is enough; searches keep running meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import status_of

log = logging.getLogger(__name__)

KEEP_FINISHED = 200  # finished jobs remembered for polling; older ones are forgotten
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

Progress = Callable[[int, int | None], None]
Work = Callable[[Progress], dict[str, Any]]


@dataclass
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    state: str = QUEUED
    done: int = 0
    total: int | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "params": self.params,
                "progress": {"done": self.done, "total": self.total}, "result": self.result, "error": self.error,
                "submitted_at": self.submitted_at, "started_at": self.started_at, "finished_at": self.finished_at}


class JobRunner:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmrag-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, params: dict[str, Any], work: Work) -> Job:
        job = Job(uuid.uuid4().hex, kind, params)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.submitted_at, reverse=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        job.state, job.started_at = RUNNING, time.time()

        def progress(done: int, total: int | None) -> None:
            job.done, job.total = int(done), None if total is None else int(total)

        try:
            job.result = work(progress)
            job.state = DONE
        except Exception as exc:  # noqa: BLE001 - a job's failure is its result, reported to the poller
            known = status_of(exc)
            if known is None or known == 500:
                log.error("%s job %s failed", job.kind, job.id, exc_info=exc)
                job.error = f"internal error ({type(exc).__name__}); the server log has the details"
            else:
                job.error = str(exc)
            job.state = FAILED
        finally:
            job.finished_at = time.time()

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.state in (DONE, FAILED)), key=lambda j: j.submitted_at)
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            self._jobs.pop(job.id, None)
