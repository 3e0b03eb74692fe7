"""Each loss term on fixed tensors: hand-worked values, and TRL's result where TRL has the code."""

import math

import pytest
import torch
from ppo_trainer.kl_control import AdaptiveKLController, FixedKLController
from ppo_trainer.losses import (
    bradley_terry_loss,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    entropy_from_logits,
    grpo_advantages,
    kl_penalty,
    masked_mean,
    masked_var,
    masked_whiten,
    rloo_advantages,
    selective_log_softmax,
    token_rewards,
)


@pytest.fixture
def trl_utils(require):
    """TRL's helpers, for the tests that compare with TRL (the hand-worked ones run without)."""
    return require("trl.trainer.utils")


def test_masked_mean_and_var_by_hand():
    x = torch.tensor([[1.0, 2.0, 9.0]])
    mask = torch.tensor([[1, 1, 0]])
    assert masked_mean(x, mask).item() == 1.5
    # values 1, 2: mean 1.5, squared deviations 0.25 + 0.25, Bessel: 0.5 / 1
    assert masked_var(x, mask).item() == pytest.approx(0.5)
    assert masked_var(x, mask, unbiased=False).item() == pytest.approx(0.25)


def test_whiten_has_zero_mean_unit_std_on_mask():
    torch.manual_seed(0)
    x = torch.randn(4, 6) * 3 + 2
    mask = torch.ones(4, 6)
    mask[1, 4:] = 0
    w = masked_whiten(x, mask)
    assert masked_mean(w, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert masked_var(w, mask).item() == pytest.approx(1.0, abs=1e-5)
    kept = masked_whiten(x, mask, shift_mean=False)
    assert masked_mean(kept, mask).item() == pytest.approx(masked_mean(x, mask).item(), abs=1e-5)


def test_selective_log_softmax_and_entropy_match_trl(trl_utils):
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11)
    index = torch.randint(0, 11, (2, 5))
    ours = selective_log_softmax(logits, index)
    torch.testing.assert_close(ours, trl_utils.selective_log_softmax(logits, index))
    torch.testing.assert_close(entropy_from_logits(logits), trl_utils.entropy_from_logits(logits))
    uniform = torch.zeros(1, 1, 8)
    assert entropy_from_logits(uniform).item() == pytest.approx(math.log(8))


def test_kl_estimators_by_hand():
    logp, ref = torch.tensor([-1.0]), torch.tensor([-1.5])  # log r = 0.5
    assert kl_penalty(logp, ref, "k1").item() == pytest.approx(0.5)
    assert kl_penalty(logp, ref, "k2").item() == pytest.approx(0.125)
    assert kl_penalty(logp, ref, "k3").item() == pytest.approx(math.exp(-0.5) - 0.5)
    with pytest.raises(ValueError):
        kl_penalty(logp, ref, "k4")


def test_k3_is_nonnegative_and_unbiased_for_kl():
    # Samples from p; E_p[k1] and E_p[k3] both equal KL(p || q).
    torch.manual_seed(0)
    p = torch.distributions.Categorical(probs=torch.tensor([0.6, 0.3, 0.1]))
    q = torch.tensor([0.3, 0.4, 0.3])
    x = p.sample((200_000,))
    logp, logq = p.log_prob(x), q.log()[x]
    exact = (p.probs * (p.probs.log() - q.log())).sum().item()
    assert kl_penalty(logp, logq, "k3").min().item() >= 0
    assert kl_penalty(logp, logq, "k3").mean().item() == pytest.approx(exact, rel=0.02)
    assert kl_penalty(logp, logq, "k1").mean().item() == pytest.approx(exact, rel=0.02)


def test_gae_by_hand():
    # One sequence of 3 tokens, gamma 0.9, lambda 0.8; V after the end is 0.
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.6, 0.7]])
    mask = torch.ones(1, 3)
    adv, ret = compute_gae(rewards, values, mask, gamma=0.9, lam=0.8)
    d2 = 1.0 + 0.0 - 0.7  # 0.3
    d1 = 0.0 + 0.9 * 0.7 - 0.6  # 0.03
    d0 = 0.0 + 0.9 * 0.6 - 0.5  # 0.04
    a2 = d2
    a1 = d1 + 0.72 * a2  # 0.246
    a0 = d0 + 0.72 * a1  # 0.21712
    torch.testing.assert_close(adv, torch.tensor([[a0, a1, a2]]))
    torch.testing.assert_close(ret, torch.tensor([[a0 + 0.5, a1 + 0.6, a2 + 0.7]]))


