"""``rtstyle export``: a training checkpoint to a contract-v1 ONNX file (needs the [train] extra)."""

from __future__ import annotations

from pathlib import Path

import typer


def export_command(
    checkpoint: Path = typer.Argument(..., help="checkpoint.pt written by rtstyle train"),
    out: Path = typer.Argument(..., help="Output .onnx file"),
    fp16: bool = typer.Option(False, "--fp16", help="Half precision; writes the <name>.fp16.onnx sibling."),
) -> None:
    """Export a checkpoint to ONNX (model contract v1), checked against PyTorch."""
    from rtstyle.export import export_checkpoint

    path = export_checkpoint(checkpoint, out, fp16=fp16)
    print(f"exported {path} (parity with PyTorch checked)")


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
