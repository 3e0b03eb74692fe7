"""train-heads: Medusa heads (and a draft exit block) by self-distillation, base model frozen.

1. data: the target greedily continues the corpus prompts of the "train" split (chat questions
   and Python-docs passages of `context_chars`); one frozen forward over each whole sequence
   gives the final hidden states h_t (and, with `draft_layers` L, the normed layer-L states) and
   the model's own greedy choice at every position. Targets: head k at t -> the model's choice
   after position t+k (= generated token t+1+k on the generated part); the draft exit block at
   t -> the choice after t. Saved to OUTPUT/data.pt so `--resume` never regenerates.
   NOTE: the docs passages add teacher-forced positions (the model's choices along real text)
   because generating is the slow part on a CPU; the chat part is pure self-generation.
2. training: AdamW on the residual blocks only; the loss is cross-entropy over the vocabulary
   seen in the targets (NOTE: the restriction makes a step ~8x cheaper on the CPU; the heads are
   then measured with the full vocabulary, which is what decoding uses).
   A checkpoint (heads + optimizer + step) goes to OUTPUT/checkpoint.pt every
   `checkpoint_every` steps; each step's batch is drawn from a generator seeded by (seed, step),
   so a resumed run ends with the same weights as an uninterrupted one.
3. eval: top-i accuracy of every head on the held-out 10% of sequences -> the Medusa tree.
Writes OUTPUT/heads.safetensors. Command: `medusa-decoder train-heads --output DIR`.
Leaves out Medusa-2's joint fine-tuning of the base model and KL-to-teacher soft targets.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_write, progress_bar, seed_everything
from torch import nn

from .config import TrainHeadsConfig
from .heads import MedusaHeads, model_fingerprint, save_heads
from .prompts import chat_prompts, docs_prompts

IGNORE = -100


@torch.inference_mode()
def self_distill_sequences(model: Any, tokenizer: Any, prompts: list[list[int]],
                           gen_tokens: int, batch_size: int = 8) -> list[tuple[int, list[int]]]:
    """[(prompt length, prompt + the model's greedy continuation)] with left-padded batches."""
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    out: list[tuple[int, list[int]]] = []
    with progress_bar() as bar:
        task = bar.add_task("self-distillation: generating", total=len(prompts))
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start:start + batch_size]
            width = max(len(p) for p in batch)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch],
                                device=device)
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=gen_tokens,
                                 do_sample=False, pad_token_id=pad)  # (B, width + N)
            for row, p in zip(gen.tolist(), batch, strict=True):
                cont = row[width:]
                eos = model.generation_config.eos_token_id
                stops = {eos} if isinstance(eos, int) else set(eos or [])
                cut = next((i + 1 for i, t in enumerate(cont) if t in stops or t == pad),
                           len(cont))
                out.append((len(p), p + cont[:cut]))
            bar.advance(task, len(batch))
    return out


@torch.inference_mode()
def features_and_targets(model: Any, sequences: list[tuple[int, list[int]]], num_heads: int,
                         draft_layers: int = 0, skip: int = 4) -> dict[str, torch.Tensor]:
    """Per position t >= `skip` of each sequence: h_t, the optional normed layer-L state, and
    targets (N, K+1) = the base model's own greedy choice after position t+k, for k = 0..K
    (column 0 trains the draft exit block, column k head k). On the generated part this is the
    generated token t+1+k itself; on prompt text it is what the model would have said there."""
    hidden, early, targets = [], [], []
    for _plen, seq in sequences:
        ids = torch.tensor([seq], device=next(model.parameters()).device)  # (1, T)
        out = model.model(input_ids=ids, output_hidden_states=draft_layers > 0)
        h = out.last_hidden_state[0]  # (T, C)
        choice = torch.cat([model.lm_head(c).argmax(-1) for c in h.split(256)]).cpu()  # (T,)
        hidden.append(h[skip:].float().cpu())  # (n, C)
        if draft_layers > 0:
            h_l = model.model.norm(out.hidden_states[draft_layers][0, skip:])  # (n, C)
            early.append(h_l.float().cpu())
        n = len(seq) - skip
        tgt = torch.full((n, num_heads + 1), IGNORE, dtype=torch.long)
        for k in range(num_heads + 1):
            pos = torch.arange(skip, len(seq)) + k  # the position whose greedy choice is wanted
            ok = pos < len(seq)
            tgt[ok, k] = choice[pos[ok]]
        targets.append(tgt)
    data = {"hidden": torch.cat(hidden), "targets": torch.cat(targets)}
    if draft_layers > 0:
        data["early"] = torch.cat(early)
    return data


def head_accuracies(heads: MedusaHeads, lm_head: nn.Module, hidden: torch.Tensor,
                    targets: torch.Tensor, top: int = 10) -> list[list[float]]:
    """accuracies[k][i] = P(head k+1's i-th ranked token == target) on (N, C) / (N, K+1),
    with the read-out decoding uses (the restricted vocabulary when the heads have one)."""
    accs = []
    with torch.inference_mode():
        weight = lm_head.weight.detach().float()
        ranked = torch.cat([heads.candidates(chunk, weight, top)
                            for chunk in hidden.split(256)])  # (N, K, top)
        for k in range(heads.num_heads):
            tgt = targets[:, k + 1]
            ok = tgt != IGNORE
            hits = ranked[ok, k] == tgt[ok, None]  # (n, top)
            accs.append([round(float(x), 4) for x in hits.float().mean(0)])
    return accs


