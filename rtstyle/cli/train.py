"""``rtstyle train``: train a style network from one or more paintings (needs the [train] extra)."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def layer_weights(text: str) -> list[float]:
    """``--style-layer-weights``: four comma-separated factors, none negative."""
    from rtstyle.errors import InputError

    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != 4 or min(weights) < 0:
        raise InputError(f"--style-layer-weights {text!r}: four factors, e.g. 1,1,1,30 (relu1_2 to relu4_3)")
    return weights


def train_command(
    style_image: list[Path] = typer.Option(
        ..., "--style-image", help="Painting to learn; repeat for a multi-style network."
    ),
    data: list[Path] = typer.Option(
        ..., "--data", help="Folder of training photos (searched recursively); repeat for several folders."
    ),
    name: str = typer.Option(..., "--name", help="Model name (file name and, for one style, the style name)."),
    style_name: list[str] = typer.Option([], "--style-name", help="Style name per style image (multi-style)."),
    display_name: list[str] = typer.Option([], "--display-name", help="Display name per style image."),
    license: list[str] = typer.Option([], "--license", help="Licence of each style image."),
    arch: str = typer.Option("johnson", "--arch", help="Network architecture (johnson, fast, ...)."),
    steps: int = typer.Option(3000, "--steps", min=1, help="Optimizer steps to train for (one batch each)."),
    batch: int = typer.Option(4, "--batch", min=1, help="Photos per batch."),
    size: int = typer.Option(256, "--size", min=16, help="Training crop size in pixels."),
    style_size: list[int] = typer.Option(
        [512], "--style-size", min=16, help="Long side of the style image: sets the stroke scale (once, or per style)."
    ),
    lr: float = typer.Option(
        1e-3, "--lr", help="Adam learning rate (a new value with --resume starts a phase that the model card records)."
    ),
    content_weight: float = typer.Option(
        1e5, "--content-weight", help="Weight of the content loss at --content-layer."
    ),
    style_weight: list[float] = typer.Option(
        [1e10], "--style-weight", help="Weight of the Gram style loss (once, or once per style image)."
    ),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (bf16 where the CPU or GPU does it natively), fp32 or bf16."
    ),
    tv_weight: float = typer.Option(
        0.0, "--tv-weight", help="Weight of the total-variation loss (smoother output; 0: off)."
    ),
    content_layer: str = typer.Option(
        "relu2_2", "--content-layer", help="VGG-16 layer of the content loss: relu1_2, relu2_2, relu3_3 or relu4_3."
    ),
    style_loss: str = typer.Option(
        "absolute",
        "--style-loss",
        help="absolute: the Gram errors summed over the style layers (Johnson et al.); relative: each layer's error "
        "against the painting's Gram norm, as `rtstyle eval`'s style distance weighs them (rescale --style-weight).",
    ),
    style_layer_weights: str = typer.Option(
        "1,1,1,1",
        "--style-layer-weights",
        help="One factor per style layer (relu1_2,relu2_2,relu3_3,relu4_3) on its style term, e.g. 1,1,1,30: the "
        "absolute loss with more pull on the coarse structure (relu4_3) that `rtstyle eval` weighs most.",
    ),
    stability_weight: float = typer.Option(
        0.0, "--stability-weight", help="Temporal stability: output change under input noise and small shifts."
    ),
    tile_weight: float = typer.Option(
        0.0,
        "--tile-weight",
        help="Blockiness: the energy of a pattern repeated on every 8-px tile of the output (0: off).",
    ),
    seam_weight: float = typer.Option(
        0.0,
        "--seam-weight",
        help="Blockiness: how much more the output steps across the edges of its 4-px blocks than inside (0: off).",
    ),
    init_from: str | None = typer.Option(
        None,
        "--init-from",
        help="Start from a trained network: a style name, an .onnx file or a .pt checkpoint of the same --arch.",
    ),
    continue_run: bool = typer.Option(
        False,
        "--continue",
        help="With --init-from MODEL.onnx: carry on that model's run (its step count and phases), e.g. on a new machine.",
    ),
    style_batches: str = typer.Option(
        "mixed",
        "--style-batches",
        help="Several styles: mixed (the styles spread over each batch) or single (one style per batch, in turn).",
    ),
    style_turns: list[int] = typer.Option(
        [1],
        "--style-turns",
        min=1,
        help="With --style-batches single: batches per style in each cycle (once, or once per style image).",
    ),
    train_only: str = typer.Option(
        "all",
        "--train-only",
        help="What is trained: all, norm (the instance-norm scales and shifts, every convolution frozen) or "
        "norm+last (and the output convolution). With --init-from a zoo, norm fine-tunes its styles' rows alone.",
    ),
    identity_steps: int = typer.Option(
        0, "--identity-steps", min=0, help="Warm start: the first N steps teach the net to reproduce its input."
    ),
    output_lr_scale: float | None = typer.Option(
        None,
        "--output-lr-scale",
        min=0.0,
        show_default=False,
        help="The output convolution's learning rate as a share of --lr. Default 1/255 (0.00392: the [0, 255] "
        "reference's steps; the net writes RGB in [0, 1]); with --resume, the checkpoint's (1 for a run from before "
        "1/255 was the default). 1 gives the old behaviour.",
    ),
    style_ramp: int = typer.Option(
        0,
        "--style-ramp",
        min=0,
        help="After the warm start, grow the style weight from 0 to full over N steps (the content is kept first).",
    ),
    teacher: str | None = typer.Option(
        None,
        "--teacher",
        help="Distil from this model (style name, .onnx or .pt checkpoint); where it holds other or more styles, each style is taught by its row of the same name.",
    ),
    teacher_weight: float = typer.Option(
        1e9, "--teacher-weight", help="Weight of the MSE to the teacher's output (its MSE starts near 0.1)."
    ),
    card_note: list[str] = typer.Option(
        [], "--card-note", help="A line for the model card (e.g. the terms of the training photos); repeatable."
    ),
    holdout: Path | None = typer.Option(None, "--holdout", help="File listing photos to exclude (one name per line)."),
    vgg_weights: str | None = typer.Option(
        None, "--vgg-weights", help="VGG-16 conv weights (state dict of features[:23])."
    ),
    download_vgg: bool = typer.Option(
        False, "--download-vgg", help="Download torchvision's VGG-16 weights if not cached."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cuda or cpu."),
    seed: int = typer.Option(
        0, "--seed", help="Random seed (weights, photo order, crops): on the CPU the same seed trains the same network."
    ),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Checkpoints and previews (default runs/NAME)."),
    export_dir: Path | None = typer.Option(
        None, "--export-dir", help="Where the model goes (default: user model dir)."
    ),
    checkpoint_every: int = typer.Option(
        200, "--checkpoint-every", help="Save a checkpoint every N steps (0: only at the end); --resume starts there."
    ),
    preview_every: int = typer.Option(
        500, "--preview-every", help="Stylize the fixed preview photos every N steps into --out-dir (0: never)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out-dir from its checkpoint."),
) -> None:
    """Train a feed-forward style network and export it as a ready-to-use style."""
    from rtstyle.train.loop import OUTPUT_LR_SCALE, TrainConfig, recorded_output_lr_scale, train

    cfg = TrainConfig(
        style_images=[str(p) for p in style_image],
        data=[str(d) for d in data],
        name=name,
        style_names=style_name,
        display_names=display_name,
        licenses=license,
        arch=arch,
        steps=steps,
        batch=batch,
        size=size,
        style_size=style_size[0] if len(style_size) == 1 else list(style_size),
        lr=lr,
        content_weight=content_weight,
        style_weight=style_weight[0] if len(style_weight) == 1 else list(style_weight),
        precision=precision,
        tv_weight=tv_weight,
        content_layer=content_layer,
        style_loss=style_loss,
        style_layer_weights=layer_weights(style_layer_weights),
        stability_weight=stability_weight,
        tile_weight=tile_weight,
        seam_weight=seam_weight,
        init_from=init_from,
        continue_run=continue_run,
        identity_steps=identity_steps,
        style_ramp=style_ramp,
        output_lr_scale=OUTPUT_LR_SCALE if output_lr_scale is None else output_lr_scale,
        style_batches=style_batches,
        style_turns=style_turns[0] if len(style_turns) == 1 else list(style_turns),
        train_only=train_only,
        teacher=teacher,
        teacher_weight=teacher_weight,
        seed=seed,
        device=device,
        holdout=str(holdout) if holdout else None,
        card_notes=list(card_note),
        vgg_weights=vgg_weights,
        download_vgg=download_vgg,
        out_dir=str(out_dir) if out_dir else None,
        export_dir=str(export_dir) if export_dir else None,
        checkpoint_every=checkpoint_every,
        preview_every=preview_every,
        resume=resume,
    )
    if output_lr_scale is None and resume:  # a resume keeps the rate its run trained with unless given again
        recorded = recorded_output_lr_scale(cfg.run_dir())
        if recorded is not None:
            cfg.output_lr_scale = recorded
    import sys

    def log_line(step: int, losses: dict[str, float], ips: float) -> None:
        terms = " ".join(f"{k}={v:.4g}" for k, v in losses.items())
        print(f"step {step}/{steps} {terms} {ips:.2f} img/s", flush=True)

    from rtstyle.train.loop import pick_device
    from rtstyle.train.precision import describe_precision

    target = pick_device(cfg.device)
    if os.environ.get("RANK", "0") == "0":  # one line per run, not per DDP process
        print(f"training {name} on {target.type}, {describe_precision(cfg.precision, target)}", flush=True)
    cfg.progress = sys.stdout.isatty()
    cfg.log_every = 10 if cfg.progress else 25
    result = train(cfg, on_log=None if cfg.progress else log_line)
    print(
        f"trained {name}: {result.steps} steps in {result.seconds / 60:.1f} min, "
        f"{result.images_per_second:.1f} img/s; checkpoint {result.checkpoint}"
    )
    if result.onnx:
        from rtstyle.catalog import read_model_info

        names = [s.name for s in read_model_info(result.onnx).styles]  # the file's own names
        more = f" (its styles: {', '.join(names)})" if len(names) > 1 else ""
        print(
            f"model: {result.onnx}  (card: {result.card}); try: rtstyle image IN.jpg OUT.jpg --style {names[0]}{more}"
        )


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
