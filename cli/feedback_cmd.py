"""``mmrag feedback``: export the thumbs up/down votes given in the UI."""

from .common import JsonOption, LibraryOption, app, opened_library, out, print_json


@app.command()
def feedback(library: LibraryOption = None, json: JsonOption = False) -> None:
    """Votes on search results and answers (oldest first), for tuning retrieval."""
    from ..retrieval.feedback import export_feedback

    with opened_library(library) as lib:
        rows = export_feedback(lib.catalog)
    if json:
        print_json(rows)
        return
    if not rows:
        out.print("no feedback yet (vote with the thumbs in `mmrag ui`)")
        return
    from rich.table import Table

    table = Table("id", "when", "target", "vote", "query", "item")
    for row in rows:
        item = row["path"] or (f"#{row['asset_id']}" if row["asset_id"] else "")
        if row["page"]:
            item += f" p.{row['page']}"
        table.add_row(str(row["id"]), (row["created_at"] or "")[:19], row["target"],
                      "up" if row["value"] > 0 else "down", row["query"], item)
    out.print(table)
