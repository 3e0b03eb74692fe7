"""Training smoke tests on the tiny random Llama: each algorithm takes a finite step that changes
every trainable parameter, a failing reward function skips (and counts) the step, and a resumed run
reaches exactly the weights of an uninterrupted one."""

import json

import pytest
import torch
from llm_shared import UserError
from ppo_trainer.config import TrainConfig
from ppo_trainer.trainer import Trainer


def length_reward(completions, answers):
    """Varies across samples even for a random model, so advantages are non-zero."""
    return [float(len(c)) / 10 for c in completions]


def tiny_config(tmp_path, **overrides):
    base = dict(model="tiny-llama", output=tmp_path, steps=1, prompts_per_step=2, group_size=2,
                max_new_tokens=4, eval_prompts=0, device="cpu", lr=1e-3, threads=1)
    base.update(overrides)
    return TrainConfig(**base)


def make_trainer(config, reward=length_reward):
    trainer = Trainer(config, log=lambda m: None)
    trainer.reward_fns, trainer.config.reward_weights = [reward], [1.0]
    return trainer


@pytest.mark.parametrize("algo,extra", [
    ("grpo", {}), ("rloo", {}),
    ("ppo", {"ppo_epochs": 2, "num_minibatches": 2, "adaptive_kl": True, "entropy_coef": 0.01}),
])
def test_one_step_changes_every_trainable_parameter(tmp_path, algo, extra):
    torch.manual_seed(0)
    trainer = make_trainer(tiny_config(tmp_path, algo=algo, **extra))
    params = {n: p.detach().clone() for n, p in trainer.policy.named_parameters()}
    record = trainer.train_step()
    for key in ("reward_mean", "policy_loss", "entropy", "clip_frac", "grad_norm"):
        assert torch.isfinite(torch.tensor(record[key])), key
    unchanged = [n for n, p in trainer.policy.named_parameters()
                 if torch.equal(p.detach(), params[n])]
    # rows of the embedding for tokens never seen get zero gradient; everything else must move
    assert unchanged == []
    if algo == "ppo":
        assert "value_loss" in record and record["kl_coef"] == 0.04  # beta used in this step
        assert trainer.kl_ctl.value != 0.04  # the adaptive controller moved it afterwards
        assert trainer.value_head.summary.weight.abs().sum() > 0
    else:
        assert record["kl"] >= 0


def test_trainable_layers_freezes_the_rest(tmp_path):
    trainer = make_trainer(tiny_config(tmp_path, trainable_layers=1))
    before = {n: p.detach().clone() for n, p in trainer.policy.named_parameters()}
    trainer.train_step()
    changed = {n for n, p in trainer.policy.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("model.layers.1.", "model.norm")) for n in changed)


def test_failing_reward_skips_and_counts_then_stops(tmp_path):
    def broken(completions, answers):
        raise ZeroDivisionError("bad reward")

    trainer = make_trainer(tiny_config(tmp_path, max_skipped=2), reward=broken)
    weights = {n: p.detach().clone() for n, p in trainer.policy.named_parameters()}
    record = trainer.train_step()
    assert record["skipped"] and trainer.skipped == 1 and "ZeroDivisionError" in record["error"]
    assert all(torch.equal(p, weights[n]) for n, p in trainer.policy.named_parameters())
    with pytest.raises(UserError, match="2 steps in a row"):
        trainer.train_step()


def test_nan_reward_is_skipped_in_a_run(tmp_path):
    calls = []

    def sometimes_nan(completions, answers):
        calls.append(1)
        return [float("nan") if len(calls) == 1 else 1.0 * i for i in range(len(completions))]

    trainer = make_trainer(tiny_config(tmp_path, steps=2, checkpoint=False), reward=sometimes_nan)
    summary = trainer.run()
    assert summary["skipped_steps"] == 1 and summary["steps"] == 2
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["skipped"] and "reward_mean" in lines[1]


def test_resume_reaches_the_same_weights(tmp_path):
    full = make_trainer(tiny_config(tmp_path / "full", steps=2, algo="ppo"))
    full.run()
    part = make_trainer(tiny_config(tmp_path / "part", steps=1, algo="ppo"))
    part.run()
    resumed = make_trainer(tiny_config(tmp_path / "part", steps=2, algo="ppo", resume=True))
    ran = []
    step = resumed.train_step

    def counted():
        record = step()
        ran.append(record["step"])
        return record

    resumed.train_step = counted
    resumed.run()
    assert ran == [2]  # step 1 came from the checkpoint, not from running it again
    for (name, a), (_, b) in zip(full.policy.named_parameters(),
                                 resumed.policy.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    torch.testing.assert_close(full.value_head.summary.weight, resumed.value_head.summary.weight)
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]


def test_resume_without_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoint"):
        make_trainer(tiny_config(tmp_path, resume=True)).run()


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.mkdir, (os.environ["PWNED_DIR"],))


def test_resume_refuses_a_checkpoint_that_carries_code(tmp_path, monkeypatch):
    make_trainer(tiny_config(tmp_path, steps=1)).run()
    monkeypatch.setenv("PWNED_DIR", str(tmp_path / "pwned"))
    torch.save({"optimizer": _RunsCode(), "torch_rng": torch.get_rng_state()},
               tmp_path / "checkpoint" / "trainer.pt")
    with pytest.raises(UserError, match="objects other than tensors"):
        make_trainer(tiny_config(tmp_path, steps=2, resume=True)).run()
    assert not (tmp_path / "pwned").exists()  # the payload never ran
