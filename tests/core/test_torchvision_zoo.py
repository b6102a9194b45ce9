"""Every torchvision classification model against PyTorch itself.

For each model in ``torchvision.models.list_models(module=torchvision.models)`` the
imported Network must give the parameter count of the built module, its output shape,
and FlopCounterMode's forward and forward + backward totals (batch 2, eval mode,
auxiliary heads off), all measured on the meta device without the importer. On the
meta device scaled_dot_product_attention runs as matrix products that FlopCounterMode
counts; on the CPU it counts nothing for it: the Network's torch convention follows the
CPU, and what the meta device adds must equal the engine's "skipped" figure. A tiny ViT
checks the CPU side for real. The model the importer cannot take yet (MaxViT) must be
refused in one short line naming each missing operation once.
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
REFUSED = {n for n in ALL if n.startswith("maxvit")}
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


@pytest.mark.parametrize("name", [_param(n) for n in ALL if n not in REFUSED])
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


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_models_not_yet_importable_are_refused_in_one_short_line(name):
    with pytest.raises(ModelImportError) as caught:
        import_model(f"torchvision:{name}")
    message = str(caught.value)
    assert message.startswith(f"cannot import {name}: unsupported operations: ")
    assert "\n" not in message and len(message) <= 300
    listed = message.partition(": unsupported operations: ")[2].split(", ")
    kinds = [entry.rsplit(" ×", 1)[0] for entry in listed if not entry.startswith("and ")]
    assert len(kinds) == len(set(kinds))  # each kind once
    total = sum(int(e.rsplit(" ×", 1)[1]) if " ×" in e else 1 for e in listed
                if not e.startswith("and "))
    shown = [p for p in caught.value.unsupported if p.what in kinds]
    assert total == len(shown)  # the counts are the occurrences


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
