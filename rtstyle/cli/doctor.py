"""``rtstyle doctor``: what this machine can run (onnxruntime build, providers that really run and why CUDA
does not, display, ffmpeg, catalogue folders)."""

from __future__ import annotations

import json

import typer


def doctor(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Check the onnxruntime build, which providers really run (and why CUDA does not), display and ffmpeg."""
    from rtstyle.diagnostics import gather

    info = gather()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    from rich.console import Console

    c = Console(highlight=False)
    c.print(f"rtstyle {info['rtstyle']}  python {info['python']}  {info['platform']}")
    pk = ", ".join(info["onnxruntime_packages"]) or "?"
    c.print(f"onnxruntime {info['onnxruntime']} ({pk}; build device {info['onnxruntime_device']})")
    if len(info["onnxruntime_packages"]) > 1:
        c.print(
            "[yellow]warning[/yellow]: several onnxruntime packages are installed and clash; keep one "
            "(onnxruntime-gpu on Linux x86_64/Windows): pip uninstall onnxruntime && pip install --force-reinstall onnxruntime-gpu"
        )
    c.print(f"CPU: {info['physical_cores']} physical cores used by the CPU provider ({info['logical_cpus']} logical)")
    gpus = info["gpu"]
    c.print(f"NVIDIA GPU: {'; '.join(gpus) if gpus else 'none found (no nvidia-smi)'}")
    for ep, chk in info["providers"].items():
        mark = "[green]runs[/green]" if chk["runs"] else "[red]does not run[/red]"
        why = "" if chk["runs"] else f": {chk['why']}"
        c.print(f"  {ep}: {mark}{why}")
    c.print(f"device=auto uses: {info['default_device']}")
    c.print(f"display: {info['display'] or '[yellow]none[/yellow] (DISPLAY/WAYLAND_DISPLAY unset: use --no-window)'}")
    c.print(f"ffmpeg: {info['ffmpeg'] or '[red]not found[/red]'}  {info.get('ffmpeg_version', '')}")
    c.print(
        f"models: shipped {info['models_shipped_dir'] or '(none)'}; user {info['models_user_dir']}; {info['styles']} styles"
    )


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
