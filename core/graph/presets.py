"""Preset designs shipped in core/resources/presets, loadable by name."""

from __future__ import annotations

from pathlib import Path

from core.graph import io
from core.common.errors import InputError
from core.graph.network import Network

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
PRESET_DIR = RESOURCES / "presets"
# Course order: the classic small networks first, then the large ones.
ORDER = ("lenet5", "lenet5-classic", "lenet5-ds", "mlp", "cnn", "autoencoder-classifier",
         "autoencoder-classifier-padded", "resnet18", "resnet50", "bert-base", "transformer")


def preset_names() -> list[str]:
    found = {p.stem for p in PRESET_DIR.glob("*.json")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        raise InputError(f"unknown preset {name!r} (presets: {', '.join(preset_names())})")
    return path


def load_preset(name: str) -> Network:
    return io.load(preset_path(name))


def preset_descriptions() -> list[tuple[str, str]]:
    return [(name, load_preset(name).description) for name in preset_names()]
