"""Tree attention and path keeping against plain Hugging Face forwards (tiny-llama), for the HF
runner and the lean engine's runner alike."""

import pytest
import torch
from medusa_decoder.kv import LeanRunner, TargetRunner
from medusa_decoder.lean import lean_engine
from medusa_decoder.proposers import early_exit_model
from medusa_decoder.tree import DraftTree


def _plain_logits(model, ids):
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0]  # (T, V)


@pytest.mark.parametrize("make_runner", [TargetRunner, lambda m: LeanRunner(lean_engine(m))],
                         ids=["hf", "lean"])
def test_tree_logits_equal_each_branch_run_alone(tiny_model, make_runner):
    model, _ = tiny_model
    prompt = [1, 300, 400, 500, 600]
    tree = DraftTree([700, 11, 12, 13, 14], [-1, 0, 0, 1, 2])
    runner = make_runner(model)
    runner.prefill(prompt)
    logits, _ = runner.verify(tree)  # (5, V)
    for node, branch in [(0, [700]), (1, [700, 11]), (2, [700, 12]), (3, [700, 11, 13]),
                         (4, [700, 12, 14])]:
        ref = _plain_logits(model, prompt + branch)[-1]
        torch.testing.assert_close(logits[node], ref, atol=1e-5, rtol=1e-4)


def test_keep_path_leaves_the_cache_of_sequential_decoding(tiny_model):
    model, _ = tiny_model
    prompt = [1, 300, 400, 500]
    tree = DraftTree([700, 11, 12, 13, 14], [-1, 0, 0, 1, 2])
    runner = TargetRunner(model)
    runner.prefill(prompt)
    runner.verify(tree)
    runner.keep([0, 2, 4])  # the branch 700 -> 12 -> 14
    assert runner.length == len(prompt) + 3
    logits, _ = runner.verify(DraftTree.chain([99]))
    ref = _plain_logits(model, prompt + [700, 12, 14, 99])[-1]
    torch.testing.assert_close(logits[0], ref, atol=1e-5, rtol=1e-4)


def test_early_exit_model_is_the_first_layers(tiny_model):
    model, _ = tiny_model
    draft = early_exit_model(model, 1)
    ids = torch.tensor([[1, 300, 400, 500]])
    with torch.inference_mode():
        hs = model.model(ids, output_hidden_states=True).hidden_states
        expected = model.lm_head(model.model.norm(hs[1]))
        got = draft(ids).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert model.config.num_hidden_layers == 2  # the target is untouched
    assert len(model.model.layers) == 2
