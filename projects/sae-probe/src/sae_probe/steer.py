"""Steering: generate with a direction added to the hook's activation, and compare the text.

The direction is an SAE latent's decoder row (`--sae DIR --latent N`, at the SAE's hook) or a
probe's weight vector (`--probe DIR [--layer L]`, at that layer of the probe's site), made unit
length. At every position, prompt and generated tokens alike, the hook's activation x becomes
x + strength * n * u, with n the mean norm of the hook's activations (so `strength` 1 adds a
vector as long as a typical activation). Greedy decoding before and after, so the difference is
the steering alone. Leaves out steering only at chosen positions and sampling.
Run: `uv run sae-probe steer --sae runs/sae --latent 123 --strength 0.2`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from llm_shared import UserError, load_causal_lm, pick_device

from .artifacts import load_probes, read_json
from .config import SteerConfig
from .hooks import decoder_layers, edit_hook, parse_hook
from .train import load_sae


def sae_direction(sae_dir: Path, latent: int) -> tuple[str, str, torch.Tensor, float]:
    """(model, hook, unit direction (d,), mean activation norm) of an SAE latent."""
    sae = load_sae(sae_dir)
    if not 0 <= latent < sae.cfg.d_sae:
        raise UserError(f"--latent {latent} is outside the dictionary (0..{sae.cfg.d_sae - 1})")
    direction = sae.W_dec[latent].detach().float()
    # The SAE scaled its inputs so that E||x * scale||^2 = d_in: the mean norm is sqrt(d)/scale.
    return sae.cfg.model, sae.cfg.hook, direction / direction.norm(), \
        math.sqrt(sae.cfg.d_in) / float(sae.scale)


def probe_direction(probe_dir: Path, layer: int | None) -> tuple[str, str, torch.Tensor, float]:
    probes = load_probes(probe_dir)
    if layer is None:
        best = read_json(Path(probe_dir) / "probe.json").get("best_layer") \
            if (Path(probe_dir) / "probe.json").is_file() else None
        layer = best if isinstance(best, int) else min(probes["layers"], default=None)
    if layer not in probes["layers"]:
        raise UserError(f"--layer {layer} has no probe in {probe_dir}; "
                        f"choose one of {sorted(probes['layers'])}")
    entry = probes["layers"][layer]
    return probes["model"], f"{probes['site']}.{layer}", entry["direction"], entry["mean_norm"]


@torch.no_grad()
def generate(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    messages = [{"role": "user", "content": prompt}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"].to(model.device)
    out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def steer(config: SteerConfig, model=None, tokenizer=None) -> dict:
    if config.sae is not None:
        model_name, hook, direction, norm = sae_direction(config.sae, config.latent)
    else:
        model_name, hook, direction, norm = probe_direction(config.probe, config.layer)
    if model_name != config.model:
        raise UserError(f"the direction was made for model '{model_name}' but --model is "
                        f"'{config.model}'; pass --model {model_name}")
    if model is None:
        model, tokenizer = load_causal_lm(config.model, device=pick_device(config.device))
    model.eval()
    parse_hook(hook, len(decoder_layers(model)))
    if direction.shape[0] != model.config.hidden_size:
        raise UserError(f"direction width {direction.shape[0]} != model width "
                        f"{model.config.hidden_size}; use a direction made for this model")
    vector = (config.strength * norm * direction).to(model.device)  # (d,)
    before = generate(model, tokenizer, config.prompt, config.max_new_tokens)
    with edit_hook(model, hook, lambda x: x + vector.to(x.dtype)):  # (B, T, d) + (d,)
        after = generate(model, tokenizer, config.prompt, config.max_new_tokens)
    return {"hook": hook, "strength": config.strength,
            "added_norm": round(config.strength * norm, 4),
            "prompt": config.prompt, "before": before, "after": after}
