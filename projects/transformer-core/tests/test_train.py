"""Training: a smoke test, checkpoints and --resume (only the missing steps run), the run folder."""

from __future__ import annotations

import json

import pytest
import torch
from llm_shared import UserError, seed_everything
from safetensors.torch import load_file
from transformer_core.model import Transformer
from transformer_core.train import load_run, train


def test_a_few_steps_change_every_parameter_and_write_the_run(tmp_path, make_train_config):
    config = make_train_config(tmp_path / "run", position="learned", attention="gqa")
    seed_everything(config.seed)  # what train() does before building its model
    before = Transformer(config.model_config(14, 64)).state_dict()
    metrics = train(config)
    after = load_file(tmp_path / "run" / "model.safetensors")
    assert set(after) == set(before)
    unchanged = [name for name in after if torch.equal(after[name], before[name])]
    assert unchanged == []
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["exact_match"] == metrics["exact_match"]
    assert all(loss == loss and loss < 10 for _, loss in saved["loss_curve"])  # finite
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    model, task = load_run(tmp_path / "run")
    assert task.name == "reverse" and model.config.position == "learned"


class Crash(Exception):
    pass


def test_resume_runs_only_the_missing_steps_and_ends_where_an_uninterrupted_run_ends(
        tmp_path, make_train_config):
    # dropout > 0: the resumed run must also restore torch's RNG to end on the same weights
    whole = make_train_config(tmp_path / "whole", steps=9, checkpoint_every=3, dropout=0.1)
    train(whole)

    broken = make_train_config(tmp_path / "broken", steps=9, checkpoint_every=3, dropout=0.1)
    seen: list[int] = []

    def crash_at_five(step: int, loss: float) -> None:
        seen.append(step)
        if step == 5:
            raise Crash

    with pytest.raises(Crash):
        train(broken, on_step=crash_at_five)
    assert seen == [1, 2, 3, 4, 5]
    assert not (tmp_path / "broken" / "model.safetensors").exists()

    resumed: list[int] = []
    broken.resume = True
    train(broken, on_step=lambda step, loss: resumed.append(step))
    assert resumed == [4, 5, 6, 7, 8, 9]  # from the step-3 checkpoint, steps 1-3 not re-run
    a = load_file(tmp_path / "whole" / "model.safetensors")
    b = load_file(tmp_path / "broken" / "model.safetensors")
    assert all(torch.equal(a[name], b[name]) for name in a)
    curve_a = json.loads((tmp_path / "whole" / "metrics.json").read_text())["loss_curve"]
    curve_b = json.loads((tmp_path / "broken" / "metrics.json").read_text())["loss_curve"]
    assert curve_a == curve_b


def test_output_protection_and_resume_mismatch(tmp_path, make_train_config):
    config = make_train_config(tmp_path / "run", steps=3)
    train(config)
    with pytest.raises(UserError, match="already holds a run"):
        train(make_train_config(tmp_path / "run", steps=3))
    with pytest.raises(UserError, match="different \\['task'\\]"):
        train(make_train_config(tmp_path / "run", steps=3, task="sort", resume=True))
    with pytest.raises(UserError, match="no checkpoint"):
        train(make_train_config(tmp_path / "fresh", resume=True))
