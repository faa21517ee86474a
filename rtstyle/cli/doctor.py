"""``rtstyle doctor``: what this machine can run (onnxruntime build, providers that really run and why CUDA
does not, display, FFmpeg and its video encoders, catalogue folders)."""

from __future__ import annotations

import json

import typer


def doctor(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Check the onnxruntime build, which providers really run (and why CUDA does not), display and encoders."""
    from rtstyle.diagnostics import gather

    info = gather()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    from rich.console import Console

    from rtstyle.cli.console import safe
    from rtstyle.cli.hints import fix_install_hints

    c = Console(highlight=False)
    c.print(f"rtstyle {safe(info['rtstyle'])}  python {safe(info['python'])}  {safe(info['platform'])}")
    pk = safe(", ".join(info["onnxruntime_packages"]) or "?")
    c.print(f"onnxruntime {safe(info['onnxruntime'])} ({pk}; build device {safe(info['onnxruntime_device'])})")
    if len(info["onnxruntime_packages"]) > 1:
        c.print(
            "[yellow]warning[/yellow]: several onnxruntime packages are installed and clash; keep one "
            "(onnxruntime-gpu on Linux x86_64/Windows): pip uninstall onnxruntime && pip install --force-reinstall onnxruntime-gpu"
        )
    c.print(f"CPU: {info['physical_cores']} physical cores used by the CPU provider ({info['logical_cpus']} logical)")
    gpus = info["gpu"]
    c.print(f"NVIDIA GPU: {safe('; '.join(gpus)) if gpus else 'none found (no nvidia-smi)'}")
    for ep, chk in info["providers"].items():
        mark = "[green]runs[/green]" if chk["runs"] else "[red]does not run[/red]"
        why = "" if chk["runs"] else f": {safe(fix_install_hints(chk['why']))}"  # quoted, right for this install
        dev = f" (--device {safe(chk['device'])})" if chk.get("device") else ""
        c.print(f"  {safe(ep)}{dev}: {mark}{why}")
    c.print(
        f"devices that run: {safe(', '.join(info['devices_running']))}; device=auto uses: {safe(info['default_device'])}"
    )
    display = (
        safe(info["display"])
        if info["display"]
        else "[yellow]none[/yellow] (DISPLAY/WAYLAND_DISPLAY unset: use --no-window)"
    )
    c.print(f"display: {display}")
    c.print(f"media: {safe(info['ffmpeg'])}")
    c.print("video encoders (--encoder):")
    for name, enc in info["encoders"].items():
        mark = "[green]runs[/green]" if enc["runs"] else f"[dim]does not run: {safe(enc['why'])}[/dim]"
        alias = f" ({safe(enc['alias'])})" if enc.get("alias") else ""
        c.print(f"  {safe(name)}{alias}: {mark}")
    shipped = safe(info["models_shipped_dir"]) if info["models_shipped_dir"] else "(none)"
    c.print(f"models: shipped {shipped}; user {safe(info['models_user_dir'])}; {safe(info['styles'])} styles")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
