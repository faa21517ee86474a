"""`rtstyle styles add|remove|export|import` and the training options behind add (train_only, max_minutes, the best
state on fixed validation photos, Ctrl-C), on tiny networks: a 3-style tiny "zoo", the test-only random loss network
and generated photos and video (never ../shared or a download)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from clips import make_clip  # noqa: E402
from conftest import make_contract_model, perturbed_net, tiny_train_config  # noqa: E402

from rtstyle.cli.main import main  # noqa: E402
from rtstyle.contract import StyleEntry  # noqa: E402
from rtstyle.export import export_onnx  # noqa: E402
from rtstyle.nets import build_net  # noqa: E402
from rtstyle.train.loop import TrainConfig, param_groups, set_trainable, train  # noqa: E402
from rtstyle.train.losses import RANDOM_FOR_TESTS  # noqa: E402

ZOO = ("aa", "bb", "cc")


def run_cli(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    with pytest.raises(SystemExit) as ei:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    return ei.value.code, cap.out, cap.err


def one_line_error(code: object, err: str) -> None:
    assert code == 1, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64]
    img = np.stack([x * 4 % 255, y * 5 % 255, (x + y) * 3 % 255], -1).astype(int) + rng.integers(-30, 30, (48, 64, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.roll(np.clip(img, 0, 255).astype(np.uint8), seed * 7, 1))
    return path


def _zoo(path: Path, arch: str, tier: str) -> Path:
    net = perturbed_net(arch, len(ZOO), seed=len(arch))
    recipe = {"content_weight": 1e5, "style_weight": [1e10, 2e10, 1e10]}
    return export_onnx(net, path, [StyleEntry(n, n.upper()) for n in ZOO], arch, tier, recipe, 64)


@pytest.fixture(autouse=True)
def one_loss_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The random loss network is built once for the module (building VGG-16 is most of a tiny run's time)."""
    import rtstyle.train.loop as loop
    import rtstyle.train.losses as losses

    if not hasattr(one_loss_network, "vgg"):
        one_loss_network.vgg = loop.load_vgg(RANDOM_FOR_TESTS)  # type: ignore[attr-defined]
    real = loop.load_vgg
    for module in (loop, losses):  # the training loop's, and the one `add` weighs the painting with
        monkeypatch.setattr(
            module,
            "load_vgg",
            lambda weights=None, download=False: (
                one_loss_network.vgg if weights == RANDOM_FOR_TESTS else real(weights, download)
            ),  # type: ignore[attr-defined]
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """Photos, a painting, a tiny full and fast zoo in a model folder, an empty user folder first in RTSTYLE_MODELS,
    and a shipped folder of our own holding `mosaic` in both tiers (whatever models/ holds today)."""
    from rtstyle import catalog

    root = tmp_path_factory.mktemp("add")
    make_contract_model(root / "shipped" / "mosaic.onnx", styles=("mosaic",), tier="full")
    make_contract_model(root / "shipped" / "mosaic-fast.onnx", styles=("mosaic",), tier="fast")
    real_shipped = catalog.shipped_models_dir
    catalog.shipped_models_dir = lambda: root / "shipped"
    for i in range(5):
        _photo(root / "photos" / f"p{i}.jpg", i)
    cv2.imwrite(str(root / "painting.png"), np.random.default_rng(9).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    _zoo(root / "zoo" / "zoo-full.onnx", "tiny", "full")
    _zoo(root / "zoo" / "zoo-fast.onnx", "tiny-fast", "fast")
    (root / "user").mkdir()
    saved = {k: os.environ.get(k) for k in ("RTSTYLE_MODELS", "XDG_CACHE_HOME")}
    os.environ["RTSTYLE_MODELS"] = os.pathsep.join([str(root / "user"), str(root / "zoo")])
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    yield root
    catalog.shipped_models_dir = real_shipped
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


TINY = ["--vgg-weights", RANDOM_FOR_TESTS, "--size", "32", "--style-size", "40", "--device", "cpu"]


@pytest.fixture(scope="module")
def added(world: Path) -> dict:
    """One `styles add` run (both tiers, a few steps each), shared by the tests that use its result."""
    with pytest.raises(SystemExit) as ei:
        main(
            ["styles", "add", str(world / "painting.png"), "--name", "mine", "--data", str(world / "photos"),
             "--minutes", "2", "--steps", "4", "--no-window", "--json", *TINY]
        )  # fmt: skip
    assert ei.value.code in (0, None)
    return {}


def test_add_writes_both_tiers_listed_at_once_and_usable(world, added, capsys):
    user = world / "user"
    assert {p.name for p in user.iterdir()} >= {"mine.onnx", "mine.md", "mine-fast.onnx", "mine-fast.md"}
    code, out, _ = run_cli(["styles", "--json"], capsys)
    listed = {(s["name"], s["tier"]): s for s in json.loads(out)["styles"]}
    assert code == 0 and listed[("mine", "full")]["source"] == "user" and listed[("mine", "fast")]["num_styles"] == 1
    card = (user / "mine.md").read_text()
    assert "rtstyle styles add" in card and "best state" in card and "zoo-full.onnx" in card and "norm" in card
    code, _, err = run_cli(["image", world / "photos" / "p0.jpg", world / "out.png", "-s", "mine", "--tier", "full",
                            "-d", "cpu"], capsys)  # fmt: skip
    assert code == 0, err
    assert cv2.imread(str(world / "out.png")).shape == (48, 64, 3)


def test_add_trains_only_the_norm_rows_from_the_zoo(world, added):
    from rtstyle.export import import_onnx

    _, zoo = import_onnx(world / "zoo" / "zoo-full.onnx")
    _, mine = import_onnx(world / "user" / "mine.onnx")
    z, m = zoo.state_dict(), mine.state_dict()
    for k in m:
        if "norm" in k:
            assert m[k].shape[0] == 1
        else:
            assert torch.allclose(m[k], z[k], atol=1e-5), k  # every convolution is the zoo's, untouched


def test_each_tier_trains_its_default_parameters_at_its_rate(world, added):
    """The full tier: the norm rows at 8e-2; the fast tier: the norm rows and its output convolution at 1e-1."""
    from rtstyle.catalog import read_model_info
    from rtstyle.train.newstyle import DEFAULT_LR, DEFAULT_TRAIN

    full = read_model_info(world / "user" / "mine.onnx").recipe
    fast = read_model_info(world / "user" / "mine-fast.onnx").recipe
    assert (full["train_only"], full["lr"]) == ("norm", DEFAULT_LR["full"]["norm"]) == ("norm", 8e-2)
    assert (fast["train_only"], fast["lr"]) == (DEFAULT_TRAIN["fast"], 1e-1) == ("norm+last", 1e-1)


def test_a_fast_style_from_a_base_without_a_margin_runs_inside_one(world, tmp_path, monkeypatch):
    """A fast base of a design without a margin (fast-broad: it paints a frame of texture along the borders) gives
    a new style of its framed design (fast-margin, as the shipped fast styles): same convolutions, grown."""
    from rtstyle.catalog import read_model_info
    from rtstyle.export import import_onnx

    base = _zoo(tmp_path / "broad" / "zoo-fast.onnx", "fast-broad", "fast")
    monkeypatch.setenv("RTSTYLE_MODELS", os.pathsep.join([str(tmp_path / "user"), str(world / "zoo")]))
    with pytest.raises(SystemExit) as ei:
        main(
            ["styles", "add", str(world / "painting.png"), "--name", "framed", "--data", str(world / "photos"),
             "--base-fast", str(base), "--steps", "2", "--no-window", *TINY]
        )  # fmt: skip
    assert ei.value.code in (0, None)
    made = tmp_path / "user" / "framed-fast.onnx"
    assert read_model_info(made).arch == "fast-margin"
    _, src = import_onnx(base)
    _, mine = import_onnx(made)
    z, m = src.state_dict(), mine.state_dict()
    assert set(m) == set(z) and getattr(mine, "margin", 0) == 16
    last = mine.io_layers().last  # the fast tier trains its output convolution too (DEFAULT_TRAIN)
    out_keys = {n for n, p in mine.named_parameters() if p is last.weight or p is last.bias}
    assert out_keys and not all(torch.allclose(m[k], z[k], atol=1e-5) for k in out_keys)
    assert all(torch.allclose(m[k], z[k], atol=1e-5) for k in m if "norm" not in k and k not in out_keys)


def test_the_fast_tier_alone_for_the_benchmark(world, tmp_path):
    """AddConfig(full=False) trains the fast tier alone (the benchmark's --tier fast) in the whole of --minutes."""
    from rtstyle.train.newstyle import AddConfig, add_style

    cfg = AddConfig(painting=str(world / "painting.png"), name="quick", data=[str(world / "photos")], full=False,
                    steps=2, size=32, style_size=40, vgg_weights=RANDOM_FOR_TESTS, device="cpu",
                    work_dir=str(tmp_path / "work"), models_dir=str(tmp_path / "u"), preview_seconds=0)  # fmt: skip
    result = add_style(cfg, say=lambda line: None)
    assert list(result.tiers) == ["fast"]
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == ["quick-fast.md", "quick-fast.onnx"]


def test_the_fast_tier_can_be_distilled_from_a_full_tier(world, added, tmp_path):
    """AddConfig.teacher_weight adds the MSE to a full tier's output (``teacher``, or the full tier just trained)
    to the fast tier's loss, and the card says which file taught it."""
    from rtstyle.train.newstyle import AddConfig, add_style

    cfg = AddConfig(painting=str(world / "painting.png"), name="taught", data=[str(world / "photos")], full=False,
                    teacher=str(world / "user" / "mine.onnx"), teacher_weight=1e3, steps=2, size=32, style_size=40,
                    vgg_weights=RANDOM_FOR_TESTS, device="cpu", work_dir=str(tmp_path / "work"),
                    models_dir=str(tmp_path / "u"), preview_seconds=0)  # fmt: skip
    result = add_style(cfg, say=lambda line: None)
    assert result.tiers["fast"].last_losses["teacher"] > 0  # type: ignore[attr-defined]
    assert "distilled from `mine.onnx`" in (tmp_path / "u" / "taught-fast.md").read_text()
    cfg.full, cfg.teacher, cfg.name = True, None, "taught2"
    result = add_style(cfg, say=lambda line: None)
    assert result.tiers["fast"].last_losses["teacher"] > 0  # type: ignore[attr-defined]
    assert "distilled from `taught2.onnx`" in (tmp_path / "u" / "taught2-fast.md").read_text()


def test_cross_file_blend_runs_both_models(world, added):
    from rtstyle.runtime.stylizer import Stylizer

    frame = cv2.imread(str(world / "photos" / "p1.jpg"))
    a = Stylizer("mine", device="cpu", tier="full")(frame).astype(float)
    b = Stylizer("bb", device="cpu", tier="full")(frame).astype(float)
    both = Stylizer(device="cpu", tier="full", blend="mine=0.5,bb=0.5")
    assert len({p[0].path for p in both._parts}) == 2  # two files: the frames are blended
    m = both(frame).astype(float)
    assert np.abs(m - (a + b) / 2).max() <= 1.0


def test_export_import_remove_round_trip(world, added, capsys, tmp_path):
    user = world / "user"
    code, _, err = run_cli(["styles", "export", "mine", tmp_path / "mine.onnx", "--tier", "full"], capsys)
    assert code == 0, err
    assert (tmp_path / "mine.onnx").read_bytes() == (user / "mine.onnx").read_bytes()  # a one-style file: copied
    code, _, err = run_cli(["styles", "export", "bb", tmp_path / "bb.onnx"], capsys)  # inside the 3-style zoo
    assert code == 0, err
    from rtstyle.catalog import read_model_info
    from rtstyle.runtime.stylizer import Stylizer

    assert read_model_info(tmp_path / "bb.onnx").style_names == ["bb"]
    frame = cv2.imread(str(world / "photos" / "p2.jpg"))
    alone = Stylizer(tmp_path / "bb.onnx", device="cpu")(frame).astype(int)
    inside = Stylizer("bb", device="cpu", tier="full")(frame).astype(int)
    assert np.abs(alone - inside).mean() < 1.0
    code, _, err = run_cli(["styles", "export", "mine", tmp_path / "mine.onnx"], capsys)
    one_line_error(code, err)  # exists, no --force
    # remove: a zoo style shares its file (refused), mosaic is shipped (refused), mine goes
    code, _, err = run_cli(["styles", "remove", "aa"], capsys)
    one_line_error(code, err)
    code, _, err = run_cli(["styles", "remove", "mosaic"], capsys)
    one_line_error(code, err)
    assert "shipped" in err
    code, _, err = run_cli(["styles", "remove", "mine"], capsys)
    assert code == 0, err
    assert not any(p.name.startswith("mine") for p in user.iterdir())
    code, out, _ = run_cli(["styles", "--json"], capsys)
    assert "mine" not in {s["name"] for s in json.loads(out)["styles"]}
    code, _, err = run_cli(["styles", "remove", "mine"], capsys)
    one_line_error(code, err)
    # import it back: listed again; a second time refused without --force, accepted with it
    code, out, err = run_cli(["styles", "import", tmp_path / "mine.onnx"], capsys)
    assert code == 0, err
    assert (user / "mine.onnx").read_bytes() == (tmp_path / "mine.onnx").read_bytes()
    code, out, _ = run_cli(["styles", "--json"], capsys)
    assert ("mine", "full") in {(s["name"], s["tier"]) for s in json.loads(out)["styles"]}
    code, _, err = run_cli(["styles", "import", tmp_path / "mine.onnx"], capsys)
    one_line_error(code, err)
    code, _, err = run_cli(["styles", "import", tmp_path / "mine.onnx", "--force"], capsys)
    assert code == 0, err
    # a bad file, a shipped name
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    code, _, err = run_cli(["styles", "import", tmp_path / "bad.onnx"], capsys)
    one_line_error(code, err)
    code, _, err = run_cli(["styles", "export", "mosaic", tmp_path / "mosaic.onnx", "--tier", "fast"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["styles", "import", tmp_path / "mosaic.onnx"], capsys)
    one_line_error(code, err)
    assert "shipped" in err and not (user / "mosaic.onnx").exists()


def test_bad_inputs_are_one_line(world, capsys, tmp_path):
    base = ["styles", "add", world / "painting.png", "--name", "x1", "--data", world / "photos", *TINY]
    code, _, err = run_cli(
        ["styles", "add", tmp_path / "missing.jpg", "--name", "x1", "--data", world / "photos"], capsys
    )
    one_line_error(code, err)
    assert "painting not found" in err
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    code, _, err = run_cli(
        ["styles", "add", tmp_path / "broken.png", "--name", "x1", "--data", world / "photos"], capsys
    )
    one_line_error(code, err)
    assert "cannot read" in err
    code, _, err = run_cli(
        ["styles", "add", world / "painting.png", "--name", "mosaic", "--data", world / "photos"], capsys
    )
    one_line_error(code, err)
    assert "shipped" in err and "--force" in err
    # with --force the shipped name passes; no photos is the next line
    code, _, err = run_cli(["styles", "add", world / "painting.png", "--name", "mosaic", "--force"], capsys)
    one_line_error(code, err)
    assert "--data DIR" in err and "shipped" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli([*base[:5], "--data", tmp_path / "empty", *TINY], capsys)
    one_line_error(code, err)
    assert "no images" in err
    code, _, err = run_cli([*base[:5], "--data", world / "painting.png", *TINY], capsys)
    one_line_error(code, err)
    code, _, err = run_cli([*base, "--name", "bad/name"], capsys)
    one_line_error(code, err)
    code, _, err = run_cli([*base, "--base", tmp_path / "nothing.onnx"], capsys)
    one_line_error(code, err)
    for bad in ("0", "-1", "nan"):
        code, _, err = run_cli([*base, "--style-scale", bad], capsys)
        assert code == 2 and "--style-scale" in err and len(err.strip().splitlines()) == 1, err


def test_style_weight_is_balanced_for_the_painting(world, tmp_path):
    """A soft, dark painting (small Gram entries) gets a larger style weight than a bright, busy one, in inverse
    proportion to its Gram energy; --style-scale multiplies it; the card says which weight was used and why."""
    from rtstyle import catalog
    from rtstyle.train.newstyle import AddConfig, add_style, balanced_style_weight, painting_energy

    rng = np.random.default_rng(3)
    soft = tmp_path / "soft.png"
    cv2.imwrite(str(soft), cv2.GaussianBlur(rng.integers(40, 70, (40, 40, 3), dtype=np.uint8), (9, 9), 3))
    busy = world / "painting.png"
    e_soft, e_busy = (painting_energy(p, 40, RANDOM_FOR_TESTS, False) for p in (soft, busy))
    assert 0 < e_soft < e_busy
    assert balanced_style_weight(e_soft, 1e5) / balanced_style_weight(e_busy, 1e5) == pytest.approx(e_busy / e_soft)
    cfg = AddConfig(painting=str(soft), name="softer", data=[str(world / "photos")], steps=1, size=32,
                    style_size=40, vgg_weights=RANDOM_FOR_TESTS, device="cpu", fast=False, style_scale=2.0,
                    work_dir=str(tmp_path / "work"), models_dir=str(tmp_path / "models"))  # fmt: skip
    add_style(cfg, say=lambda line: None)
    recipe = catalog.read_model_info(tmp_path / "models" / "softer.onnx").recipe
    assert recipe["style_weight"] == pytest.approx(2 * balanced_style_weight(e_soft, 1e5), rel=1e-6)
    card = (tmp_path / "models" / "softer.md").read_text()
    assert "balanced for this painting" in card and "x2 by --style-scale" in card


def test_no_zoo_installed_is_one_line(world, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr("rtstyle.catalog.shipped_models_dir", lambda: None)  # the day the zoo ships, too
    code, _, err = run_cli(
        ["styles", "add", world / "painting.png", "--name", "x2", "--data", world / "photos"], capsys
    )
    one_line_error(code, err)
    assert "zoo-full.onnx" in err and "--base" in err


def test_the_shipped_fast_base_is_found_but_not_listed(world, tmp_path, monkeypatch):
    """The fast tier ships one file per style and its multi-style network only as the base of `styles add`, in
    the shipped models/base/: found there when no model folder holds a zoo-fast.onnx, never a catalogue style."""
    from rtstyle import catalog
    from rtstyle.train.newstyle import find_base

    shipped = tmp_path / "shipped"
    make_contract_model(shipped / "mosaic-fast.onnx", styles=("mosaic",), tier="fast")
    base = _zoo(shipped / "base" / "zoo-fast.onnx", "tiny-fast", "fast")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: shipped)
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "user"))
    assert find_base("fast") == base
    assert find_base("full") is None
    listed = [(s.name, s.tier) for s in catalog.list_styles()]
    assert listed == [("mosaic", "fast")]  # the base's styles are not listed a second time
    monkeypatch.setenv("RTSTYLE_MODELS", str(world / "zoo"))  # a model folder's own zoo-fast.onnx goes first
    assert find_base("fast") == world / "zoo" / "zoo-fast.onnx"


def test_ctrl_c_during_add_keeps_the_best_and_video_data(world, capsys, tmp_path, monkeypatch):
    """A video as --data (frames sampled by the project's decoder); KeyboardInterrupt from the progress callback at
    step 3 stops training, the best state is still exported, and the fast tier is skipped with a note."""
    import rtstyle.cli.styles as cli_styles

    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    steps_seen: list[int] = []
    update = cli_styles._AddProgress.update

    def interrupt(self, tier, status):
        update(self, tier, status)
        steps_seen.append(status.step)
        if status.step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_styles._AddProgress, "update", interrupt)
    code, out, err = run_cli(
        ["styles", "add", world / "painting.png", "--name", "clipstyle", "--data", clip, "--minutes", "5", "--json",
         "--no-window", *TINY], capsys
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["interrupted"] and res["tiers"]["full"]["stopped_by"] == "interrupt" and steps_seen == [1, 2, 3]
    assert "fast" not in res["tiers"] and any("fast tier" in n for n in res["notes"])
    assert res["tiers"]["full"]["best_step"] <= 3
    assert (world / "user" / "clipstyle.onnx").is_file() and not (world / "user" / "clipstyle-fast.onnx").exists()
    assert "frames sampled" in err
    run_cli(["styles", "remove", "clipstyle"], capsys)


def test_holdout_photos_are_never_trained_on(world, tmp_path):
    """The benchmark passes the eval's held-out list (AddConfig.holdout): listing every photo leaves none to train on."""
    from rtstyle.errors import InputError
    from rtstyle.train.newstyle import AddConfig, add_style

    held = tmp_path / "held.txt"
    held.write_text("\n".join(f"p{i}.jpg" for i in range(5)) + "\n")
    cfg = AddConfig(painting=str(world / "painting.png"), name="heldout", data=[str(world / "photos")],
                    holdout=str(held), steps=2, size=32, style_size=40, vgg_weights=RANDOM_FOR_TESTS, device="cpu",
                    fast=False, work_dir=str(tmp_path / "work"))  # fmt: skip
    with pytest.raises(InputError, match="no images"):
        add_style(cfg, say=lambda line: None)
    assert not (world / "user" / "heldout.onnx").exists()


# ---------------------------------------------------------------- the training library's options


def _cfg(tmp_path: Path, world: Path, **kw: Any) -> TrainConfig:
    return tiny_train_config(tmp_path, [world / "photos"], [world / "painting.png"], **{"steps": 6, **kw})


def test_train_only_freezes_and_keeps_the_output_lr_scale():
    net = build_net("tiny", 2)
    n_norm = set_trainable(net, "norm")
    assert n_norm == sum(p.numel() for k, p in net.named_parameters() if ".norm." in k)
    assert all(g["params"] and all(p.requires_grad for p in g["params"]) for g in param_groups(net, 1e-2, 1 / 255))
    assert len(param_groups(net, 1e-2, 1 / 255)) == 1  # the output conv is frozen: no group for it
    set_trainable(net, "norm+last")
    groups = param_groups(net, 1e-2, 1 / 255)
    last = net.io_layers().last
    assert [g["lr"] for g in groups] == [1e-2, pytest.approx(1e-2 / 255)]
    assert {id(p) for p in groups[1]["params"]} == {id(last.weight), id(last.bias)}
    set_trainable(net, "all")
    assert sum(len(g["params"]) for g in param_groups(net, 1e-3)) == len(list(net.parameters()))


def test_frozen_parameters_do_not_move(world, tmp_path):
    zoo = world / "zoo" / "zoo-full.onnx"
    result = train(_cfg(tmp_path, world, steps=3, init_from=str(zoo), train_only="norm", lr=1e-2, style_names=["n"]))
    from rtstyle.export import import_onnx

    _, src = import_onnx(zoo)
    after = torch.load(result.checkpoint, weights_only=False)["net"]
    s = src.state_dict()
    assert all(torch.equal(after[k], s[k]) for k in after if ".norm." not in k)
    assert not torch.allclose(after["down.1.norm.weight"], s["down.1.norm.weight"].mean(0, keepdim=True))


def test_max_minutes_stops_training(world, tmp_path):
    result = train(_cfg(tmp_path, world, steps=10**6, max_minutes=0.002))  # 0.12 s
    assert result.stopped_by == "minutes" and 0 < result.steps < 10**6
    assert torch.load(result.checkpoint, weights_only=False)["recipe"]["stopped_by"] == "minutes"


def test_a_deadline_stops_training(world, tmp_path):
    """stop_at (a time.time()) stops the loop whatever max_minutes allows: `styles add --minutes` bounds the command."""
    import time

    result = train(_cfg(tmp_path, world, steps=10**6, max_minutes=60, stop_at=time.time() + 1))
    assert result.stopped_by == "minutes" and result.steps < 10**6  # neither the steps nor the 60 minutes


class _ReadClock:
    """The training loop's clock, moved 10 ms each time it is read: a time limit then ends after the same steps
    however busy the machine is (a real clock gave one step in 1.2 s on a loaded CI machine)."""

    def __init__(self) -> None:
        self.now = 1.0e9

    def perf_counter(self) -> float:
        self.now += 0.01
        return self.now

    time = perf_counter


def test_lr_decay_falls_linearly_to_zero_at_the_time_limit(world, tmp_path, monkeypatch):
    """lr_decay: the rate at each step is lr x the share of the time limit left (the nearer of max_minutes and
    stop_at), so the last steps of a bounded run train at nearly 0; off, the rate stays."""
    import rtstyle.train.loop as loop

    clock = _ReadClock()
    monkeypatch.setattr(loop, "time", clock)

    def last_lr(**kw: Any) -> float:
        result = train(_cfg(tmp_path / str(len(kw)), world, steps=10**6, lr=1e-2, **kw))
        assert result.stopped_by == "minutes" and result.steps > 3
        return torch.load(result.checkpoint, weights_only=False)["opt"]["param_groups"][0]["lr"]

    assert last_lr(max_minutes=0.02) == pytest.approx(1e-2)
    assert last_lr(max_minutes=0.02, lr_decay=True) < 0.5e-2
    assert last_lr(max_minutes=60, stop_at=clock.time() + 2, lr_decay=True) < 0.5e-2


def test_each_tier_has_its_preview_named_as_its_model_file(tmp_path):
    from rtstyle.train.newstyle import AddConfig, tier_stem

    cfg = AddConfig(painting="p.jpg", name="mine", preview=str(tmp_path / "look.at.me.jpg"))
    assert cfg.preview_path() == cfg.preview_path("full") == tmp_path / "look.at.me.jpg"
    assert cfg.preview_path("fast") == tmp_path / "look.at.me-fast.jpg"
    cfg = AddConfig(painting="p.jpg", name="mine", work_dir=str(tmp_path / "w"))
    assert cfg.preview_path("fast") == tmp_path / "w" / "preview-fast.jpg"
    assert (tier_stem("mine", "full"), tier_stem("mine", "fast")) == ("mine", "mine-fast")


def test_add_splits_minutes_into_deadlines_for_the_whole_command():
    from rtstyle.train.newstyle import END_RESERVE_SECONDS, TIER_SHARE, _tier_deadline, tier_shares

    both = tier_shares(["full", "fast"])
    assert both == pytest.approx([TIER_SHARE["full"], TIER_SHARE["fast"]]) and sum(both) == pytest.approx(1)
    assert both[0] > both[1]  # the slower full network gets the larger share
    assert tier_shares(["full"]) == [1.0] and tier_shares(["fast"]) == [1.0]
    # ten minutes, two tiers: the full tier stops at the end of its share less its export reserve, the fast tier
    # at 10 minutes less it
    reserve = min(END_RESERVE_SECONDS, 0.05 * 600 * both[0])
    assert _tier_deadline(1000.0, 10, 0, both) == pytest.approx(1000.0 + 600 * both[0] - reserve)
    reserve = min(END_RESERVE_SECONDS, 0.05 * 600 * both[1])  # at most 5 % of the share
    assert _tier_deadline(1000.0, 10, 1, both) == pytest.approx(1000.0 + 600 - reserve)
    assert _tier_deadline(0.0, 0.1, 0, [1.0]) == pytest.approx(6 - 0.3)  # a short run keeps 5 % of its share


def test_best_state_is_kept_and_ctrl_c_exports_it(world, tmp_path):
    """With val_every=1 the loss on the fixed photos is measured after every step; a KeyboardInterrupt from the
    callback stops the run and the state exported is the one with the lowest validation loss."""
    vals: dict[int, float] = {}

    def on_step(status):
        vals[status.step] = status.val
        if status.step == 4:
            raise KeyboardInterrupt

    cfg = _cfg(tmp_path, world, steps=50, val_every=1, keep_best_on_interrupt=True, lr=0.05, export=True)
    result = train(cfg, on_step=on_step)
    assert result.interrupted and result.stopped_by == "interrupt" and result.steps == 4
    vals[0] = result.first_val
    best_step = min(vals, key=vals.get)
    assert result.best_step == best_step and result.best_val == pytest.approx(vals[best_step])
    assert result.onnx is not None and result.onnx.is_file()
    recipe = torch.load(result.checkpoint, weights_only=False)["recipe"]
    assert recipe["best_step"] == best_step and recipe["stopped_by"] == "interrupt"
    # without keep_best_on_interrupt the interrupt propagates
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "b", world, steps=50, val_every=1), on_step=on_step)


