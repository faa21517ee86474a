"""tools/train_zoo.py: the one command that retrains the zoo, proven on tiny generated assets."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def _zoo_module():
    spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "tools" / "train_zoo.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _grey_paintings(zoo, tmp_path: Path) -> Path:
    """An assets folder whose nine paintings are grey squares: a fresh clone has no ../shared to read them from."""
    assets = tmp_path / "assets"
    (assets / "styles").mkdir(parents=True)
    for s in zoo.ZOO:
        cv2.imwrite(str(assets / "styles" / s.file), np.full((16, 16, 3), 128, np.uint8))
    return assets


def test_zoo_lists_the_nine_styles_with_their_cli_names():
    zoo = _zoo_module()
    assert [s.name for s in zoo.ZOO] == [
        "mosaic",
        "candy",
        "starry-night",
        "scream",
        "wave",
        "kandinsky",
        "shipwreck",
        "udnie",
        "matisse",
    ]
    assert all(s.license for s in zoo.ZOO)


def test_every_recipe_pins_its_output_lr_scale():
    """rtstyle train's default became 1/255: the recipes give theirs explicitly, so each reproduces what it ran at
    (the fast tier's recorded recipe at the old default of 1.0)."""
    zoo = _zoo_module()
    assert zoo.RECIPES["full"]["output_lr_scale"] == pytest.approx(1 / 255)
    assert zoo.RECIPES["fast"]["output_lr_scale"] == 1.0
    assert all(phase["output_lr_scale"] == pytest.approx(1 / 255) for phase in zoo.CPU_SCHEDULE["full"])


def test_zoo_smoke_run_trains_both_tiers_into_one_multistyle_file_each(tmp_path):
    zoo = _zoo_module()
    assets = tmp_path / "assets"
    (assets / "styles").mkdir(parents=True)
    (assets / "photos").mkdir()
    rng = np.random.default_rng(0)
    for i, s in enumerate(zoo.ZOO[:3]):
        img = np.zeros((48, 48, 3), np.uint8)
        img[:: 3 + i] = rng.integers(0, 255, 3)
        cv2.imwrite(str(assets / "styles" / s.file), img)
    for i in range(4):
        cv2.imwrite(str(assets / "photos" / f"p{i}.png"), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    models = tmp_path / "models"
    cmd = [
        sys.executable,
        str(ROOT / "tools" / "train_zoo.py"),
        "--assets",
        str(assets),
        "--models-dir",
        str(models),
        "--out-dir",
        str(tmp_path / "runs"),
        "--styles",
        "mosaic,candy,starry-night",
        "--device",
        "cpu",
        "--steps",
        "2",
        "--batch",
        "2",
        "--size",
        "32",
        "--style-size",
        "48",
        "--arch",
        "tiny",
        "--fast-arch",
        "tiny-fast",
        "--vgg-weights",
        "random-for-tests",
        "--preview-every",
        "0",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)  # ~9 min on a slow 2-core VM
    assert r.returncode == 0, r.stderr[-2000:]
    for tier in ("full", "fast"):
        r = subprocess.run(
            [sys.executable, "-m", "rtstyle", "styles", "--json"],
            capture_output=True,
            text=True,
            env={**__import__("os").environ, "RTSTYLE_MODELS": str(models)},
        )
        styles = json.loads(r.stdout)["styles"]
        names = {(s["name"], Path(s["file"]).name) for s in styles if s["tier"] == tier and str(models) in s["file"]}
        if tier == "full":
            assert ("starry-night", "zoo-full.onnx") in names
        else:  # the CPU schedule ends with each style alone: one file per style, waiting in campaign/ to ship
            from rtstyle.catalog import read_model_info

            assert not names
            for n in ("mosaic", "candy", "starry-night"):
                assert read_model_info(models / "campaign" / f"{n}-fast.onnx").style_names == [n]
            assert read_model_info(models / "campaign" / "zoo-fast.onnx").num_styles == 3
    # mid-phase: the campaign's checkpoint exported with its card, to commit it
    mid = tmp_path / "mid"
    ex = [*cmd[:2], "--out-dir", str(tmp_path / "runs"), "--models-dir", str(mid), "--tier", "full", "--export-now"]
    r = subprocess.run(ex, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    card = (mid / "zoo-full.md").read_text()
    assert (mid / "zoo-full.onnx").is_file() and "- steps: 2 at batch 2" in card and "unreadable skipped" in card
    ex[ex.index("full")] = "fast"
    r = subprocess.run(ex, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(f.name for f in mid.glob("*fast.onnx")) == ["candy-fast.onnx", "mosaic-fast.onnx",
                                                            "starry-night-fast.onnx", "zoo-fast.onnx"]  # fmt: skip
    assert "# candy-fast" in (mid / "candy-fast.md").read_text()
    # a machine that resumed each style from its shipped file has no shared checkpoint: the one-style runs alone,
    # those of --styles only
    (tmp_path / "runs" / "fast" / "checkpoint.pt").unlink()
    solo = [*cmd[:2], "--out-dir", str(tmp_path / "runs"), "--models-dir", str(tmp_path / "solo"), "--tier", "fast"]
    r = subprocess.run([*solo, "--styles", "candy", "--export-now"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(f.name for f in (tmp_path / "solo").glob("*.onnx")) == ["candy-fast.onnx"]
    none = [*solo[:3], str(tmp_path / "empty"), *solo[4:], "--export-now"]
    r = subprocess.run(none, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no checkpoint at" in r.stderr and "Traceback" not in r.stderr
    bad = subprocess.run(
        [*cmd[:2], "--assets", str(assets), "--styles", "picasso", "--print"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown style 'picasso'" in bad.stderr


def test_cpu_campaign_resumes_from_the_committed_model_on_a_new_machine(tmp_path):
    """No checkpoint (a new machine): --resume continues from models/zoo-full.onnx, its steps and phases."""
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    models = tmp_path / "models"
    names = [s.name for s in zoo.ZOO]
    export_onnx(
        build_net("tiny", len(names)),
        models / "zoo-full.onnx",
        [StyleEntry(n, n) for n in names],
        "tiny",
        "full",
        {"steps_done": 300, "lr": 1e-3},
        32,
    )
    assets = _grey_paintings(zoo, tmp_path)
    base = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "full", "--device", "cpu", "--print"]
    base += ["--assets", str(assets), "--models-dir", str(models), "--out-dir", str(tmp_path / "runs")]
    r = subprocess.run([*base, "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"--init-from {models / 'zoo-full.onnx'} --continue" in r.stdout
    assert "--identity-steps 100" in r.stdout and "--precision auto" in r.stdout
    first = r.stdout.splitlines()[0]
    assert first.count("--style-weight") == len(names)  # one per painting
    weights = {s.name: s.cpu_style_weight for s in zoo.ZOO}
    assert f"--style-weight {weights['mosaic']}" in first
    for line, phase in zip(r.stdout.splitlines(), zoo.CPU_SCHEDULE["full"], strict=True):
        scale = phase.get("style_scale", 1.0)  # a later phase scales every painting's weight (the stopping rule)
        factor = scale.get("mosaic", 1.0) if isinstance(scale, dict) else scale
        assert f"--style-weight {weights['mosaic'] * factor} " in line
        assert "--style-scale" not in line
        turns = phase.get("style_turns")  # batches per cycle per painting, where a phase gives a lagging style more
        if turns:
            assert line.count("--style-turns") == len(names)
            assert f"--style-turns {turns.get('mosaic', 1)} " in line
        else:
            assert "--style-turns" not in line
    assert all("--init-from" not in line for line in r.stdout.splitlines()[1:])  # later phases resume the run
    fresh = subprocess.run(base, capture_output=True, text=True, timeout=120)
    start = fresh.stdout.splitlines()[0]
    assert "--init-from" not in fresh.stdout and "--resume" not in start  # a new campaign starts from nothing
    assert all("--resume" in line for line in fresh.stdout.splitlines()[1:])  # then each phase resumes the last


def test_cpu_fast_tier_is_distilled_from_the_committed_full_tier(tmp_path):
    """The fast zoo on the CPU: the pilot's recipe, taught by models/zoo-full.onnx (what ships, on any machine)."""
    zoo = _zoo_module()
    assets = _grey_paintings(zoo, tmp_path)
    models = tmp_path / "models"
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(models), "--out-dir", str(tmp_path / "runs")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    solo = [phase for phase in zoo.CPU_SCHEDULE["fast"] if phase.get("solo")]
    per_style = sum(len(phase.get("only") or zoo.ZOO) for phase in solo)  # "only": the styles a phase trains
    assert len(lines) == len(zoo.CPU_SCHEDULE["fast"]) - len(solo) + per_style
    first = lines[0]
    assert f"--teacher {models / 'zoo-full.onnx'}" in first and "--arch fast-lean" in first
    assert "--stability-weight 3000000.0" in first and "--teacher-weight 1000000000.0" in first
    assert first.count("--style-weight") == 1  # no teacher there to read its balance from: the recipe's one weight


def test_cpu_fast_tier_takes_each_style_at_its_teachers_balance(tmp_path):
    """With the committed full tier there, each style's weight is the teacher's, scaled by the student's content
    weight over the teacher's: the perceptual terms and the teacher MSE pull towards the same output."""
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    models = tmp_path / "models"
    names = [s.name for s in zoo.ZOO][::-1]  # the teacher's own order need not be the zoo's
    teacher_w = [1e9 * (i + 1) for i in range(len(names))]
    export_onnx(build_net("tiny", len(names)), models / "zoo-full.onnx", [StyleEntry(n, n) for n in names], "tiny",
                "full", {"steps_done": 300, "content_weight": 5e5, "style_weight": teacher_w}, 32)  # fmt: skip
    assets = _grey_paintings(zoo, tmp_path)
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(models), "--out-dir", str(tmp_path / "runs")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    args = r.stdout.splitlines()[0].split()
    got = [float(args[i + 1]) for i, a in enumerate(args) if a == "--style-weight"]
    cw = float(args[args.index("--content-weight") + 1])
    want = [teacher_w[names.index(s.name)] * cw / 5e5 for s in zoo.ZOO]
    assert got == pytest.approx(want)
    assert zoo.teacher_balance(tmp_path / "none.onnx", zoo.ZOO, cw) is None


def test_a_fast_phase_style_scale_moves_a_style_off_its_teachers_balance(tmp_path):
    """The stopping rule's per-style factors (style_scale) apply on top of the teacher's balance, as they apply on
    top of the full tier's own weights: a style with content to spare paints harder, one over its content bar less."""
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    models = tmp_path / "models"
    names = [s.name for s in zoo.ZOO]
    export_onnx(build_net("tiny", len(names)), models / "zoo-full.onnx", [StyleEntry(n, n) for n in names], "tiny",
                "full", {"steps_done": 300, "content_weight": 5e5, "style_weight": 1e10}, 32)  # fmt: skip
    a = argparse.Namespace(
        assets=str(tmp_path / "assets"), device="cpu", out_dir=str(tmp_path / "runs"), models_dir=str(models),
        checkpoint_every=200, preview_every=1000, vgg_weights=None, resume=False, steps=None, batch=None,
        size=None, style_size=None, arch=None, fast_arch=None,
    )  # fmt: skip
    phase = {**zoo.CPU_SCHEDULE["fast"][-1], "style_scale": {"mosaic": 2.0, "shipwreck": 0.5}}
    args = zoo.train_args("fast", a, zoo.ZOO, phase)
    got = [float(args[i + 1]) for i, x in enumerate(args) if x == "--style-weight"]
    base = 1e10 * float(args[args.index("--content-weight") + 1]) / 5e5
    want = {"mosaic": 2 * base, "shipwreck": base / 2}
    assert got == pytest.approx([want.get(s.name, base) for s in zoo.ZOO])
    assert "--style-scale" not in args


def test_cpu_fast_tier_resumes_from_its_campaign_model_on_a_new_machine(tmp_path):
    """A progress model not yet fit to ship waits in models/campaign/ (outside the catalogue); a new machine's
    --resume continues from it, or from the shipped one (or the shipped base of `styles add`) where that went
    further."""
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    names = [s.name for s in zoo.ZOO]
    models = tmp_path / "models"

    def student(path: Path, steps: int) -> None:
        entries = [StyleEntry(n, n) for n in names]
        export_onnx(build_net("tiny", len(names)), path, entries, "tiny", "fast", {"steps_done": steps}, 32)

    assets = _grey_paintings(zoo, tmp_path)
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(models), "--out-dir", str(tmp_path / "runs"), "--resume"]
    student(models / "campaign" / "zoo-fast.onnx", 2000)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"--init-from {models / 'campaign' / 'zoo-fast.onnx'} --continue" in r.stdout
    student(models / "zoo-fast.onnx", 3000)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert f"--init-from {models / 'zoo-fast.onnx'} --continue" in r.stdout
    student(models / "base" / "zoo-fast.onnx", 4000)  # shipped as the base of `styles add` only
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert f"--init-from {models / 'base' / 'zoo-fast.onnx'} --continue" in r.stdout


def test_a_resumed_plan_with_nothing_left_says_so(tmp_path):
    """Styles whose shipped files are at their schedule's end (done at both bars) plan no command, and the tool
    says so in one line rather than printing nothing."""
    zoo = _zoo_module()
    assets = _grey_paintings(zoo, tmp_path)
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(ROOT / "models"), "--out-dir", str(tmp_path / "runs")]
    r = subprocess.run([*cmd, "--resume", "--styles", ",".join(zoo._DONE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == "", r.stderr[-2000:]
    assert "nothing left to train" in r.stderr


def test_cpu_fast_tier_grows_its_checkpoint_when_the_schedule_moves_to_another_design(tmp_path):
    """A phase whose --arch differs from the run's checkpoint starts by growing it (--init-from CKPT --continue,
    not --resume, which would refuse another design); the phases after it resume as usual."""
    import torch

    zoo = _zoo_module()
    assets = _grey_paintings(zoo, tmp_path)
    ckpt = tmp_path / "runs" / "fast" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(tmp_path / "models"), "--out-dir", str(tmp_path / "runs")]
    lines = {}
    for arch in ("fast-slim", zoo.CPU_SCHEDULE["fast"][0]["arch"]):
        torch.save({"arch": arch, "step": 100, "net": {}}, ckpt)
        r = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        lines[arch] = [line for line in r.stdout.splitlines() if "--name zoo-fast " in line]  # the shared run's
    shared = [phase for phase in zoo.CPU_SCHEDULE["fast"] if not phase.get("solo")]
    archs = [phase.get("arch", zoo.CPU_SCHEDULE["fast"][0]["arch"]) for phase in shared]
    for start, got in lines.items():
        before = [start, *archs[:-1]]  # the design the checkpoint holds when each phase starts
        for line, arch, held in zip(got, archs, before, strict=True):
            assert f"--arch {arch} " in line
            if arch == held:  # same design: it resumes the run
                assert "--resume" in line.split() and "--init-from" not in line
            else:
                assert line.endswith(f"--init-from {ckpt} --continue") and "--resume" not in line.split()
    assert lines["fast-slim"][0].endswith("--continue")  # the test's checkpoint is of another design


def test_cpu_fast_tier_ends_with_each_style_alone(tmp_path):
    """The solo phases: one run per style (its own folder, name and file), started from the shared run where it
    stopped, resumed from the style's own checkpoint or committed model; an older one-style file of the same name
    (another lineage, fewer steps than the shared run) is not a starting point. The shared run exports aside."""
    import torch

    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    solo = [phase for phase in zoo.CPU_SCHEDULE["fast"] if phase.get("solo")]
    if not solo:
        pytest.skip("the schedule has no solo phase")
    shared_end = max(phase["until"] for phase in zoo.CPU_SCHEDULE["fast"] if not phase.get("solo"))
    assets = _grey_paintings(zoo, tmp_path)
    runs, models = tmp_path / "runs", tmp_path / "models"
    cmd = [sys.executable, str(ROOT / "tools" / "train_zoo.py"), "--tier", "fast", "--device", "cpu", "--print"]
    cmd += ["--assets", str(assets), "--models-dir", str(models), "--out-dir", str(runs)]

    def plan(*extra: str) -> list[str]:
        r = subprocess.run([*cmd, *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout.splitlines()

    fresh = plan()
    shared_lines = [line for line in fresh if "--name zoo-fast " in line]
    assert all(f"--export-dir {models / 'campaign'} " in line for line in shared_lines)
    by_name: dict[str, list[str]] = {}
    for line in fresh:
        if line not in shared_lines:
            by_name.setdefault(line.split("--name ")[1].split()[0], []).append(line)
    assert set(by_name) == {f"{s.name}-fast" for s in zoo.ZOO}
    for s in zoo.ZOO:  # each style in every solo phase that trains it
        assert len(by_name[f"{s.name}-fast"]) == sum(1 for p in solo if not p.get("only") or s.name in p["only"])
    for s in zoo.ZOO:
        line = by_name[f"{s.name}-fast"][0]  # its first solo phase
        assert all(later.endswith("--resume") for later in by_name[f"{s.name}-fast"][1:])
        assert line.count("--style-name") == 1 and f"--style-name {s.name} " in line
        assert f"--out-dir {runs / f'fast-{s.name}'} " in line and f"--export-dir {models / 'campaign'} " in line
        assert line.endswith(f"--init-from {runs / 'fast' / 'checkpoint.pt'} --continue")

    # a new machine: the shared run's committed model, a solo run's checkpoint, a solo campaign model, an old file
    def student(path: Path, steps: int, names: list[str]) -> None:
        entries = [StyleEntry(n, n) for n in names]
        export_onnx(build_net("tiny", len(names)), path, entries, "tiny", "fast", {"steps_done": steps}, 32)

    student(models / "campaign" / "zoo-fast.onnx", shared_end, [s.name for s in zoo.ZOO])
    student(models / "campaign" / "wave-fast.onnx", shared_end + 1, ["wave"])
    student(models / "mosaic-fast.onnx", shared_end - 1, ["mosaic"])
    (runs / "fast-candy").mkdir(parents=True)
    solo_arch = solo[0]["arch"]
    torch.save({"arch": solo_arch, "step": shared_end + 1, "net": {}}, runs / "fast-candy" / "checkpoint.pt")
    resumed = plan("--resume")
    assert not any("--name zoo-fast " in line for line in resumed)  # the shared run is done
    got: dict[str, str] = {}
    for line in resumed:  # each style's first command
        got.setdefault(line.split("--name ")[1].split()[0], line)
    assert got["candy-fast"].endswith("--resume") and got["candy-fast"].count("--resume") == 1
    assert got["wave-fast"].endswith(f"--init-from {models / 'campaign' / 'wave-fast.onnx'} --continue")
    assert got["mosaic-fast"].endswith(f"--init-from {models / 'campaign' / 'zoo-fast.onnx'} --continue")
    assert f"--export-dir {models / 'campaign'} " in got["wave-fast"]
    student(models / "wave-fast.onnx", shared_end + 2, ["wave"])  # the tier shipped: its file is replaced in place
    wave = next(line for line in plan("--resume") if "--name wave-fast " in line)
    assert wave.endswith(f"--init-from {models / 'wave-fast.onnx'} --continue")
    assert f"--export-dir {models} " in wave
    candy_end = max(p["until"] for p in solo if not p.get("only") or "candy" in p["only"])
    torch.save({"arch": solo_arch, "step": candy_end, "net": {}}, runs / "fast-candy" / "checkpoint.pt")
    assert not any("--name candy-fast " in line for line in plan("--resume"))  # candy is done


def test_a_fast_style_at_both_bars_is_left_out_of_later_phases():
    """A style done by the stopping rule (``_DONE``) ends with a phase of its own, no later phase trains it, and its
    shipped file is that phase's end: a resumed campaign has nothing left to train for it."""
    zoo = _zoo_module()
    fast = zoo.CPU_SCHEDULE["fast"]
    for name in zoo._DONE:
        trains = [i for i, p in enumerate(fast) if not p.get("only") or name in p["only"]]
        last = fast[trains[-1]]
        assert last.get("only") == (name,), f"{name}'s last phase trains other styles too"
        assert zoo.exported_step(ROOT / "models" / f"{name}-fast.onnx") == last["until"]


def test_shipwrecks_file_is_its_teacher_phase_and_no_phase_it_never_ran_comes_before(tmp_path):
    """Session 34: shipwreck's file is 200 steps from its 16,800 file with the teacher's MSE at ten times the
    campaign's; the phases of the other styles to 17,200 and 17,600, which the file never ran, leave it out, so a
    resumed plan trains shipwreck from its file on, never back through them."""
    zoo = _zoo_module()
    fast = zoo.CPU_SCHEDULE["fast"]
    mine = [p for p in fast if (not p.get("only") or "shipwreck" in p["only"]) and p["until"] > 16800]
    assert [p["until"] for p in mine][:2] == [17000, 17200] and mine[0]["teacher_weight"] == 1e9
    assert mine[0]["only"] == ("shipwreck",) and mine[0].get("style_loss", "absolute") == "absolute"
    # session 35: 200 more with the content loss at relu3_3; session 36: 200 more with the teacher back at 1e8
    assert mine[1]["only"] == ("shipwreck",) and mine[1]["content_layer"] == "relu3_3"
    assert mine[2]["until"] == 17400 and mine[2]["teacher_weight"] == 1e8 and mine[2]["content_layer"] == "relu3_3"
    assert zoo.exported_step(ROOT / "models" / "shipwreck-fast.onnx") == 17400 and "shipwreck" in zoo._DONE


def test_the_schedule_reproduces_every_phase_each_shipped_fast_file_ran_alone(tmp_path):
    """`tools/train_zoo.py --tier fast` reproduces the files it ships: every phase a shipped fast file recorded from
    16,000 on (each style alone) is a phase of the schedule for that style, ending where it ended, with the same
    weights, layer, learning rate and crops (the style weight within 1 %: the arms' weights were rounded)."""
    from rtstyle.catalog import read_model_info

    zoo = _zoo_module()
    a = _resume_args(tmp_path, tmp_path / "runs", ROOT / "models")  # the shipped full tier is the teacher
    for style in zoo.ZOO:
        recipe = read_model_info(ROOT / "models" / f"{style.name}-fast.onnx").recipe
        last = {**recipe, "to_step": recipe["steps_done"]}
        for ran in [p for p in recipe["phases"] if p["to_step"] > 16000] + [last]:
            phases = [
                p
                for p in zoo.CPU_SCHEDULE["fast"]
                if p["until"] == ran["to_step"] and (not p.get("only") or style.name in p["only"])
            ]
            where = f"{style.name} to {ran['to_step']}"
            assert len(phases) == 1, where
            args = zoo.train_args("fast", a, [style], phases[0])
            arg = functools.partial(zoo._flag, args)
            weight = ran["style_weight"][0] if isinstance(ran["style_weight"], list) else ran["style_weight"]
            assert float(arg("--style-weight")) == pytest.approx(weight, rel=0.01), where
            for key in ("content_weight", "teacher_weight", "lr", "size"):
                assert float(arg(f"--{key.replace('_', '-')}")) == float(ran[key]), f"{where}: {key}"
            assert (arg("--content-layer") or "relu2_2") == ran.get("content_layer", "relu2_2"), where
            assert (arg("--style-loss") or "absolute") == ran.get("style_loss", "absolute"), where


def test_the_relative_loss_phases_train_each_style_from_its_file_at_its_calibrated_weight(tmp_path):
    """Session 33's phases: the relative style loss (the eval's weighing of the four layers) for one style each, at
    its teacher's balance at the campaign's content weight x the phase's recorded scale (F x the calibrated ratio
    of the two losses), and the style's shipped file is its last such phase's end, so a resumed campaign goes on
    from there."""
    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    models = tmp_path / "models"
    names = [s.name for s in zoo.ZOO]
    export_onnx(build_net("tiny", len(names)), models / "zoo-full.onnx", [StyleEntry(n, n) for n in names], "tiny",
                "full", {"steps_done": 300, "content_weight": 5e5, "style_weight": 1e10}, 32)  # fmt: skip
    a = _resume_args(tmp_path, tmp_path / "runs", models)
    fast = zoo.CPU_SCHEDULE["fast"]
    assert zoo._RELATIVE_PHASES
    for name, until, scale, lr, size, *settings in zoo._RELATIVE_PHASES:
        phase = next(p for p in fast if p.get("style_loss") == "relative" and p["until"] == until and name in p["only"])
        assert phase["only"] == (name,)
        style = next(s for s in zoo.ZOO if s.name == name)
        args = zoo.train_args("fast", a, [style], phase)
        assert args[args.index("--style-loss") + 1] == "relative" and args[args.index("--steps") + 1] == str(until)
        assert float(args[args.index("--lr") + 1]) == lr and args[args.index("--size") + 1] == str(size)
        for key, value in (settings[0] if settings else {}).items():  # a phase's own settings reach the command
            assert args[args.index(f"--{key.replace('_', '-')}") + 1] == str(value)
        # the teacher's balance at the campaign's content weight (2e5) x the scale, whatever the phase's own
        # content weight: a phase that moves the content weight alone keeps the style weight
        assert float(args[args.index("--style-weight") + 1]) == pytest.approx(1e10 * 2e5 / 5e5 * scale)
        last = max(u for n, u, *_ in zoo._RELATIVE_PHASES if n == name)
        assert zoo.exported_step(ROOT / "models" / f"{name}-fast.onnx") == last


def _resume_args(tmp_path: Path, runs: Path, models: Path) -> argparse.Namespace:
    """``tools/train_zoo.py``'s options for a resumed CPU plan (``commands``) on these folders."""
    return argparse.Namespace(
        assets=str(tmp_path / "assets"), device="cpu", out_dir=str(runs), models_dir=str(models),
        checkpoint_every=200, preview_every=1000, vgg_weights=None, resume=True, steps=None, batch=None,
        size=None, style_size=None, arch=None, fast_arch=None, smoke=False,
    )  # fmt: skip


def test_a_solo_phase_of_another_design_grows_each_styles_run(tmp_path, monkeypatch):
    """Solo phases of two designs: a style whose run holds the first grows into the second (--init-from its own
    checkpoint --continue, not a --resume that would refuse it); one already past the first phase grows at once."""

    import torch

    zoo = _zoo_module()
    base = {k: v for k, v in zoo.CPU_SCHEDULE["fast"][-1].items() if k not in ("until", "solo", "only", "arch")}
    schedule = [
        {**base, "until": 100, "arch": "fast-broad"},
        {**base, "until": 200, "arch": "fast-broad", "solo": True},
        {**base, "until": 300, "arch": "fast-margin", "solo": True},
    ]
    monkeypatch.setitem(zoo.CPU_SCHEDULE, "fast", schedule)
    runs = tmp_path / "runs"
    a = _resume_args(tmp_path, runs, tmp_path / "models")
    for sub, step in (("fast", 100), ("fast-mosaic", 250), ("fast-candy", 150)):
        (runs / sub).mkdir(parents=True)
        torch.save({"arch": "fast-broad", "step": step, "net": {}}, runs / sub / "checkpoint.pt")
    plan = [" ".join(c) for c in zoo.commands("fast", a, zoo.ZOO[:3])]  # mosaic, candy, starry-night

    def lines(name: str) -> list[str]:
        return [c for c in plan if f"--name {name}-fast " in c]

    assert not any("--name zoo-fast " in c for c in plan)  # the shared run is done
    mosaic, candy, starry = lines("mosaic"), lines("candy"), lines("starry-night")
    assert len(mosaic) == 1 and "--arch fast-margin" in mosaic[0]  # past phase 1: grows at once
    assert mosaic[0].endswith(f"--init-from {runs / 'fast-mosaic' / 'checkpoint.pt'} --continue")
    assert [c.split("--arch ")[1].split()[0] for c in candy] == ["fast-broad", "fast-margin"]
    assert candy[0].endswith("--resume") and candy[1].endswith(f"{runs / 'fast-candy' / 'checkpoint.pt'} --continue")
    assert starry[0].endswith(f"--init-from {runs / 'fast' / 'checkpoint.pt'} --continue")
    assert starry[1].endswith(f"--init-from {runs / 'fast-starry-night' / 'checkpoint.pt'} --continue")
    assert plan.index(candy[1]) > plan.index(starry[0])  # breadth first: every style's phase 1, then phase 2


def test_a_solo_phase_runs_the_styles_still_in_an_older_design_first(tmp_path, monkeypatch):
    """Within a solo phase, a style whose run or committed file holds an older design goes before those already in
    the phase's: every style reaches the new design the soonest (here candy's checkpoint and wave's file)."""

    import torch

    from rtstyle.contract import StyleEntry
    from rtstyle.export import export_onnx
    from rtstyle.nets import build_net

    zoo = _zoo_module()
    base = {k: v for k, v in zoo.CPU_SCHEDULE["fast"][-1].items() if k not in ("until", "solo", "only", "arch")}
    schedule = [
        {**base, "until": 100, "arch": "fast-broad"},
        {**base, "until": 300, "arch": "fast-margin", "solo": True},
    ]
    monkeypatch.setitem(zoo.CPU_SCHEDULE, "fast", schedule)
    runs, models = tmp_path / "runs", tmp_path / "models"
    a = _resume_args(tmp_path, runs, models)
    (runs / "fast").mkdir(parents=True)
    torch.save({"arch": "fast-broad", "step": 100, "net": {}}, runs / "fast" / "checkpoint.pt")
    for style, arch in (("mosaic", "fast-margin"), ("candy", "fast-broad"), ("starry-night", "fast-margin")):
        (runs / f"fast-{style}").mkdir(parents=True)
        torch.save({"arch": arch, "step": 200, "net": {}}, runs / f"fast-{style}" / "checkpoint.pt")
    export_onnx(build_net("tiny", 1), models / "campaign" / "wave-fast.onnx", [StyleEntry("wave", "wave")], "tiny",
                "fast", {"steps_done": 200}, 32)  # fmt: skip
    plan = zoo.commands("fast", a, zoo.ZOO[:5])  # mosaic, candy, starry-night, scream, wave
    order = [c[c.index("--name") + 1] for c in plan]
    assert order == ["candy-fast", "wave-fast", "mosaic-fast", "starry-night-fast", "scream-fast"]
    assert plan[0][-3:] == ["--init-from", str(runs / "fast-candy" / "checkpoint.pt"), "--continue"]
    assert plan[2][-1] == "--resume"  # mosaic already holds the phase's design


def test_a_solo_phase_for_some_styles_only(tmp_path, monkeypatch):
    """A solo phase with ``"only"`` trains the styles it names: the others skip it (and go on to the next phase
    that trains them); its key never reaches ``rtstyle train``."""

    import torch

    zoo = _zoo_module()
    base = {k: v for k, v in zoo.CPU_SCHEDULE["fast"][-1].items() if k not in ("until", "solo", "only", "arch")}
    schedule = [
        {**base, "until": 100, "arch": "fast-margin"},
        {**base, "until": 200, "arch": "fast-margin", "solo": True},
        {**base, "until": 300, "arch": "fast-margin", "solo": True, "only": ("candy",)},
        {**base, "until": 400, "arch": "fast-margin", "solo": True},
    ]
    monkeypatch.setitem(zoo.CPU_SCHEDULE, "fast", schedule)
    runs = tmp_path / "runs"
    a = _resume_args(tmp_path, runs, tmp_path / "models")
    (runs / "fast").mkdir(parents=True)
    torch.save({"arch": "fast-margin", "step": 100, "net": {}}, runs / "fast" / "checkpoint.pt")
    plan = [" ".join(c) for c in zoo.commands("fast", a, zoo.ZOO[:2])]  # mosaic, candy
    steps = {
        n: [c.split("--steps ")[1].split()[0] for c in plan if f"--name {n}-fast " in c] for n in ("mosaic", "candy")
    }
    assert steps == {"mosaic": ["200", "400"], "candy": ["200", "300", "400"]}
    assert not any("--only" in c or "candy',)" in c for c in plan)
