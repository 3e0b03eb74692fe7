"""Training: a smoke run, resume that reruns only the missing steps, and the MoE report."""

import json

import pytest
import torch
from mamba_moe.config import TrainConfig
from mamba_moe.tasks import TaskSpec
from mamba_moe.train import build, n_params, train
from safetensors.torch import load_file

TINY = dict(seq_len=8, num_tokens=2, vocab=4, batch_size=4, hidden_size=16, eval_examples=8)


@pytest.mark.parametrize("arch", ["transformer", "moe"])
def test_param_count_matches_mamba(arch):
    spec = TaskSpec()
    mamba = n_params(build(TrainConfig(output="x", arch="mamba"), spec))
    other = n_params(build(TrainConfig(output="x", arch=arch), spec))
    assert abs(other - mamba) / mamba <= 0.05


@pytest.mark.parametrize("arch", ["mamba", "moe"])
def test_training_changes_every_parameter(arch, tmp_path):
    # 16 x 11 tokens of 10 kinds per step: enough variety that every expert gets some
    cfg = TrainConfig(arch=arch, output=tmp_path / "run", steps=2, **{**TINY, "vocab": 8,
                                                                      "batch_size": 16})
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in build(cfg, TaskSpec("selective-copy", 8, 2, 8))
              .state_dict().items()}
    summary = train(cfg, log=lambda m: None)
    after = load_file(str(tmp_path / "run" / "model.safetensors"))
    unchanged = sorted(k for k in after if torch.equal(after[k], before[k]))
    assert summary["steps_run"] == 2
    # Only experts may keep their init: those that served no token, and last-layer experts
    # that served only positions outside the loss (the loss covers the K target positions).
    counts = summary.get("train_expert_counts") or []
    idle = {f"model.layers.{i}.block_sparse_moe.experts.{e}.{w}.weight"
            for i, row in enumerate(counts) for e, n in enumerate(row)
            if n == 0 or i == len(counts) - 1 for w in ("w1", "w2", "w3")}
    assert set(unchanged) <= idle
    if arch == "moe":
        assert (tmp_path / "run" / "experts.png").stat().st_size > 0
        assert len(summary["expert_counts"]) == 2 and "balance_loss" in summary


def test_resume_runs_only_the_missing_steps_and_reaches_the_same_weights(tmp_path):
    cfg = dict(arch="mamba", steps=4, checkpoint_every=2, **TINY)
    full = train(TrainConfig(output=tmp_path / "full", **cfg), log=lambda m: None)
    logs = []

    def interrupt(message):
        logs.append(message)
        if len(logs) == 2:  # after step 2's checkpoint, during step 4's log
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(output=tmp_path / "cut", **cfg), log=interrupt)
    progress = json.loads((tmp_path / "cut" / "checkpoint" / "progress.json").read_text())
    assert progress["step"] == 2
    resumed = train(TrainConfig(output=tmp_path / "cut", resume=True, **cfg), log=lambda m: None)
    assert resumed["steps_run"] == 2 and full["steps_run"] == 4
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=0)
