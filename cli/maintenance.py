"""Maintenance verbs: doctor (check a library's derived data against its catalog; repair what is safe)."""

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, LibraryOption, app, console, out, print_json, reported, require_library


@app.command()
def doctor(
    library: LibraryOption = None,
    json: JsonOption = False,
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe: rebuild indexes from the stored "
                                                    "vectors, delete orphan vectors, remake thumbnails, "
                                                    "delete leftover temporary files.")] = False,
    prune_missing: Annotated[bool, typer.Option("--prune-missing", help="With --fix: also drop items whose "
                                                                        "files no longer exist.")] = False,
    salvage: Annotated[bool, typer.Option("--salvage", help="Build a new catalog from what a damaged one still "
                                                            "holds (the damaged file is kept beside it).")] = False,
) -> None:
    """Check the catalog file, indexes, vectors, files, thumbnails, models and schema; exit code 1 while
    errors remain. --fix says what it will do, then does it; it never deletes what it cannot rebuild."""
    from ..doctor import Report, diagnose, open_library, plan
    from ..doctor import fix as repair
    from ..errors import LibraryError

    if salvage:
        _salvage(library)
    with reported():
        require_library(library)  # a typo in --library: say so, do not create and "check" an empty library
    try:
        lib = open_library(library) if library is not None else open_library()
    except LibraryError as exc:  # schema too new, catalog unreadable: nothing else can be checked
        _show(Report(str(library or "")), json, opened=str(exc))
        raise typer.Exit(1) from None
    with closing(lib), reported():  # e.g. LibraryLockedError while another process writes
        report = diagnose(lib)
        if fix:
            for action in plan(report, prune_missing=prune_missing):
                console.print(f"doctor will {action}", markup=False, emoji=False, highlight=False)
            report = repair(lib, report, prune_missing=prune_missing)
    _show(report, json)
    if not report.ok:
        raise typer.Exit(1)


def _salvage(library: Path | None) -> None:
    from ..backup import salvage
    from ..settings import Settings

    with reported():
        summary = salvage(library if library is not None else Settings().library)
    console.print(summary, markup=False, emoji=False, highlight=False)


def _show(report: object, json: bool, opened: str | None = None) -> None:
    data = report.to_dict()  # type: ignore[attr-defined]
    if opened is not None:
        data["ok"] = False
        data["findings"] = [{"check": "open", "severity": "error", "message": opened, "fixable": False,
                             "remedy": "see the message", "count": 0, "items": []}]
    if json:
        print_json(data)
        return
    from rich.markup import escape

    out.print(f"library {escape(str(data['library'] or Path('.').resolve()))}: "
              + ("[green]healthy[/]" if data["ok"] and not data["findings"] else
                 "[yellow]warnings[/]" if data["ok"] else "[red]problems found[/]"), emoji=False)
    for action in data.get("fixed", []):
        out.print(f"  [cyan]fixed[/] {escape(action)}", highlight=False, emoji=False)
    for finding in data["findings"]:
        colour = "red" if finding["severity"] == "error" else "yellow"
        out.print(f"  [{colour}]{finding['severity']}[/] {escape('[' + finding['check'] + ']')} "
                  f"{escape(finding['message'])}", highlight=False, emoji=False)
        out.print(f"      way out: {finding['remedy']}", markup=False, highlight=False, emoji=False)
        for item in finding["items"][:5]:
            out.print(f"      - {item}", markup=False, highlight=False, emoji=False)
