"""Medusa heads: K residual blocks on the target's last hidden state, read out by an LM head.

Head k (1..K) maps the hidden state h_t (after the final norm) to logits for token t+1+k:
    logits_k = W_k (h_t + SiLU(A_k h_t + b_k))
A_k starts at zero, so an untrained head is exactly the base LM head (a shifted copy of the
base prediction, Medusa's initialisation). W_k is the base LM head: shared and frozen by default
(`own_lm_head=False`), or a trainable per-head copy initialised from it (Medusa-1's layout).
NOTE: sharing is the default because on a CPU the step cost is memory traffic: K private copies of
SmolLM2's 49152x576 head would read ~450 MB more per step, about the whole model again.

The file (safetensors) carries the target's fingerprint (hash of a strided sample of the LM head
and embeddings + shapes): loading heads trained for another model is a one-line error.
Exercised by `medusa-decoder train-heads` and `generate --method medusa`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_write
from safetensors import safe_open
from torch import nn

FORMAT = "medusa-decoder-heads/1"


class ResBlock(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, hidden_size)
        nn.init.zeros_(self.linear.weight)  # identity at start: head = base LM head
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + nn.functional.silu(self.linear(x))  # (..., C)


class MedusaHeads(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, *, lm_head: nn.Linear | None = None,
                 own_lm_head: bool = False, draft_layers: int = 0) -> None:
        super().__init__()
        self.hidden_size, self.num_heads, self.own_lm_head = hidden_size, num_heads, own_lm_head
        self.blocks = nn.ModuleList(ResBlock(hidden_size) for _ in range(num_heads))
        # Optional exit block for the self-speculative draft: normed layer-L state -> next token.
        self.draft_layers = draft_layers
        self.exit_block = ResBlock(hidden_size) if draft_layers else None
        self.lm_heads: nn.ModuleList | None = None
        if own_lm_head:
            if lm_head is None:
                raise ValueError("own_lm_head needs the base lm_head to copy")
            self.lm_heads = nn.ModuleList()
            for _ in range(num_heads):
                copy = nn.Linear(hidden_size, lm_head.out_features, bias=False)
                copy.weight.data.copy_(lm_head.weight.data)
                self.lm_heads.append(copy)
        self.accuracies: list[list[float]] = []  # measured top-i accuracy per head
        self.fingerprint = ""
        # Read-out vocabulary (V',): the tokens seen as targets in training. NOTE: proposing only
        # from it makes the per-step read-out a (V' x C) matmul instead of the full LM head
        # (SmolLM2: ~8k of 49152 rows), which on a CPU is most of a head's cost; a token outside
        # it is simply never proposed (exactness does not depend on proposals).
        self.vocab: torch.Tensor | None = None
        self._read_out: tuple[torch.Tensor, torch.Tensor] | None = None  # (weight ref, W[vocab])

    def features(self, hidden: torch.Tensor, num_heads: int | None = None) -> torch.Tensor:
        """(N, C) -> (N, K, C) per-head features before the LM head."""
        K = num_heads or self.num_heads
        return torch.stack([self.blocks[k](hidden) for k in range(K)], dim=1)

    def logits(self, hidden: torch.Tensor, lm_head: nn.Module,
               num_heads: int | None = None) -> torch.Tensor:
        """(N, C) -> (N, K, V). With a shared head this is one matmul (the weight read once)."""
        feats = self.features(hidden, num_heads)  # (N, K, C)
        if self.lm_heads is None:
            return lm_head(feats)  # (N, K, V)
        return torch.stack([self.lm_heads[k](feats[:, k]) for k in range(feats.shape[1])], dim=1)


    def read_out_weight(self, lm_weight: torch.Tensor) -> torch.Tensor:
        """The LM head rows of the read-out vocabulary (V', C), cut once per base weight."""
        if self.vocab is None:
            return lm_weight
        if self._read_out is None or self._read_out[0] is not lm_weight:
            rows = lm_weight[self.vocab.to(lm_weight.device)].contiguous()  # (V', C)
            self._read_out = (lm_weight, rows)
        return self._read_out[1]

    @torch.inference_mode()
    def candidates(self, hidden: torch.Tensor, lm_weight: torch.Tensor, top: int,
                   num_heads: int | None = None) -> torch.Tensor:
        """(N, C) -> (N, K, top) token ids, best first, from the restricted read-out."""
        return self.ranked(hidden, lm_weight, top, num_heads)[0]

    @torch.inference_mode()
    def ranked(self, hidden: torch.Tensor, lm_weight: torch.Tensor, top: int,
               num_heads: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C) -> token ids and their softmax probabilities, each (N, K, top), best first
        (the probabilities are over the read-out vocabulary)."""
        feats = self.features(hidden.to(lm_weight.dtype), num_heads)  # (N, K, C)
        if self.lm_heads is not None:
            logits = torch.stack([self.lm_heads[k](feats[:, k])
                                  for k in range(feats.shape[1])], dim=1)  # (N, K, V)
        else:
            logits = feats @ self.read_out_weight(lm_weight).T  # (N, K, V')
        probs, ranked = torch.softmax(logits.float(), dim=-1).topk(top, dim=-1)
        if self.vocab is not None and self.lm_heads is None:
            ranked = self.vocab.to(ranked.device)[ranked]  # vocabulary ids
        return ranked, probs  # (N, K, top) each


def model_fingerprint(model: Any) -> str:
    """sha256 over shapes and a strided sample of the input embeddings and the LM head."""
    digest = hashlib.sha256()
    config = model.config
    shape = [config.vocab_size, config.hidden_size, config.num_hidden_layers]
    digest.update(json.dumps(shape).encode())
    for weight in (model.get_input_embeddings().weight, model.lm_head.weight):
        # Rounded through bfloat16 so a float32 and a bfloat16 copy of one model agree.
        sample = weight.detach().to(torch.bfloat16).float().flatten()[::997].cpu().contiguous()
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def save_heads(heads: MedusaHeads, path: str | Path, *, fingerprint: str,
               extra: dict[str, Any] | None = None) -> None:
    # NOTE: bfloat16 on disk halves the packaged file; heads only propose, so their rounding
    # can change speed, never the output.
    tensors = {k: v.detach().cpu().to(torch.bfloat16).contiguous()
               for k, v in heads.state_dict().items()}
    if heads.vocab is not None:
        tensors["vocab"] = heads.vocab.detach().cpu().to(torch.int64).contiguous()
    meta = {"format": FORMAT, "fingerprint": fingerprint, "hidden_size": heads.hidden_size,
            "num_heads": heads.num_heads, "own_lm_head": heads.own_lm_head,
            "draft_layers": heads.draft_layers,
            "accuracies": heads.accuracies, **(extra or {})}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        handle.write(_serialise(tensors, {"medusa": json.dumps(meta)}))


def _serialise(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


def read_meta(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"heads file {path} not found; train one with `medusa-decoder "
                        "train-heads --output DIR` or pass --heads FILE")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("medusa", "{}"))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise UserError(f"{path} is not a heads file ({type(exc).__name__}); pass a file "
                        "written by `medusa-decoder train-heads`") from exc
    if meta.get("format") != FORMAT:
        raise UserError(f"{path} is not a medusa-decoder heads file; retrain with train-heads")
    return meta


def load_heads(path: str | Path, model: Any) -> MedusaHeads:
    """Heads for `model`, refusing a file trained for another model (fingerprint or shape)."""
    meta = read_meta(path)
    if meta["hidden_size"] != model.config.hidden_size:
        raise UserError(f"heads in {path} are for hidden size {meta['hidden_size']}, this model "
                        f"has {model.config.hidden_size}; train heads for this model")
    fingerprint = model_fingerprint(model)
    if meta["fingerprint"] != fingerprint:
        raise UserError(f"heads in {path} were trained for another model (hash "
                        f"{meta['fingerprint']} != {fingerprint}); run train-heads for this model")
    heads = MedusaHeads(meta["hidden_size"], meta["num_heads"], lm_head=model.lm_head,
                        own_lm_head=meta["own_lm_head"],
                        draft_layers=meta.get("draft_layers", 0))
    with safe_open(str(path), framework="pt") as handle:
        state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    vocab = state.pop("vocab", None)
    if vocab is not None and (vocab.ndim != 1 or int(vocab.max()) >= model.config.vocab_size):
        raise UserError(f"heads in {path} have a read-out vocabulary that does not fit this "
                        "model; run train-heads for this model")
    heads.load_state_dict({k: v.float() for k, v in state.items()})
    heads.vocab = vocab
    heads.accuracies = meta.get("accuracies", [])
    heads.fingerprint = fingerprint
    device = next(model.parameters()).device
    return heads.to(device=device, dtype=model.lm_head.weight.dtype).eval()
