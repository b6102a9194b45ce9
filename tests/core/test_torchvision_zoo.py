"""Every torchvision classification model against PyTorch itself.

For each model in ``torchvision.models.list_models(module=torchvision.models)`` the
imported Network must give the parameter count of the built module, its output shape,
and FlopCounterMode's forward and forward + backward totals (batch 2, eval mode,
auxiliary heads off), all measured on the meta device without the importer. On the
meta device scaled_dot_product_attention runs as matrix products that FlopCounterMode
counts; on the CPU it counts nothing for it: the Network's torch convention follows the
CPU, and what the meta device adds must equal the engine's "skipped" figure. A tiny ViT
checks the CPU side for real. A model the importer cannot take is refused in one short
line naming each missing operation once, with a count.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.common.errors import ModelImportError
from core.graph.analysis import AnalysisOptions, analyze
from core.torchbridge.importer import import_model, network_from_module

BATCH = 2
ALL = torchvision.models.list_models(module=torchvision.models)
SHAPES = {"inception_v3": (3, 299, 299)}
AUX = {"googlenet", "inception_v3"}
# The largest models: still run in CI (not deselected there), marked so a quick local
# run can leave them out with -m "not slow".
SLOW = {"densenet161", "densenet169", "densenet201", "efficientnet_b4", "efficientnet_b5",
        "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_m", "efficientnet_v2_l",
        "convnext_large", "vit_h_14", "vit_l_16"}

pytestmark = pytest.mark.filterwarnings(
    "ignore:The default weight initialization of:FutureWarning",
    "ignore:The default weight initialization of:UserWarning")


def _build_meta(name: str) -> nn.Module:
    """The torchvision model with its parameters on the meta device (builders that
    compute on real tensors run on the CPU, each layer's weights moved as it is made)."""
    kwargs = {"weights": None, **({"aux_logits": False} if name in AUX else {})}
    try:
        with torch.device("meta"):
            return getattr(torchvision.models, name)(**kwargs).eval()
    except NotImplementedError:
        pass
    original = nn.Module.register_parameter

    def to_meta(module, key, param):
        if param is not None:
            param = nn.Parameter(param.detach().to("meta"), param.requires_grad)
        original(module, key, param)

    nn.Module.register_parameter = to_meta
    try:
        return getattr(torchvision.models, name)(**kwargs).eval().to("meta")
    finally:
        nn.Module.register_parameter = original


def _measure(model: nn.Module, shape: tuple, device: str = "meta") -> tuple:
    x = torch.zeros((BATCH, *shape), device=device)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:  # the backward of the same pass
        out.sum().backward()
    params = sum(p.numel() for p in model.parameters())
    return params, tuple(out.shape[1:]), forward, forward + counter.get_total_flops()


def _engine(network) -> tuple:
    analysis = analyze(network, AnalysisOptions(batch=BATCH))
    assert analysis.errors == {}
    t = analysis.totals
    (out,) = network.output_names()
    return analysis, (t.params, analysis[out].output_shape, t.flops_torch_forward,
                      t.flops_torch_training)


def _param(name):
    marks = [pytest.mark.slow] if name in SLOW else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_param(n) for n in ALL])
def test_every_torchvision_model_matches_pytorch(name):
    shape = SHAPES.get(name, (3, 224, 224))
    network = import_model(f"torchvision:{name}")
    analysis, (params, out, forward, training) = _engine(network)
    skipped_fwd = analysis.totals.flops_torch_skipped_forward
    skipped_all = skipped_fwd + analysis.totals.flops_torch_skipped_backward
    assert (params, out, forward + skipped_fwd, training + skipped_all) == _measure(
        _build_meta(name), shape)
    assert "eval mode" in network.description
    assert (skipped_fwd > 0) == name.startswith("vit_")


class ManyUnsupported(nn.Module):
    """Thirty kinds of operation without a layer type, some several times."""

    def forward(self, x):
        y = x.sin() + x.sin() + x.cos()
        for op in (torch.exp, torch.log1p, torch.erf, torch.sqrt, torch.abs, torch.floor,
                   torch.ceil, torch.round, torch.sign, torch.tan, torch.atan, torch.sinh,
                   torch.cosh, torch.log2, torch.log10, torch.expm1, torch.trunc, torch.frac,
                   torch.reciprocal, torch.rsqrt, torch.special.entr, torch.special.erfcx,
                   torch.special.i0e, torch.special.log_ndtr, torch.special.ndtri,
                   torch.special.sinc, torch.deg2rad, torch.rad2deg):
            y = y + op(x) + op(x) + op(x)
        return y


def test_unsupported_operations_are_counted_in_one_short_line():
    with pytest.raises(ModelImportError) as caught:
        network_from_module(ManyUnsupported(), (8,), "many")
    message = str(caught.value)
    assert message.startswith("cannot import many: unsupported operations: sin ×2, cos, ")
    assert "\n" not in message and len(message) <= 300
    listed = message.partition(": unsupported operations: ")[2].split(", ")
    shown = [e for e in listed if not e.startswith("and ")]
    kinds = [e.rsplit(" ×", 1)[0] for e in shown]
    assert len(kinds) == len(set(kinds))  # each kind once
    for entry in shown:  # each count is the number of places
        what, _, count = entry.partition(" ×")
        assert int(count or 1) == sum(p.what == what for p in caught.value.unsupported)
    hidden = {p.what for p in caught.value.unsupported} - set(kinds)
    assert listed[-1] == f"and {len(hidden)} more kinds" and hidden


def test_aux_heads_only_when_asked_for():
    plain = import_model("torchvision:googlenet")
    with_aux = import_model("torchvision:googlenet+aux")
    assert len(plain.output_names()) == 1 and len(with_aux.output_names()) == 3
    assert "eval mode" in plain.description
    assert "(training mode: auxiliary heads are outputs)" in with_aux.description
    with pytest.raises(ModelImportError, match=r"only googlenet and inception_v3 take '\+aux'"):
        import_model("torchvision:resnet18+aux")


def test_sdpa_is_not_counted_by_flopcountermode_on_the_cpu():
    """A tiny ViT built for real on the CPU: FlopCounterMode leaves out its attention
    products, and so does the engine's torch convention."""
    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=16,
        mlp_dim=32, num_classes=5).eval()
    network = network_from_module(model, (3, 32, 32), "tiny_vit")
    _, engine = _engine(network)
    assert engine == _measure(model, (3, 32, 32), device="cpu")


@pytest.mark.parametrize("name,shape", [("googlenet", (3, 224, 224)),
                                        ("inception_v3", (3, 299, 299))])
def test_aux_heads_match_the_training_mode_model(name, shape):
    network = import_model(f"torchvision:{name}+aux")
    analysis = analyze(network, AnalysisOptions(batch=BATCH))
    t = analysis.totals
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None, aux_logits=True).train()
        x = torch.zeros((BATCH, *shape))
    with FlopCounterMode(display=False) as counter:
        outs = tuple(model(x))
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        sum(o.sum() for o in outs).backward()
    assert (t.params, t.flops_torch_forward, t.flops_torch_training) == (
        sum(p.numel() for p in model.parameters()), forward,
        forward + counter.get_total_flops())
    assert sorted(analysis[o].output_shape for o in network.output_names()) == sorted(
        tuple(o.shape[1:]) for o in outs)
