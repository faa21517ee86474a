"""``rtstyle styles``: list the style catalogue (shipped models plus the user's model folder)."""

from __future__ import annotations

import json

import typer


def styles(
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
) -> None:
    """List the installed styles: name, tier, architecture, file."""
    from rtstyle import catalog

    found = catalog.list_styles()
    if as_json:
        payload = {
            "shipped_dir": str(catalog.shipped_models_dir() or ""),
            "user_dir": str(catalog.user_models_dir()),
            "styles": [s.to_json() for s in found],
        }
        print(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from rtstyle.cli.console import safe

    console = Console()
    if not found:
        console.print(
            f"No styles installed. Shipped folder: {safe(catalog.shipped_models_dir())}; user folder: "
            f"{safe(catalog.user_models_dir())} (set RTSTYLE_MODELS to use another)."
        )
        return
    table = Table(title="rtstyle styles")
    for col in ("name", "tier", "arch", "file", "display name", "license", "source"):
        table.add_column(col, overflow="fold")
    for s in found:
        file = s.file.name + (f" [{s.index + 1}/{s.num_styles}]" if s.num_styles > 1 else "")
        if s.fp16_file is not None:
            file += " (+fp16)"
        cells = (s.name, s.tier, s.arch, file, s.display_name, s.license, s.source)
        table.add_row(*(safe(c) for c in cells))
    console.print(table)
    console.print(
        f"shipped: {safe(catalog.shipped_models_dir())}  user: {safe(catalog.user_models_dir())}", style="dim"
    )


def register(app: typer.Typer) -> None:
    app.command("styles")(styles)
