"""Hook points of a Hugging Face causal LM: read, replace or add to one module's output.

A hook point is named `<site>.<layer>` with three sites, as in TransformerLens:
- `resid_post.L`: the residual stream after decoder layer L (the layer module's output),
- `mlp_out.L`: the MLP block's output before it is added to the residual stream,
- `attn_out.L`: the attention block's output before it is added to the residual stream.
Layers are found under `model.model.layers` (Llama, Mistral, Qwen, SmolLM2) or
`model.transformer.h` (GPT-2 family). Leaves out attention-head level hooks (hook_z) and the
pre-layer residual stream (resid_post.L-1 is the same tensor).

`capture_hook(model, "resid_post.3", stop=True)` records the activation and stops the forward
pass early, so capturing an early layer costs only the layers up to it.
Exercised by `uv run sae-probe capture --hook resid_post.3`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from llm_shared import UserError
from torch import nn

SITES = ("resid_post", "mlp_out", "attn_out")
_SITE_ATTRS = {"mlp_out": ("mlp",), "attn_out": ("self_attn", "attn")}


@dataclass(frozen=True)
class HookPoint:
    site: str
    layer: int

    @property
    def name(self) -> str:
        return f"{self.site}.{self.layer}"


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The list of decoder blocks of a causal LM (Llama-like or GPT-2-like)."""
    for path in (("model", "layers"), ("transformer", "h"), ("gpt_neox", "layers")):
        module: nn.Module | None = model
        for attr in path:
            module = getattr(module, attr, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise UserError(f"cannot find the decoder layers of {type(model).__name__}; "
                    "use a Llama-, Mistral-, Qwen- or GPT-2-style causal LM")


def valid_hooks(model: nn.Module) -> list[str]:
    """Every hook point name of `model`, layer by layer: ['resid_post.0', 'mlp_out.0', ...]."""
    return [f"{site}.{layer}" for layer in range(len(decoder_layers(model))) for site in SITES]


def parse_hook(name: str, n_layers: int) -> HookPoint:
    """'mlp_out.3' -> HookPoint('mlp_out', 3); anything else: UserError listing valid ones."""
    site, _, layer_text = name.partition(".")
    valid = f"valid: {{{','.join(SITES)}}}.{{0..{n_layers - 1}}}, e.g. resid_post.3"
    if site not in SITES or not layer_text.isdigit() or not 0 <= int(layer_text) < n_layers:
        raise UserError(f"unknown hook point '{name}'; {valid}")
    return HookPoint(site, int(layer_text))


def resolve(model: nn.Module, name: str) -> tuple[HookPoint, nn.Module]:
    """Hook name -> (HookPoint, the module whose output is that activation)."""
    layers = decoder_layers(model)
    point = parse_hook(name, len(layers))
    layer = layers[point.layer]
    if point.site == "resid_post":
        return point, layer
    for attr in _SITE_ATTRS[point.site]:
        if hasattr(layer, attr):
            return point, getattr(layer, attr)
    raise UserError(f"layer {point.layer} of {type(model).__name__} has no "
                    f"{'/'.join(_SITE_ATTRS[point.site])} module; use resid_post.{point.layer}")


class StopForward(Exception):
    """Raised by a capture hook to end the forward pass once the wanted activation is recorded."""


def _main(output: torch.Tensor | tuple) -> torch.Tensor:
    # Attention modules return (hidden, weights); decoder layers may return a tuple too.
    return output[0] if isinstance(output, tuple) else output


def _with_main(output: torch.Tensor | tuple, new: torch.Tensor) -> torch.Tensor | tuple:
    return (new, *output[1:]) if isinstance(output, tuple) else new


@contextlib.contextmanager
def capture_hook(model: nn.Module, name: str, *,
                 stop: bool = False) -> Iterator[list[torch.Tensor]]:
    """Record the hook point's activation (B, T, d) of each forward pass into the yielded list.

    With `stop=True` the forward pass raises StopForward right after the hook; run it inside
    `run_until_hook` so the exception is swallowed.
    """
    _, module = resolve(model, name)
    store: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor | tuple) -> None:
        store.append(_main(output).detach())  # (B, T, d)
        if stop:
            raise StopForward

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def run_until_hook(model: nn.Module, **inputs: torch.Tensor) -> None:
    """Forward pass that ends quietly when a `capture_hook(stop=True)` fires."""
    with contextlib.suppress(StopForward):
        model(**inputs)


@contextlib.contextmanager
def edit_hook(model: nn.Module, name: str,
              edit: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Replace the hook point's activation x (B, T, d) by edit(x) during every forward pass."""
    _, module = resolve(model, name)

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor | tuple):
        return _with_main(output, edit(_main(output)))

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
