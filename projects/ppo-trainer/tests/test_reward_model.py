"""The reward model: `train-rm` learns to rank held-out pairs, and a damaged folder is a one-line
error rather than a traceback (or a pickle that runs code)."""

import json

import pytest
import torch
from llm_shared import UserError
from ppo_trainer.config import RewardModelConfig
from ppo_trainer.reward_model import RewardModel
from ppo_trainer.train_rm import train_reward_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("rm")
    # NOTE: lr 3e-3, 3 epochs, all layers: on the tiny random Llama the smallest setting tried
    # (1e-3 reached 0.75) that ranks the held-out pairs well; about 15 s of training.
    result = train_reward_model(RewardModelConfig(
        output=out, model="tiny-llama", num_pairs=48, epochs=3, batch_size=8, lr=3e-3,
        trainable_layers=0, device="cpu", threads=1))
    return out, result


def test_train_rm_learns_to_rank_held_out_pairs(trained):
    _, result = trained
    assert (result["train_pairs"], result["eval_pairs"]) == (36, 12)
    # Chance is 0.5 (P(>= 11 of 12 by coin flips) = 0.3 %); the untrained head ranks 2 of 12.
    assert result["eval_accuracy_before"] == pytest.approx(2 / 12, abs=1e-4)
    assert result["eval_accuracy_after"] >= 11 / 12
    assert result["loss_last"] < 0.5 * result["loss_first"]


def test_reward_model_round_trips(trained):
    out, _ = trained
    model = RewardModel.load(out, "cpu")
    assert model.max_tokens == json.loads((out / "reward_model.json").read_text())["max_tokens"]


def test_damaged_reward_model_is_a_user_error(trained, tmp_path):
    import shutil

    out, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "reward_model.json").write_text("{")
    with pytest.raises(UserError, match="not a complete reward model"):
        RewardModel.load(broken, "cpu")
    (broken / "reward_model.json").write_text("{}")
    with pytest.raises(UserError, match="not a complete reward model"):
        RewardModel.load(broken, "cpu")
    shutil.copy(out / "reward_model.json", broken / "reward_model.json")
    torch.save({"weight": torch.zeros(1, 3), "bias": torch.zeros(1)}, broken / "head.pt")
    with pytest.raises(UserError, match="does not fit its backbone"):
        RewardModel.load(broken, "cpu")
