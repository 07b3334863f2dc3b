"""Maintenance verbs: doctor (check a library's derived data against its catalog; repair what is safe)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, LibraryOption, app, fail, out, print_json


@app.command()
def doctor(
    library: LibraryOption = None,
    json: JsonOption = False,
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe: rebuild indexes from the stored "
                                                    "vectors, delete orphan vectors, remake thumbnails, "
                                                    "delete leftover temporary files.")] = False,
    prune_missing: Annotated[bool, typer.Option("--prune-missing", help="With --fix: also drop items whose "
                                                                        "files no longer exist.")] = False,
) -> None:
    """Check indexes, vectors, files, thumbnails, models and schema. Exit code 1 while errors remain."""
    from ..doctor import Report, diagnose, open_library
    from ..doctor import fix as repair
    from ..errors import LibraryError

    try:
        lib = open_library(library) if library is not None else open_library()
    except LibraryError as exc:  # schema too new, catalog unreadable: nothing else can be checked
        _show(Report(str(library or "")), json, opened=str(exc))
        raise typer.Exit(1) from None
    try:
        report = diagnose(lib)
        if fix:
            report = repair(lib, report, prune_missing=prune_missing)
    except Exception as exc:  # noqa: BLE001 - e.g. LibraryLockedError while another process writes
        fail(exc)
        return
    finally:
        lib.close()
    _show(report, json)
    if not report.ok:
        raise typer.Exit(1)


def _show(report: object, json: bool, opened: str | None = None) -> None:
    data = report.to_dict()  # type: ignore[attr-defined]
    if opened is not None:
        data["ok"] = False
        data["findings"] = [{"check": "open", "severity": "error", "message": opened, "fixable": False,
                             "remedy": "see the message", "count": 0, "items": []}]
    if json:
        print_json(data)
        return
    out.print(f"library {data['library'] or Path('.').resolve()}: "
              + ("[green]healthy[/]" if data["ok"] and not data["findings"] else
                 "[yellow]warnings[/]" if data["ok"] else "[red]problems found[/]"))
    for action in data.get("fixed", []):
        out.print(f"  [cyan]fixed[/] {action}", highlight=False)
    for finding in data["findings"]:
        colour = "red" if finding["severity"] == "error" else "yellow"
        out.print(f"  [{colour}]{finding['severity']}[/] [{finding['check']}] {finding['message']}", highlight=False)
        out.print(f"      way out: {finding['remedy']}", highlight=False)
        for item in finding["items"][:5]:
            out.print(f"      - {item}", highlight=False)
