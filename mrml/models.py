"""Registry of shipped weights: ``mrml/weights/<name>/`` holds ``weights.pt`` and ``card.json``.

Weights are checked against the sha256 in the card and loaded with
``torch.load(..., weights_only=True)``; a model is loaded once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from mrml.errors import InputError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def model_dir(name_or_path) -> Path:
    """Folder of a shipped model name, or a folder given as a path (e.g. ``mrml train`` output)."""
    p = Path(name_or_path)
    if p.is_dir() and (p / "card.json").exists():
        return p
    d = WEIGHTS_DIR / str(name_or_path)
    if not (d / "card.json").exists():
        raise InputError(f"unknown model {name_or_path!r}; shipped: {', '.join(list_models()) or 'none'}")
    return d


def list_models() -> list[str]:
    """Names of shipped models."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(d.name for d in WEIGHTS_DIR.iterdir() if (d / "card.json").exists())


def load_card(name_or_path) -> dict:
    """The model card (training command, seed, metrics, calibration, sha256)."""
    return json.loads((model_dir(name_or_path) / "card.json").read_text())


def verify(name_or_path) -> str:
    """Check the weights file against the card's sha256; return the digest."""
    d = model_dir(name_or_path)
    card = load_card(d)
    path = d / card["weights"]
    if not path.exists():
        raise InputError(f"model {d.name}: weights file {path.name} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != card["sha256"]:
        raise InputError(f"model {d.name}: weights sha256 {digest[:12]}… does not match the card")
    return digest


@functools.lru_cache(maxsize=8)
def _load(dir_str: str, device: str):
    import torch

    from mrml.nets.deernet import DeerNetEnsemble
    from mrml.nets.nusnet import UnrolledIst2D
    from mrml.train_nus import build as build_nus

    d = Path(dir_str)
    card = load_card(d)
    verify(d)
    classes = {"deernet": DeerNetEnsemble, "nusnet": lambda kind="cnn", **hp: build_nus(kind, **hp),
               "nusnet3d": UnrolledIst2D}
    if card["architecture"] not in classes:
        raise InputError(f"model {d.name}: unknown architecture {card['architecture']!r}")
    state = torch.load(d / card["weights"], map_location="cpu", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model = classes[card["architecture"]](**card["hparams"])
    model.load_state_dict(state)
    model.eval()
    return model.to(device), card


def load_model(name_or_path="deernet", *, device: str | None = None):
    """Load a model and its card (cached per process).

    Returns
    -------
    model : torch.nn.Module
        In eval mode on ``device`` (CUDA when present, else CPU).
    card : dict
    """
    if device is None:
        from mrml.device import pick_device

        device = str(pick_device())
    return _load(str(model_dir(name_or_path).resolve()), device)

