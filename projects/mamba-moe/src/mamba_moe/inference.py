"""What the `logits`, `generate`, `compare`, `data` and `eval` commands do, as functions.

Inputs are validated before any model runs: ids must be a JSON list of equal-length lists of ints
inside the model's vocabulary; eval data must fit the task the model was trained on. transformers
is imported only by `compare` (it is the reference there, never on the hot path).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_write, compare
from safetensors.torch import save

from .checkpoint import Model, load_model
from .config import CompareConfig, DataConfig, EvalConfig
from .mamba import MambaLM
from .tasks import SEP, TaskSpec, examples, read_jsonl


def read_ids(path: Path, vocab_size: int) -> torch.Tensor:
    try:
        rows = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise UserError(f"{path} not found; pass a JSON file of token-id lists") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg})") from exc
    if not (isinstance(rows, list) and rows and all(isinstance(r, list) and r for r in rows)
            and all(isinstance(t, int) and not isinstance(t, bool) for r in rows for t in r)):
        raise UserError(f"{path} must hold a non-empty list of non-empty lists of integer ids")
    if len({len(r) for r in rows}) != 1:
        raise UserError(f"{path}: sequences have different lengths; pad them to one length")
    return check_vocab(torch.tensor(rows), vocab_size, str(path))


def check_vocab(ids: torch.Tensor, vocab_size: int, where: str) -> torch.Tensor:
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = int(ids.max() if ids.max() >= vocab_size else ids.min())
        raise UserError(f"{where}: token id {bad} is outside the model's vocabulary "
                        f"0…{vocab_size - 1}")
    return ids


def run_logits(model: Model, ids: torch.Tensor, scan: str = "parallel") -> torch.Tensor:
    with torch.no_grad():
        if isinstance(model, MambaLM):
            return model(ids, scan=scan)[0]
        return model(ids)[0]


def write_logits(logits: torch.Tensor, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(save({"logits": logits.contiguous()}))


def compare_with_hf(cfg: CompareConfig) -> dict[str, Any]:
    """Our logits and greedy ids against transformers' on the same folder, plus a timing."""
    from transformers import AutoModelForCausalLM

    kind, ours = load_model(cfg.model)
    hf = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32).eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    ids = torch.randint(0, ours.config.vocab_size, (cfg.batch_size, cfg.seq_len), generator=gen)
    with torch.no_grad():
        ref = hf(ids).logits.float()
        result: dict[str, Any] = {"architecture": kind}
        if kind == "mamba":
            for scan in ("parallel", "sequential"):
                diff = (run_logits(ours, ids, scan) - ref).abs().max().item()
                result[f"max_abs_logit_diff_{scan}"] = diff
            result["max_abs_logit_diff"] = max(result["max_abs_logit_diff_parallel"],
                                               result["max_abs_logit_diff_sequential"])
        else:
            result["max_abs_logit_diff"] = (run_logits(ours, ids) - ref).abs().max().item()
        theirs = hf.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=cfg.new_tokens,
                             eos_token_id=None, pad_token_id=0)[:, cfg.seq_len:]
        mine, _ = ours.generate(ids, cfg.new_tokens)
        result["greedy_ids_equal"] = bool(torch.equal(theirs, mine))
        timing = compare(lambda: run_logits(ours, ids), lambda: hf(ids, use_cache=False),
                         repeats=cfg.repeats,
                         names=("ours", "hf"))
    return result | timing.summary()


def write_data(cfg: DataConfig) -> int:
    spec = TaskSpec(cfg.task, cfg.seq_len, cfg.num_tokens, cfg.vocab)
    try:
        spec.check()
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if Path(cfg.output).exists() and not cfg.overwrite:
        raise UserError(f"{cfg.output} exists; pass --overwrite to replace it")
    with atomic_write(cfg.output) as handle:
        for row in examples(spec, cfg.examples, cfg.seed):
            handle.write(json.dumps(row) + "\n")
    return cfg.examples


def _check_fits(rows: list[dict], task: dict | None, vocab_size: int, path: Path) -> None:
    """Data made for another L/K/V than the model's task is refused, naming both."""
    if task is None:
        return
    spec = TaskSpec(task["task"], task["seq_len"], task["num_tokens"], task["vocab"])
    want_len = spec.seq_len + 1 + (spec.num_tokens if spec.task == "mqar" else 0)
    for i, row in enumerate(rows, 1):
        x, y = row["input"], row.get("target")
        problem = None
        if spec.task == "selective-copy" and x[-1] != SEP:
            problem = "does not end with the separator (id 1)"
        elif spec.task == "mqar" and len(x) != want_len:
            problem = f"has {len(x)} input tokens, the model's mqar task has {want_len}"
        elif y is not None and len(y) != spec.num_tokens:
            problem = f"has K = {len(y)} targets, the model was trained with K = {spec.num_tokens}"
        elif max(x + (y or [])) > spec.vocab + 1:
            problem = f"uses symbol ids above V + 1 = {spec.vocab + 1}"
        if problem:
            raise UserError(f"{path}:{i} {problem} (model task: {task['task']} L={spec.seq_len} "
                            f"K={spec.num_tokens} V={spec.vocab}); make data with "
                            f"`mamba-moe data` using the model's settings")


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    folder = Path(cfg.model)
    _, model = load_model(folder)
    info = folder / "task.json"
    task = json.loads(info.read_text()) if info.is_file() else None
    if Path(cfg.output).exists() and not cfg.overwrite:
        raise UserError(f"{cfg.output} exists; pass --overwrite to replace it")
    try:
        rows = read_jsonl(Path(cfg.data))
    except FileNotFoundError as exc:
        raise UserError(f"{cfg.data} not found; write one with `mamba-moe data`") from exc
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    _check_fits(rows, task, model.config.vocab_size, Path(cfg.data))
    K = cfg.num_tokens or (task or {}).get("num_tokens", 0)
    predictions: list[list[int] | None] = [None] * len(rows)
    by_len: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_len.setdefault(len(row["input"]), []).append(i)
    hits = seq_hits = scored = 0
    for idx in by_len.values():
        group = [rows[i] for i in idx]
        k = len(group[0]["target"]) if "target" in group[0] else K
        if not k:
            raise UserError(f"{cfg.data} lines carry no target; pass --num-tokens K")
        ids = check_vocab(torch.tensor([r["input"] for r in group]), model.config.vocab_size,
                          str(cfg.data))
        with torch.no_grad():
            out, _ = model.generate(ids, k)
        for i, r, p in zip(idx, group, out.tolist(), strict=False):
            predictions[i] = p
            if "target" in r:
                hit = sum(a == b for a, b in zip(p, r["target"], strict=False))
                hits, seq_hits, scored = hits + hit, seq_hits + (hit == len(p)), scored + len(p)
    with atomic_write(cfg.output) as handle:
        for p in predictions:
            handle.write(json.dumps({"prediction": p}) + "\n")
    result: dict[str, Any] = {"examples": len(rows), "output": str(cfg.output)}
    if scored:
        n_seq = sum(1 for r in rows if "target" in r)
        result |= {"token_accuracy": round(hits / scored, 4),
                   "sequence_accuracy": round(seq_hits / n_seq, 4)}
    return result
