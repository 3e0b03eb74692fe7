"""`train-rm`: fit the Bradley-Terry reward model on preference pairs, report held-out accuracy.

Accuracy = share of held-out pairs where s_chosen > s_rejected, measured before and after training,
so the printed gain is the model's, not the split's. Leaves out learning-rate schedules and early
stopping. Run: `ppo-trainer train-rm --output runs/rm`.
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch
from llm_shared import UserError, seed_everything, torch_threads, track, write_json

from .config import RewardModelConfig
from .losses import bradley_terry_loss
from .reward_model import Pair, RewardModel, read_pairs, task_pairs


def _scores(model: RewardModel, pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = model.encode([p.messages for p in pairs] * 2,
                       [p.chosen for p in pairs] + [p.rejected for p in pairs])
    scores = model(enc["input_ids"], enc["attention_mask"])  # (2B,)
    return scores[:len(pairs)], scores[len(pairs):]


def accuracy(model: RewardModel, pairs: list[Pair], batch_size: int = 16) -> float:
    wins = 0
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            chosen, rejected = _scores(model, pairs[i:i + batch_size])
            wins += int((chosen > rejected).sum())
    return wins / len(pairs)


def train_reward_model(config: RewardModelConfig) -> dict[str, Any]:
    if config.output is None:
        raise UserError("train-rm needs --output DIR for the reward model")
    torch_threads(config.threads)
    seed_everything(config.seed)
    pairs = read_pairs(config.pairs) if config.pairs else task_pairs(config.num_pairs, config.seed)
    random.Random(config.seed).shuffle(pairs)
    n_eval = max(1, int(len(pairs) * config.eval_fraction))
    eval_pairs, train_pairs = pairs[:n_eval], pairs[n_eval:]
    model = RewardModel.from_pretrained_lm(config.model, config.max_tokens, config.device)
    model.freeze_below(config.trainable_layers)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr)
    model.eval()  # no dropout: the loss is deterministic for a given order
    start = time.perf_counter()
    acc_before = accuracy(model, eval_pairs)
    losses = []
    batches = [(e, i) for e in range(config.epochs)
               for i in range(0, len(train_pairs), config.batch_size)]
    order = list(range(len(train_pairs)))
    for epoch, i in track(batches, "train-rm"):
        if i == 0:
            random.Random(config.seed + epoch).shuffle(order)
        batch = [train_pairs[j] for j in order[i:i + config.batch_size]]
        chosen, rejected = _scores(model, batch)
        loss = bradley_terry_loss(chosen, rejected)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(loss.item())
    acc_after = accuracy(model, eval_pairs)
    model.save(config.output)
    result = {"train_pairs": len(train_pairs), "eval_pairs": len(eval_pairs),
              "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4),
              "eval_accuracy_before": round(acc_before, 4),
              "eval_accuracy_after": round(acc_after, 4),
              "seconds": round(time.perf_counter() - start, 1)}
    write_json(config.output / "train_rm.json", result)
    return result