def test_gae_ignores_padding_and_gamma_lambda_one_gives_reward_to_go():
    rewards = torch.tensor([[0.0, 2.0, 5.0]])
    values = torch.tensor([[1.0, 1.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])  # third token is padding: its reward/value ignored
    adv, ret = compute_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret, torch.tensor([[2.0, 2.0, 0.0]]))  # reward to go
    torch.testing.assert_close(adv, torch.tensor([[1.0, 1.0, 0.0]]))


def test_token_rewards_put_score_on_last_real_token():
    kl = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    r = token_rewards(torch.tensor([1.0, 2.0]), kl, mask, kl_coef=0.5)
    torch.testing.assert_close(r, torch.tensor([[-0.05, -0.1, 0.85], [-0.2, 1.75, 0.0]]))


def test_clipped_policy_loss_by_hand(fixed_batch):
    b = fixed_batch
    adv = torch.tensor([1.0, -1.0])
    out = clipped_policy_loss(b.logp, b.old_logp, adv, b.mask, clip_low=0.2)
    # ratios row 0: e^0.2=1.2214 (clipped to 1.2 for A>0), 1, e^-0.5=0.6065 -> -1.2, -1, -0.6065
    # row 1 (A=-1): e^0.2 -> max(1.2214, 1.2) = 1.2214; e^-0.5 -> max(0.6065, 0.8) = 0.8
    expected_tokens = [-1.2, -1.0, -math.exp(-0.5), math.exp(0.2), 0.8]
    assert out.loss.item() == pytest.approx(sum(expected_tokens) / 5, rel=1e-5)
    assert out.clip_frac.item() == pytest.approx(2 / 5)  # row0 token0, row1 token1
    seq = clipped_policy_loss(b.logp, b.old_logp, adv, b.mask, clip_low=0.2,
                              aggregate="sequence")
    expected_seq = (sum(expected_tokens[:3]) / 3 + sum(expected_tokens[3:]) / 2) / 2
    assert seq.loss.item() == pytest.approx(expected_seq, rel=1e-5)


@pytest.mark.parametrize("loss_type,aggregate", [("grpo", "sequence"), ("bnpo", "token")])
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_and_gradient_match_trl(fixed_batch, trl_grpo_self, loss_type, aggregate, beta):
    from trl import GRPOTrainer

    b = fixed_batch
    adv = torch.tensor([0.7, -1.3])
    logp_trl = b.logp.clone().requires_grad_(True)
    inputs = {"prompt_ids": torch.zeros(2, 2, dtype=torch.long), "prompt_mask": torch.ones(2, 2),
              "completion_ids": torch.zeros(2, 3, dtype=torch.long), "completion_mask": b.mask,
              "advantages": adv, "old_per_token_logps": b.old_logp,
              "ref_per_token_logps": b.ref_logp}
    fake = trl_grpo_self(logp_trl, torch.zeros(2, 3), beta=beta, loss_type=loss_type,
                         epsilon_high=0.28)
    trl_loss = GRPOTrainer._compute_loss(fake, None, inputs)
    trl_loss.backward()

    logp = b.logp.clone().requires_grad_(True)
    ours = clipped_policy_loss(logp, b.old_logp, adv, b.mask, 0.2, 0.28, aggregate).loss
    if beta:
        from ppo_trainer.losses import aggregate_loss

        ours = ours + beta * aggregate_loss(kl_penalty(logp, b.ref_logp, "k3"), b.mask, aggregate)
    ours.backward()
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-6)
    torch.testing.assert_close(logp.grad, logp_trl.grad)


