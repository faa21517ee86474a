"""The CPU fast tier (rtstyle.nets.fast): registration, shapes at odd sizes, export parity, multi-style, compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import perturbed_net, same_weights  # noqa: E402

from rtstyle.contract import StyleEntry  # noqa: E402
from rtstyle.export import ContractModule, check_parity, export_onnx  # noqa: E402
from rtstyle.nets import build_net, get_arch  # noqa: E402
from rtstyle.nets.fast import FAST_ARCHS, FusedCondNorm, build_fast, count_macs  # noqa: E402
from rtstyle.nets.layers import CondInstanceNorm  # noqa: E402

FAST = sorted(FAST_ARCHS)


def _styles(n: int) -> list[StyleEntry]:
    return [StyleEntry(f"s{i}", f"S{i}") for i in range(n)]


def test_fast_archs_are_registered_in_the_fast_tier() -> None:
    assert "fast" in FAST
    for name in FAST:
        arch = get_arch(name)
        assert arch.tier == "fast"
        net = build_net(name, 3)
        assert net.arch_name == name
        assert net.num_styles == 3
        assert net.pad_multiple % 8 == 0 and net.min_size >= net.pad_multiple


@pytest.mark.parametrize("name", FAST)
def test_forward_shapes_and_grad(name: str) -> None:
    torch.manual_seed(0)
    net = build_net(name, 2)
    m = net.pad_multiple
    for h, w in [(net.min_size, net.min_size), (3 * m, 5 * m), (9 * m, 4 * m)]:
        x = torch.rand(2, 3, h, w)
        y = net(x, torch.tensor([[1.0, 0.0], [0.3, 0.7]]))
        assert y.shape == (2, 3, h, w)
        assert torch.isfinite(y).all()
    y.mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", FAST)
def test_contract_wrapper_handles_odd_and_tiny_frames(name: str) -> None:
    module = ContractModule(build_net(name, 1).eval())
    for h, w in [(1, 1), (3, 5), (17, 31), (37, 70)]:
        frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)
        with torch.no_grad():
            out = module(frame)
        assert out.shape == (1, h, w, 3) and out.dtype == torch.uint8


def test_fused_norm_matches_cond_instance_norm() -> None:
    torch.manual_seed(0)
    ref = CondInstanceNorm(8, 3)
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    fused = FusedCondNorm(8, 3)
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(1, 8, 6, 10) * 3 + 1
    style = torch.tensor([[0.2, 0.5, 0.3]])
    torch.testing.assert_close(fused(x, style), ref(x, style), rtol=1e-5, atol=1e-5)
    xb = torch.randn(3, 8, 6, 10)
    sb = torch.eye(3)
    torch.testing.assert_close(fused(xb, sb), ref(xb, sb))


def test_multi_style_selects_and_blends() -> None:
    torch.manual_seed(0)
    net = build_net("fast", 2).eval()
    with torch.no_grad():
        for mod in net.modules():  # make the two styles' scale/shift clearly different
            if isinstance(mod, CondInstanceNorm):
                mod.weight[1].mul_(-1.5)
                mod.bias[1].add_(0.5)
        x = torch.rand(1, 3, 32, 48)
        a = net(x, torch.tensor([[1.0, 0.0]]))
        b = net(x, torch.tensor([[0.0, 1.0]]))
        mix = net(x, torch.tensor([[0.5, 0.5]]))
    assert (a - b).abs().mean() > 1e-2
    assert (mix - a).abs().mean() > 1e-3 and (mix - b).abs().mean() > 1e-3


@pytest.mark.parametrize("name", FAST)
def test_export_parity_single_style(tmp_path: Path, name: str) -> None:
    torch.manual_seed(1)
    path = export_onnx(build_net(name, 1), tmp_path / f"{name}.onnx", _styles(1), name, "fast", {"t": 1}, 256)
    assert path.is_file()  # export_onnx checks parity at odd and tiny sizes (1x1, 3x5, 17x31, 67x45 ...)


def test_export_parity_multi_style_and_large_odd_frame(tmp_path: Path) -> None:
    import onnxruntime as ort

    torch.manual_seed(2)
    net = build_net("fast", 3)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, CondInstanceNorm):
                mod.weight.normal_(1.0, 0.3)
                mod.bias.normal_(0.0, 0.3)
    path = export_onnx(net, tmp_path / "m.onnx", _styles(3), "fast", "fast", {"t": 1}, 256)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (181, 323, 3), dtype=np.uint8)
    worst = check_parity(ContractModule(net.eval()), path, 3, frames=[frame, frame, frame])
    assert worst <= 1.0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["frame", "style"]
    outs = [session.run(None, {"frame": frame[None], "style": np.eye(3, dtype=np.float32)[i]})[0] for i in range(3)]
    assert outs[0].shape == (1, 181, 323, 3)
    assert np.abs(outs[0].astype(int) - outs[1].astype(int)).mean() > 1.0


def test_flat_frames_are_stable_and_match_onnxruntime(tmp_path: Path) -> None:
    """A flat frame (black, grey) must not hit instance norm with an exactly constant map (zero variance)."""
    torch.manual_seed(3)
    net = build_net("fast", 1)
    path = export_onnx(net, tmp_path / "flat.onnx", _styles(1), "fast", "fast", {"t": 1}, 256, check=False)
    frames = [np.full((h, w, 3), v, np.uint8) for (h, w), v in [((1, 1), 0), ((40, 64), 0), ((37, 53), 128)]]
    assert check_parity(ContractModule(net.eval()), path, 1, frames=frames) <= 1.0


def test_compute_bound_at_640x360() -> None:
    johnson = count_macs(build_net("johnson", 1), 360, 640)
    assert 30e9 < johnson < 40e9  # the counter agrees with the known ~35 GMAC
    fast = count_macs(build_net("fast", 1), 360, 640)
    assert fast < 0.6e9  # at least ~60x less compute than the full tier
    assert johnson / fast > 50
    for name in FAST:
        assert count_macs(build_net(name, 1), 360, 640) < 1.2e9


def test_design_overrides_build_other_shapes() -> None:
    for kw in [{"stem": "conv", "up": "nearest", "out_from": 2}, {"internal_scale": 2, "guided": False}]:
        net = build_fast("fast", 1, **kw)
        m = net.pad_multiple
        assert net(torch.rand(1, 3, 2 * m, 3 * m)).shape == (1, 3, 2 * m, 3 * m)


def _reference_contract(net: torch.nn.Module, frame: torch.Tensor) -> torch.Tensor:
    """Contract v1 spelled out the slow way: BGR uint8 -> RGB [0, 1] -> net -> [0, 255] BGR uint8."""
    h, w = frame.shape[1:3]
    m = int(getattr(net, "pad_multiple", 4))
    x = frame.permute(0, 3, 1, 2).flip(1).float() / 255.0
    x = torch.nn.functional.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")
    y = net(x, torch.ones(1, 1))[:, :, :h, :w]
    return (y.clamp(0, 1) * 255).round().flip(1).permute(0, 2, 3, 1).to(torch.uint8)


@pytest.mark.parametrize("arch", ["fast", "fast-hq", "fast-lean", "johnson", "fast-guided"])
def test_colour_order_and_scale_are_folded_into_the_weights_exactly(arch: str) -> None:
    net = perturbed_net(arch, 1, scale=0.05).eval()  # a non-trivial colour response: the channels differ
    before = {k: v.clone() for k, v in net.state_dict().items()}
    wrapper = ContractModule(net).eval()
    assert wrapper.folded == (arch != "fast-guided")  # the guided filter reads the frame's values itself
    frame = torch.randint(0, 256, (1, 48, 72, 3), dtype=torch.uint8)
    with torch.no_grad():
        got, want = wrapper(frame), _reference_contract(net, frame)
    diff = (got.int() - want.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3  # float rounding only
    assert (want[..., 0].float() - want[..., 2].float()).abs().mean() > 1  # B and R differ: the order is tested
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the caller's net is untouched


def test_folding_refuses_a_last_layer_of_the_wrong_width() -> None:
    from rtstyle.nets.layers import fold_frame_format

    with pytest.raises(ValueError, match="channels"):
        fold_frame_format(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 5, 3), shuffle=1)


@pytest.mark.parametrize("name", ["fast-lean", "fast-slim", "fast-bridge"])
def test_nhwc_head_gives_the_depth_to_space_wrappers_frames(name: str) -> None:
    net = perturbed_net(name, 3).eval()
    head, plain = ContractModule(net).eval(), ContractModule(net, nhwc_head=False).eval()
    assert head.features is not None and plain.features is None
    for (h, w), style in [((1, 1), [1.0, 0, 0]), ((17, 31), [0, 1.0, 0]), ((45, 80), [0.2, 0.5, 0.3])]:
        frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)
        with torch.no_grad():
            got, want = head(frame, torch.tensor(style)), plain(frame, torch.tensor(style))
        assert got.shape == want.shape == (1, h, w, 3) and got.dtype == torch.uint8
        diff = (got.int() - want.int()).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3  # float rounding only


def test_transposed_upsampling_is_the_sub_pixel_layer_without_its_per_position_bias() -> None:
    from rtstyle.nets.fast import SepConv

    torch.manual_seed(0)
    shuffle, transpose = SepConv(8, 4, up_mode="shuffle", upsample=2), SepConv(8, 4, up_mode="transpose", upsample=2)
    with torch.no_grad():
        shuffle.pw.bias.zero_()
        transpose.dw.load_state_dict(shuffle.dw.state_dict())
        # pointwise row c*4 + dy*2 + dx is the transposed kernel's [in, c, dy, dx]
        transpose.pw.weight.copy_(shuffle.pw.weight[:, :, 0, 0].reshape(4, 2, 2, 8).permute(3, 0, 1, 2))
        x, style = torch.randn(2, 8, 6, 10), torch.ones(2, 1)
        assert torch.allclose(shuffle(x, style), transpose(x, style), atol=1e-5)
    assert transpose.pw.bias is None


def test_designs_with_a_dense_output_keep_the_depth_to_space_head() -> None:
    assert ContractModule(build_net("fast", 1)).features is None
    assert ContractModule(build_net("johnson", 1)).features is None


@pytest.mark.parametrize("name", ["fast-lean", "fast-bridge"])
def test_nhwc_head_export_has_no_output_depth_to_space_and_imports_back(tmp_path: Path, name: str) -> None:
    import onnx

    from rtstyle.export import import_onnx

    net = perturbed_net(name, 3, seed=1).eval()
    path = export_onnx(net, tmp_path / "lean.onnx", _styles(3), name, "fast", {}, 256)  # parity checked
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert "DepthToSpace" not in ops and ops.count("ConvTranspose") == 1  # the body's 2x2 upsampling
    assert {"head_weight", "head_bias"} <= {i.name for i in model.graph.initializer}
    _, back = import_onnx(path)
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values(), strict=True):
        assert same_weights(a, b, atol=1e-5), k


def test_a_trained_lean_net_grows_into_a_deeper_or_wider_one_with_the_same_output(tmp_path: Path) -> None:
    """grow_fast / ``--init-from`` across designs: the grown net computes exactly what the trained one does, and
    what is new (identity blocks, channels the old ones do not see yet) still gets gradients, so it learns."""
    from rtstyle.errors import InputError
    from rtstyle.nets.fast import grow_fast
    from rtstyle.train.loop import init_weights

    src = perturbed_net("fast-lean", 3).eval()
    x, style = torch.rand(2, 3, 48, 64), torch.softmax(torch.randn(2, 3), 1)
    want = src(x, style)
    for kw in ({"blocks": 5}, {"channels": (16, 48, 96)}, {"channels": (16, 48, 64), "bridge": True}):
        grown = grow_fast(src, build_fast("fast-lean", 3, **kw))
        assert torch.equal(grown(x, style), want)
        grown(x, style).square().mean().backward()
        if "blocks" in kw:
            assert grown.res[4].b.norm.weight.grad.abs().sum() > 0  # the identity block starts to learn
        elif "bridge" in kw:
            assert not grown.bridge.any() and grown.bridge.grad.abs().sum() > 0  # closed at first, and it opens
        else:
            assert grown.res[0].a.pw.weight.grad[:64, 64:].abs().sum() > 0  # old channels reading new ones
    with pytest.raises(ValueError, match="cannot grow"):
        grow_fast(build_net("fast-deep", 3), build_net("fast-lean", 3))  # it would drop two blocks

    # the training's --init-from does it from a checkpoint of another fast design, and says so
    ckpt = tmp_path / "lean.pt"
    names = [{"name": n} for n in "abc"]
    torch.save({"arch": "fast-lean", "num_styles": 3, "net": src.state_dict(), "styles": names}, ckpt)
    deep = build_net("fast-deep", 3)
    note, _ = init_weights(deep, str(ckpt), "fast-deep", ["a", "b", "c"])
    assert "grown from fast-lean" in note
    assert torch.equal(deep.eval()(x, style), want)
    with pytest.raises(InputError, match="it is a fast-lean network"):
        init_weights(build_net("johnson", 3), str(ckpt), "johnson", ["a"])


def test_a_margin_runs_the_net_on_the_frame_with_its_edges_mirrored_and_crops_them_off(tmp_path: Path) -> None:
    """fast-margin: fast-broad's weights (it grows from one unchanged) run on the frame with 16 px of its edges
    mirrored around it, cropped off again, in training (forward) and in the exported graph alike (the wrapper adds
    the margin itself on both of its paths), so that what the zero padding makes at the borders never reaches the
    frame; frames of 16 px or less work too."""
    import torch.nn.functional as F

    from rtstyle.nets.fast import add_margin, grow_fast

    broad = perturbed_net("fast-broad", 2).eval()
    framed = grow_fast(broad, build_net("fast-margin", 2)).eval()
    assert framed.margin == 16 and broad.margin == 0
    x, style = torch.rand(2, 3, 40, 56), torch.softmax(torch.randn(2, 2), 1)
    padded = add_margin(x, 16)
    assert torch.equal(padded, F.pad(x, (16, 16, 16, 16), mode="reflect"))
    assert add_margin(torch.rand(1, 3, 3, 5), 16).shape == (1, 3, 49, 49)  # lengthened first, then mirrored
    with torch.no_grad():
        want = broad(padded, style)[:, :, 16:56, 16:72]
        assert torch.equal(framed(x, style), want)
        assert not torch.allclose(broad(x, style), want, atol=1e-3)  # the border changes what the net paints
    head, plain = ContractModule(framed).eval(), ContractModule(framed, nhwc_head=False).eval()
    assert head.features is not None and (head.lead, head.trail) == (plain.lead, plain.trail) == (40, 24)
    for h, w in [(1, 1), (17, 31), (45, 80)]:
        frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)
        with torch.no_grad():
            got, ref = head(frame, torch.tensor([0.0, 1.0])), plain(frame, torch.tensor([0.0, 1.0]))
        assert got.shape == (1, h, w, 3) and (got.int() - ref.int()).abs().max() <= 1
    path = export_onnx(framed, tmp_path / "m.onnx", _styles(2), "fast-margin", "fast", {"t": 1}, 192)
    assert path.is_file()  # parity at odd and tiny sizes checked by the export
    with pytest.raises(ValueError, match="multiple of 8"):
        build_fast("fast-broad", 1, margin=12)


def test_dilated_blocks_reach_twice_as_far_and_grow_from_a_trained_fast_margin(tmp_path: Path) -> None:
    """fast-reach: fast-margin-deep (5 residual blocks) whose two added blocks space their depthwise taps 2 apart.
    Both grow from a trained fast-margin with the same output; the dilated pair reaches further at 1/8 for the
    same convolutions' shapes and work, and the file exports with parity."""
    from rtstyle.nets.fast import grow_fast

    src = perturbed_net("fast-margin", 1).eval()
    x, style = torch.rand(1, 3, 96, 128), torch.ones(1, 1)
    reach = {}
    for name in ("fast-margin-deep", "fast-reach"):
        grown = grow_fast(src, build_net(name, 1)).eval()
        assert torch.equal(grown(x, style), src(x, style))
        dilations = [blk.a.dw.dilation[0] for blk in grown.res]
        assert dilations == ([1, 1, 1, 2, 2] if name == "fast-reach" else [1] * 5)
        # the reach at 1/8 of the residual blocks' depthwise chain (instance norm makes every pixel count a little)
        xi = torch.rand(1, 64, 64, 64, requires_grad=True)
        y = xi
        for blk in grown.res:
            for layer in (blk.a, blk.b):
                y = layer.dw(y)
        y[0, :, 32, 32].sum().backward()
        cols = (xi.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero()
        reach[name] = int(cols.max() - cols.min()) + 1
    assert reach == {"fast-margin-deep": 21, "fast-reach": 29}  # 10 taps of 3, four of them 2 apart
    assert count_macs(build_net("fast-reach", 1), 360, 640) == count_macs(build_net("fast-margin-deep", 1), 360, 640)
    path = export_onnx(build_net("fast-reach", 1).eval(), tmp_path / "r.onnx", _styles(1), "fast-reach", "fast",
                       {"t": 1}, 192)  # fmt: skip
    assert path.is_file()  # parity at odd and tiny sizes checked by the export
    with pytest.raises(ValueError, match="dilated"):
        build_fast("fast-margin", 1, dilated=4)


def test_the_exported_file_runs_the_frame_deeper_inside_its_margin_than_training(tmp_path: Path) -> None:
    """fast-margin trains 16 px from the padding but its file runs the frame 40 px from the top and left and 24 from
    the bottom and right (export_margin), where the padding's mark on the edges has faded (candy's corner disc:
    tools/studies/edge_band.py): the exported graph is the net on the frame mirrored out by 40 / 24 and cropped,
    the model card says so, and a lead off the net's 8-px grid or a side under the training margin is refused."""
    import onnxruntime as ort

    from rtstyle.nets.fast import add_margin
    from rtstyle.train.loop import margin_line

    net = perturbed_net("fast-margin", 1).eval()
    assert net.margin == 16 and net.export_margin == (40, 24)
    x = torch.rand(1, 3, 45, 50)
    padded = add_margin(x, 40, 24)
    assert padded.shape == (1, 3, 109, 114)
    assert torch.equal(padded, torch.nn.functional.pad(x, (40, 24, 40, 24), mode="reflect"))
    assert add_margin(torch.rand(1, 3, 5, 3), 40, 24).shape == (1, 3, 105, 105)  # lengthened to 41 first
    frame = (x[0].permute(1, 2, 0).flip(2) * 255).round().to(torch.uint8)[None]  # the same picture, uint8 BGR
    rgb = frame[0].flip(2).permute(2, 0, 1)[None].float() / 255
    framed = add_margin(rgb, 40, 24)
    framed = torch.nn.functional.pad(framed, (0, -framed.shape[3] % 8, 0, -framed.shape[2] % 8), mode="replicate")
    with torch.no_grad():
        want = net(framed, framed=True)[:, :, 40:85, 40:90].clamp(0, 1)[0].permute(1, 2, 0).flip(2) * 255
    path = export_onnx(net, tmp_path / "m.onnx", _styles(1), "fast-margin", "fast", {"t": 1}, 192)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: frame.numpy()})[0][0]
    assert got.shape == (45, 50, 3) and np.abs(got.astype(np.float32) - want.numpy()).max() <= 1.5
    assert margin_line(net) == [
        "- runs each frame inside a margin of its own edges mirrored, cropped off: 40 px at the top and left, 24 at "
        "the bottom and right (16 px in training)"
    ]
    assert margin_line(build_net("fast-broad", 1)) == []
    with pytest.raises(ValueError, match="grid"):
        build_fast("fast-margin", 1, export_margin=(36, 24))
    with pytest.raises(ValueError, match="training margin"):
        build_fast("fast-margin", 1, export_margin=(40, 8))


