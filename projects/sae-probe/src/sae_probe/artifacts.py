"""Files users share and resume from, read and written without pickle.

- An SAE is a folder with `sae.safetensors` (tensors) and `sae.json` (its `SAEConfig`).
- Probe directions are `probes.safetensors` (one unit vector per layer, `direction.L`) and
  `probes.json` (model, site, label, mean activation norm per layer).
- Training checkpoints (`checkpoint.pt`: Adam state, counters, RNG) are read with
  `torch.load(weights_only=True)`, which refuses anything but tensors and plain containers.
Every reader checks names, shapes and config fields before building anything, and turns a foreign,
corrupt or code-carrying file into a one-line UserError. Leaves out a converter for the pickled
`sae.pt` / `probes.pt` of earlier versions (retrain, or re-run `probe`).
Exercised by every command that takes `--sae`, `--probe` or `--resume`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_write, write_json
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .sae import SAEConfig, SparseAutoencoder

SAE_WEIGHTS, SAE_CONFIG = "sae.safetensors", "sae.json"
PROBE_WEIGHTS, PROBE_CONFIG = "probes.safetensors", "probes.json"
_ARCHS = ("topk", "relu", "jumprelu")


def _read_tensors(file: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        return load_safetensors(file.read_bytes())
    except (SafetensorError, ValueError, OSError) as exc:
        raise UserError(f"{file} is not a safetensors file ({exc}); {what} are read only as "
                        "safetensors, never unpickled") from exc


def read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{file} is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{file} should hold a JSON object")
    return data


def save_sae(sae: SparseAutoencoder, folder: Path) -> None:
    """Write `sae.safetensors` + `sae.json` in `folder` (each atomically)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in sae.state_dict().items()}
    with atomic_write(folder / SAE_WEIGHTS, "wb") as handle:
        handle.write(save_safetensors(tensors, metadata={"format": "sae-probe"}))
    write_json(folder / SAE_CONFIG, asdict(sae.cfg))


def _sae_files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path / SAE_WEIGHTS, path / SAE_CONFIG
    return path, path.with_name(SAE_CONFIG)


def sae_from_files(path: str | Path) -> SparseAutoencoder:
    """An SAE from its folder (or its .safetensors file, sae.json beside it); UserError if the
    files are missing, foreign or inconsistent."""
    path = Path(path)
    weights, config_file = _sae_files(path)
    if not weights.is_file():
        hint = ""
        if path.is_dir() and (path / "checkpoint.pt").is_file():
            hint = " (training unfinished: run train --resume)"
        elif path.is_dir() and (path / "sae.pt").is_file():
            hint = " (sae.pt is the pickled format of earlier versions and is not read)"
        raise UserError(f"no trained SAE at {weights}{hint}; train one with `sae-probe train`")
    if not config_file.is_file():
        raise UserError(f"{weights} has no {SAE_CONFIG} beside it; an SAE is the pair "
                        f"{SAE_WEIGHTS} + {SAE_CONFIG} written by `sae-probe train`")
    tensors = _read_tensors(weights, "SAEs")
    raw = read_json(config_file)
    known = {f.name for f in fields(SAEConfig)}
    unknown = sorted(set(raw) - known)
    try:
        cfg = SAEConfig(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise UserError(f"{config_file} is not an sae-probe SAE config ({exc})") from exc
    if unknown or cfg.arch not in _ARCHS or not all(
            isinstance(v, int) and v > 0 for v in (cfg.d_in, cfg.d_sae, cfg.k)):
        raise UserError(f"{config_file} is not an sae-probe SAE config (arch {cfg.arch!r}, "
                        f"unknown fields {unknown}); architectures: {', '.join(_ARCHS)}")
    # Shapes from the file must match the config before the (config-sized) module is built.
    w_dec = tensors.get("W_dec")
    if w_dec is None or tuple(w_dec.shape) != (cfg.d_sae, cfg.d_in):
        raise UserError(f"{weights} does not match {config_file}: W_dec is "
                        f"{None if w_dec is None else tuple(w_dec.shape)}, config says "
                        f"({cfg.d_sae}, {cfg.d_in})")
    sae = SparseAutoencoder(cfg)
    try:
        sae.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise UserError(f"{weights} does not fit a {cfg.arch} SAE of {cfg.d_sae} latents "
                        f"({first})") from exc
    return sae.eval()


def save_probes(folder: Path, *, model: str, site: str, label: str,
                directions: dict[int, dict[str, Any]]) -> None:
    """`probes.safetensors` (direction.L, (d,) float32 unit vectors) + `probes.json`."""
    tensors = {f"direction.{layer}": d["direction"].float().contiguous()
               for layer, d in directions.items()}
    with atomic_write(folder / PROBE_WEIGHTS, "wb") as handle:
        handle.write(save_safetensors(tensors, metadata={"format": "sae-probe"}))
    write_json(folder / PROBE_CONFIG, {
        "model": model, "site": site, "label": label,
        "mean_norm": {str(layer): d["mean_norm"] for layer, d in directions.items()}})


def load_probes(folder: str | Path) -> dict[str, Any]:
    """{"model", "site", "label", "layers": {L: {"direction": (d,), "mean_norm": float}}}."""
    folder = Path(folder)
    weights, config_file = folder / PROBE_WEIGHTS, folder / PROBE_CONFIG
    if not weights.is_file() or not config_file.is_file():
        raise UserError(f"no {PROBE_WEIGHTS} + {PROBE_CONFIG} in {folder}; run "
                        f"`sae-probe probe --out {folder}`")
    tensors = _read_tensors(weights, "probes")
    meta = read_json(config_file)
    layers: dict[int, dict[str, Any]] = {}
    try:
        model, site = str(meta["model"]), str(meta["site"])
        for name, tensor in tensors.items():
            prefix, layer = name.split(".")
            norm = float(meta["mean_norm"][layer])
            if prefix != "direction" or tensor.dim() != 1 or not tensor.is_floating_point():
                raise ValueError(f"unexpected tensor {name} {tuple(tensor.shape)}")
            layers[int(layer)] = {"direction": tensor, "mean_norm": norm}
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{folder} does not hold probes written by `sae-probe probe` "
                        f"({type(exc).__name__}: {exc})") from exc
    return {"model": model, "site": site, "label": meta.get("label"), "layers": layers}


def load_checkpoint(file: Path) -> dict[str, Any]:
    """A training checkpoint, unpickled with weights_only=True (tensors and containers only)."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not {"sae", "optimizer", "step"} <= set(state):
            raise ValueError("missing sae/optimizer/step")
        return state
    except Exception as exc:  # noqa: BLE001 - any failure to read is the same user error
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"{file} is not a checkpoint written by `sae-probe train` ({first}); "
                        "remove it or start without --resume") from exc