def test_preview_file_is_written(world, tmp_path):
    preview = tmp_path / "p" / "preview.jpg"
    train(_cfg(tmp_path, world, steps=2, preview_file=str(preview), preview_seconds=0.0))
    img = cv2.imread(str(preview))
    assert img is not None and img.shape == (64, 32 * 5, 3)  # photos row + stylized row; painting + 4 photos
    assert not list(preview.parent.glob(".*part*"))


def test_nearest_init_picks_the_zoo_style_nearest_the_painting(world, tmp_path):
    from rtstyle.train.loop import nearest_row

    result = train(
        _cfg(tmp_path, world, steps=1, init_from=str(world / "zoo" / "zoo-full.onnx"), init_row="nearest",
             style_names=["n"], train_only="norm")
    )  # fmt: skip
    note = torch.load(result.checkpoint, weights_only=False)["init"]
    assert "nearest style by Gram distance: n from" in note
    assert callable(nearest_row)


def test_video_frames_are_sampled_evenly(tmp_path):
    from rtstyle.train.newstyle import sample_video

    clip = make_clip(tmp_path / "c.mp4", frames=23)
    assert sample_video(clip, tmp_path / "f", 5, 32) == 5
    assert len(list((tmp_path / "f").glob("c_*.jpg"))) == 5
    assert sample_video(clip, tmp_path / "g", 100, 32) == 23  # a short video: every frame


def tool_error(tool: str, *args: str) -> str:
    """Run ``tools/TOOL`` with ``args``, check that it fails with one line and no traceback, return that line."""
    import subprocess
    import sys

    path = Path(__file__).resolve().parent.parent / "tools" / tool
    proc = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    return lines[0]


def test_bench_script_says_the_zoo_is_missing(tmp_path):
    assert "zoo-full.onnx" in tool_error("new_style_bench.py", "--zoo", str(tmp_path / "zoo-full.onnx"))


def test_recipe_study_says_the_assets_are_missing(tmp_path):
    assert "not found" in tool_error(
        "studies/new_style_recipe.py", "impression_sunrise", "base={}", "--assets", str(tmp_path)
    )