def _loss(logit_fn, blocks_out: torch.Tensor, targets: torch.Tensor, vocab: torch.Tensor,
          remap: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the restricted vocabulary; blocks_out (B, J, C), targets (B, J)."""
    logits = logit_fn(blocks_out, vocab)  # (B, J, V')
    tgt = torch.where(targets == IGNORE, IGNORE, remap[targets.clamp(min=0)])  # (B, J)
    return nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=IGNORE)


def _load(path: Path) -> dict[str, Any]:
    """A checkpoint of plain tensors and numbers: `weights_only` so a shared file runs no code."""
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # unpickling refused, truncated or not a torch file
        raise UserError(f"{path} is not a readable medusa-decoder checkpoint ({type(exc).__name__})"
                        "; use a fresh --output") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a medusa-decoder checkpoint; use a fresh --output")
    return data


def train_heads(config: TrainHeadsConfig, model: Any, tokenizer: Any) -> dict[str, Any]:
    """The whole recipe (see the module docstring); returns a summary dict."""
    start = time.perf_counter()
    seed_everything(config.seed)
    out_dir = Path(config.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in model.parameters():
        p.requires_grad_(False)  # the base stays frozen
    data_path, ckpt_path = out_dir / "data.pt", out_dir / "checkpoint.pt"
    fingerprint = model_fingerprint(model)
    if config.resume and data_path.is_file():
        data = _load(data_path)
        if data.get("fingerprint") != fingerprint:
            raise UserError(f"{data_path} was made with another model; use a fresh --output")
    else:
        half = config.num_prompts // 2
        prompts = (chat_prompts(tokenizer, config.num_prompts - half, "train")
                   + docs_prompts(tokenizer, half, "train", prefix_chars=config.context_chars))
        seqs = self_distill_sequences(model, tokenizer, prompts, config.gen_tokens,
                                      config.gen_batch_size)
        n_eval = max(1, len(seqs) // 10)
        parts = [features_and_targets(model, s, config.num_heads, config.draft_layers)
                 for s in (seqs[n_eval:], seqs[:n_eval])]
        data = {"train": parts[0], "eval": parts[1], "fingerprint": fingerprint}
        with atomic_write(data_path, "wb") as handle:
            torch.save(data, handle)
    train, held = data["train"], data["eval"]
    lm_head = model.lm_head
    heads = MedusaHeads(model.config.hidden_size, config.num_heads, lm_head=lm_head,
                        own_lm_head=config.own_lm_head, draft_layers=config.draft_layers)
    exit_block = heads.exit_block
    optimizer = torch.optim.AdamW(heads.parameters(), lr=config.lr, weight_decay=0.0)
    step = 0
    if config.resume and ckpt_path.is_file():
        ckpt = _load(ckpt_path)
        try:
            heads.load_state_dict(ckpt["heads"])
            optimizer.load_state_dict(ckpt["optimizer"])
            step = int(ckpt["step"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise UserError(f"{ckpt_path} was written with other head settings (--num-heads, "
                            "--own-lm-head, --draft-layers); resume with the same settings or use "
                            "a fresh --output") from exc
    first_step = step
    vocab = torch.unique(train["targets"][train["targets"] != IGNORE])  # (V',)
    remap = torch.full((model.config.vocab_size,), IGNORE, dtype=torch.long)
    remap[vocab] = torch.arange(len(vocab))
    base_w = lm_head.weight.detach().float()  # (V, C)

    def logit_fn_heads(feats: torch.Tensor, vocab: torch.Tensor) -> torch.Tensor:
        if heads.lm_heads is None:
            return feats @ base_w[vocab].T  # (B, K, V')
        return torch.stack([feats[:, k] @ heads.lm_heads[k].weight[vocab].T
                            for k in range(heads.num_heads)], dim=1)

    def logit_fn_exit(feats: torch.Tensor, vocab: torch.Tensor) -> torch.Tensor:
        return feats @ base_w[vocab].T  # (B, 1, V')

    N = train["hidden"].shape[0]
    losses: list[float] = []
    with progress_bar() as bar:
        task = bar.add_task("training heads", total=config.steps, completed=step)
        while step < config.steps:
            g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            idx = torch.randint(0, N, (config.batch_size,), generator=g)  # (B,)
            tgt = train["targets"][idx]  # (B, K+1)
            loss = _loss(logit_fn_heads, heads.features(train["hidden"][idx]), tgt[:, 1:],
                         vocab, remap)
            if exit_block is not None:
                feats = exit_block(train["early"][idx])[:, None]  # (B, 1, C)
                loss = loss + _loss(logit_fn_exit, feats, tgt[:, :1], vocab, remap)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(loss.item())
            bar.update(task, completed=step, description=f"training heads loss {loss:.3f}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"heads": heads.state_dict(), "optimizer": optimizer.state_dict(),
                         "step": step}
                with atomic_write(ckpt_path, "wb") as handle:
                    torch.save(state, handle)
    heads.vocab = vocab
    heads.accuracies = head_accuracies(heads, lm_head, held["hidden"], held["targets"])
    extra: dict[str, Any] = {}
    summary: dict[str, Any] = {"accuracies_top1": [a[0] for a in heads.accuracies]}
    if exit_block is not None:
        with torch.inference_mode():
            pred = lm_head(exit_block(held["early"])).argmax(-1)  # (N,)
        tgt = held["targets"][:, 0]
        ok = tgt != IGNORE
        summary["draft_exit_top1"] = round(float((pred[ok] == tgt[ok]).float().mean()), 4)
        extra["exit_accuracy"] = summary["draft_exit_top1"]
    save_heads(heads, out_dir / "heads.safetensors", fingerprint=fingerprint, extra=extra)
    tail = losses[-20:]
    return {"output": str(out_dir / "heads.safetensors"), "steps": step,
            "steps_run": step - first_step,
            "train_positions": N, "final_loss": round(sum(tail) / len(tail), 4) if tail else None,
            "seconds": round(time.perf_counter() - start, 1), **summary}
