"""Fixtures of the catalog tests: every test taking ``catalog_url`` or ``catalog`` runs on both backends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared plugin lives in tests/pg.py. tests/ is on sys.path once tests/conftest.py has been imported
# (prepend import mode); make this folder work on its own as well, e.g. before that conftest exists.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from pg import catalog_url, postgres_admin_url, postgres_database, postgres_url  # noqa: E402,F401 - fixtures

from mmrag.catalog import Catalog  # noqa: E402


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:  # noqa: F811 - the fixture imported above
    """A freshly created catalog on each backend, disposed of after the test."""
    opened = Catalog(catalog_url)
    try:
        yield opened
    finally:
        opened.dispose()
