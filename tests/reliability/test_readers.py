"""Readers during writes: 4 searching processes while an ingest adds, rewrites and deletes files and saves
its index after every batch. No reader may fail, see a deleted-and-unexplained or mismatched hit, or read
a half-written index file (see rel_reader.py for the exact definition)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rel_checks import all_violations
from rel_reader import readers_during_ingest, summary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def concurrent_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = readers_during_ingest(tmp_path_factory.mktemp("readers"), files=400, added=600, readers=4)
    assert run["writer_exitcode"] == 0, run["logs"]["writer"].read_text()[-3000:]
    for i, result in enumerate(run["results"]):
        assert result is not None, run["logs"][f"reader{i}"].read_text()[-3000:]
    print(json.dumps(summary(run)))
    return run


def test_every_hit_is_a_real_item_and_the_writer_finishes(concurrent_run: dict[str, Any]) -> None:
    report, results = concurrent_run["report"], concurrent_run["results"]
    assert report["removed"] == concurrent_run["removed"] and report["added"] == concurrent_run["added"]
    for i, result in enumerate(results):
        assert not result["anomalies"], f"reader {i}:\n" + "\n".join(result["anomalies"])
    assert all(r["searches"] >= 5 for r in results), [r["searches"] for r in results]
    assert all_violations(concurrent_run["library"], concurrent_run["manifest"]) == []


def test_no_reader_ever_loads_a_half_written_index(concurrent_run: dict[str, Any]) -> None:
    """A reader gets a complete file or an error, never a partial index (os.replace is atomic; the checksum
    is verified before FAISS parses a byte)."""
    errors = [e for r in concurrent_run["results"] for e in r["errors"]]
    partial = [e for e in errors if "index holds" in e]
    unexpected = [e for e in errors if not _stale_sidecar(e)]
    assert not partial and not unexpected, "\n".join(partial + unexpected)


def test_no_reader_fails_while_the_writer_saves(concurrent_run: dict[str, Any]) -> None:
    failures = [e for r in concurrent_run["results"] for e in r["errors"]]
    assert not failures, f"{len(failures)} reader failures, e.g.\n{failures[0]}"


def _stale_sidecar(error: str) -> bool:
    return "sidecar says" in error or "does not match sidecar" in error