def test_reexport_writes_a_file_again_with_the_current_graph_and_its_card_line(tmp_path: Path) -> None:
    """tools/reexport.py: a fast-margin file exported when the design ran its frame 16 px inside the margin is
    written again in place with today's graph (40 / 24), its metadata unchanged, its weights the same (the output
    is what a fresh export of those weights gives), and the card gets the margin line once, however often it runs."""
    import importlib.util

    import onnxruntime as ort

    spec = importlib.util.spec_from_file_location("reexport", Path(__file__).parent.parent / "tools" / "reexport.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    old = perturbed_net("fast-margin", 1).eval()
    now = build_fast("fast-margin", 1)
    now.load_state_dict(old.state_dict())
    old.export_margin = (16, 16)
    path = export_onnx(old, tmp_path / "s-fast.onnx", _styles(1), "fast-margin", "fast", {"steps": 5}, 192)
    card = tmp_path / "s-fast.md"
    card.write_text("# s-fast\n\n- steps: 5\n- file: s-fast.onnx, 0.2 MB\n- data: 3 photos\n")
    fresh = export_onnx(now, tmp_path / "fresh.onnx", _styles(1), "fast-margin", "fast", {"steps": 5}, 192)
    before = tool.metadata(path)
    frame = np.random.default_rng(0).integers(0, 256, (1, 72, 96, 3), dtype=np.uint8)

    def run(p: Path) -> np.ndarray:
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        return sess.run(None, {sess.get_inputs()[0].name: frame})[0]

    assert not np.array_equal(run(path), run(fresh))
    for _ in range(2):
        assert tool.main([str(path)]) == 0
    assert tool.metadata(path) == before
    assert np.abs(run(path).astype(int) - run(fresh).astype(int)).max() <= 1
    lines = card.read_text().splitlines()
    margin = [i for i, x in enumerate(lines) if x.startswith(tool.MARGIN_PREFIX)]
    assert len(margin) == 1 and lines[margin[0] - 1].startswith("- file:") and "40 px at the top" in lines[margin[0]]