def test_grpo_kl_metric_matches_trl(fixed_batch, trl_grpo_self):
    from trl import GRPOTrainer

    b = fixed_batch
    inputs = {"prompt_ids": torch.zeros(2, 2, dtype=torch.long), "prompt_mask": torch.ones(2, 2),
              "completion_ids": torch.zeros(2, 3, dtype=torch.long), "completion_mask": b.mask,
              "advantages": torch.tensor([1.0, -1.0]), "ref_per_token_logps": b.ref_logp}
    fake = trl_grpo_self(b.logp, torch.zeros(2, 3), beta=0.1)
    GRPOTrainer._compute_loss(fake, None, inputs)
    ours = masked_mean(kl_penalty(b.logp, b.ref_logp, "k3"), b.mask).item()
    assert fake._metrics["train"]["kl"][0] == pytest.approx(ours, rel=1e-6)


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.0]])
    old = torch.tensor([[0.5, 0.1]])
    returns = torch.tensor([[2.0, 0.0]])
    mask = torch.ones(1, 2)
    loss, frac = clipped_value_loss(values, old, returns, mask, clip=0.2)
    # token 0: unclipped (1-2)^2 = 1, clipped V = 0.7 -> 1.69: max 1.69 (clipped counts)
    # token 1: unclipped 0, clipped V = 0.0 (within 0.2 of 0.1): 0 -> 0
    assert loss.item() == pytest.approx(0.5 * (1.69 + 0.0) / 2)
    assert frac.item() == pytest.approx(0.5)


def test_grpo_std_is_trl_nanstd(trl_utils):
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert trl_utils.nanstd(r).item() == pytest.approx(0.5)  # TRL's own std (Bessel)


def test_grpo_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    adv = grpo_advantages(r, 4)
    # group 1: mean 0.25, Bessel std 0.5 (TRL's nanstd, checked above), eps 1e-4 on the std
    torch.testing.assert_close(adv[:4], torch.tensor([0.75, -0.25, -0.25, -0.25]) * 2 / (1 + 2e-4))
    torch.testing.assert_close(adv[4:], torch.zeros(4))  # equal rewards: no signal
    torch.testing.assert_close(grpo_advantages(r, 4, scale="none")[:4],
                               torch.tensor([0.75, -0.25, -0.25, -0.25]))
    with pytest.raises(ValueError):
        grpo_advantages(r, 1)


def test_rloo_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(rloo_advantages(r, 4), torch.tensor([1.0, -1 / 3, -1 / 3, -1 / 3]))
    # RLOO advantages are (G / (G-1)) times the mean-centred ones
    torch.testing.assert_close(rloo_advantages(r, 4), grpo_advantages(r, 4, scale="none") * 4 / 3)


def test_bradley_terry_by_hand():
    assert bradley_terry_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))
    # -log sigmoid(2 - 1) = log(1 + e^-1)
    assert bradley_terry_loss(torch.tensor([2.0]), torch.tensor([1.0])).item() == pytest.approx(
        math.log(1 + math.exp(-1)))


def test_bradley_terry_vs_trl_reward_trainer(trl_reward_self):
    from types import SimpleNamespace

    from trl import RewardTrainer

    chosen, rejected = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1.0, 1.5, -3.0])
    logits = torch.cat([chosen, rejected]).unsqueeze(-1)

    def model(**_):
        return SimpleNamespace(logits=logits)

    trl_loss = RewardTrainer.compute_loss(trl_reward_self(), model, {"input_ids": None})
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(trl_loss.item())


def test_kl_controllers():
    fixed = FixedKLController(0.1)
    fixed.update(100.0, 256)
    assert fixed.value == 0.1
    adaptive = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    adaptive.update(12.0, 256)  # error clipped to +0.2
    assert adaptive.value == pytest.approx(0.1 * (1 + 0.2 * 256 / 10000))
    adaptive.update(3.0, 10000)  # error clipped to -0.2 -> factor 0.8
    assert adaptive.value == pytest.approx(0.1 * (1 + 0.2 * 256 / 10000) * 0.8)


def test_a_missing_reference_library_fails_under_ci(require, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        require("no_such_reference_library")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require("no_such_reference_library")
