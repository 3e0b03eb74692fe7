"""Rollouts and the policy forward: masks after EOS, group layout, and log-probs that equal the
model's own logits (tiny model and the real SmolLM2), with left padding handled by position ids."""

import pytest
import torch
from llm_shared import UserError
from ppo_trainer.policy import ValueHead, position_ids_from_mask, response_forward
from ppo_trainer.rollout import HFGenerator, encode_prompts, make_rollout, response_mask
from ppo_trainer.task import ArithmeticTask


def test_response_mask_stops_after_first_eos():
    ids = torch.tensor([[5, 2, 2, 2], [5, 6, 7, 8], [2, 9, 2, 9]])
    torch.testing.assert_close(response_mask(ids, 2),
                               torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]))


def test_position_ids_skip_left_padding():
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 0, 1, 2]]


def test_task_batches_are_repeatable_and_distinct():
    task = ArithmeticTask(seed=3)
    assert task.batch(5, 4) == task.batch(5, 4)
    assert task.batch(5, 4) != task.batch(6, 4)
    assert all(2 <= int(p.messages[-1]["content"].split()[2]) <= 19 for p in task.batch(0, 8))


def test_make_rollout_groups_and_masks(tiny_model):
    model, tok = tiny_model
    problems = ArithmeticTask().batch(0, 2)
    torch.manual_seed(0)
    rollout = make_rollout(HFGenerator(model, tok.eos_token_id, tok.pad_token_id), tok,
                           [p.messages for p in problems], [p.answer for p in problems],
                           group_size=3, max_prompt_tokens=256, max_new_tokens=5,
                           temperature=1.0, top_p=1.0, device=torch.device("cpu"))
    assert rollout.prompt_ids.shape[0] == 6 and rollout.response_ids.shape[1] <= 5
    assert rollout.answers == [problems[0].answer] * 3 + [problems[1].answer] * 3
    assert torch.equal(rollout.prompt_ids[0], rollout.prompt_ids[2])
    assert rollout.response_mask.sum(1).min() >= 1
    assert len(rollout.completions) == 6


def test_prompt_longer_than_limit_is_a_user_error(tiny_model):
    _, tok = tiny_model
    with pytest.raises(UserError, match="max-prompt-tokens"):
        encode_prompts(tok, [ArithmeticTask().batch(0, 1)[0].messages], 10, torch.device("cpu"))


def _check_logps_match_hf(model, tok):
    problems = ArithmeticTask().batch(0, 2)
    prompt_ids, prompt_mask = encode_prompts(tok, [p.messages for p in problems], 256,
                                             torch.device("cpu"))
    response = torch.tensor([[27, 28, 29], [30, 31, tok.pad_token_id]])
    rmask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    head = ValueHead(model.config.hidden_size)
    with torch.no_grad():
        fw = response_forward(model, prompt_ids, prompt_mask, response, rmask, value_head=head,
                              with_entropy=True)
        for row in range(2):  # each row alone, without padding: the plain HF forward
            keep = prompt_mask[row].bool()
            ids = torch.cat([prompt_ids[row][keep], response[row][rmask[row].bool()]])[None]
            logits = model(ids).logits[0].float().log_softmax(-1)  # (L, V)
            n = int(rmask[row].sum())
            expected = logits[-n - 1:-1].gather(-1, ids[0, -n:, None]).squeeze(-1)
            torch.testing.assert_close(fw.logp[row, :n], expected, atol=2e-4, rtol=1e-4)
    assert fw.values.abs().max() == 0  # zero-initialised value head
    assert (fw.entropy > 0).all()


def test_logps_match_hf_forward_tiny(tiny_model):
    _check_logps_match_hf(*tiny_model)


def test_logps_match_hf_forward_real_smollm2(real_model):
    _check_logps_match_hf(*real_model)


def test_a_swapped_in_generator_drives_the_trainer(tmp_path):
    """The Generator seam: any object with .generate(prompt_ids, prompt_mask, ...) -> ids works;
    here a scripted 'engine' answers correctly, so the rule reward is 1.5 for every row."""
    from ppo_trainer.config import TrainConfig
    from ppo_trainer.trainer import Trainer

    trainer = Trainer(TrainConfig(model="tiny-llama", output=tmp_path, steps=1, eval_prompts=0,
                                  max_new_tokens=12, device="cpu"), log=lambda m: None)
    tok = trainer.tokenizer

    class Scripted:
        def generate(self, prompt_ids, prompt_mask, *, max_new_tokens, temperature, top_p):
            step = trainer.step
            answers = [p.answer for p in trainer.task.batch(step, 2) for _ in range(4)]
            rows = [tok(f"<answer>{a}</answer>", add_special_tokens=False)["input_ids"]
                    + [tok.eos_token_id] for a in answers]
            width = max(len(r) for r in rows)
            return torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])

    trainer.generator = Scripted()
    record = trainer.train_step()
    assert record["reward_mean"] == 1.5 and record["reward/correct_reward"] == 1.0
