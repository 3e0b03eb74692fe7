"""Engine behaviour: sampling knobs, n > 1 with copy-on-write, stops, aborts, seeds, logprobs."""

import pytest
import torch
from llm_shared import UserError
from paged_kv_server import SamplingParams, Sequence
from paged_kv_server.sampler import Sampler, apply_penalties, filter_probs
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


def test_filters_match_hf_logits_warpers():
    torch.manual_seed(0)
    logits = torch.randn(1, 50)
    probs = torch.softmax(logits[0], -1)
    for ours, hf in [(filter_probs(probs, 5, 1.0, 0.0), TopKLogitsWarper(5)),
                     (filter_probs(probs, 0, 0.7, 0.0), TopPLogitsWarper(0.7)),
                     (filter_probs(probs, 0, 1.0, 0.2), MinPLogitsWarper(0.2))]:
        ref = torch.softmax(hf(None, logits.clone())[0], -1)
        torch.testing.assert_close(ours, ref)


def test_repetition_penalty_matches_hf_and_openai_penalties_worked_example():
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    seq = Sequence([0, 1], SamplingParams(repetition_penalty=2.0))
    ref = RepetitionPenaltyLogitsProcessor(2.0)(torch.tensor([[0, 1]]), logits.clone())
    torch.testing.assert_close(apply_penalties(logits.clone(), [seq]), ref)
    seq = Sequence([0], SamplingParams(presence_penalty=0.5, frequency_penalty=0.25))
    for t in (3, 3, 2):
        seq.append_token(t)
    # token 3 seen twice: 3 - 0.5 - 2 * 0.25; token 2 once: 0.5 - 0.5 - 0.25; prompt not counted
    expected = torch.tensor([[2.0, -1.0, -0.25, 2.0]])
    torch.testing.assert_close(apply_penalties(logits.clone(), [seq]), expected)


def test_sampler_greedy_seed_and_logprobs():
    torch.manual_seed(0)
    logits = torch.randn(3, 100)
    greedy = Sequence([1], SamplingParams(temperature=0, logprobs=3))
    a = Sequence([1], SamplingParams(temperature=1.0, seed=7))
    b = Sequence([1], SamplingParams(temperature=1.0, seed=7))
    tokens = Sampler()(logits, [greedy, a, b])
    assert tokens[0] == int(logits[0].argmax())
    assert tokens[1] == tokens[2]  # same seed, same logits -> same draw, whatever the row
    entry = greedy.logprobs[0]
    assert entry["logprob"] == pytest.approx(float(torch.log_softmax(logits[0], -1).max()))
    assert len(entry["top"]) == 3 and max(entry["top"].values()) == entry["logprob"]


def test_top_k_1_equals_greedy(engine, random_prompts):
    prompts = random_prompts(4, seed=2)
    greedy = engine.generate(prompts, SamplingParams(temperature=0, max_tokens=8))
    topk1 = engine.generate(prompts, SamplingParams(temperature=0.8, top_k=1, max_tokens=8))
    assert [g[0].token_ids for g in greedy] == [t[0].token_ids for t in topk1]


def test_seeded_sampling_is_independent_of_the_batch(engine, random_prompts):
    prompts = random_prompts(6, seed=4)
    params = SamplingParams(temperature=1.0, top_p=0.9, seed=123, max_tokens=12)
    alone = engine.generate(prompts[:1], params)[0][0].token_ids
    batched = engine.generate(prompts, [params] + [SamplingParams(temperature=1.0,
                                                                  max_tokens=12)] * 5)
    assert batched[0][0].token_ids == alone


def test_n_samples_share_the_prompt_with_copy_on_write(tiny_engine, random_prompts):
    engine = tiny_engine(enable_prefix_caching=False)
    prompt = random_prompts(1, 30, 31, seed=8)[0]  # 30 tokens: last block is half full
    copies, seen = [], {}
    orig_alloc = engine.block_manager.allocate_slots

    def record(seq, n):
        result = orig_alloc(seq, n)
        if result:
            copies.extend(result)
        seen[seq.seq_id] = list(seq.block_table)
        return result

    engine.block_manager.allocate_slots = record
    out = engine.generate([prompt], SamplingParams(temperature=1.0, n=4, seed=1, max_tokens=10))
    assert [c.index for c in out[0]] == [0, 1, 2, 3]
    assert len(copies) >= 3  # each extra sample copied the shared, partly filled last block
    assert len({table[0] for table in seen.values()}) == 1  # the full first block stays shared
    assert len({tuple(c.token_ids) for c in out[0]}) > 1  # different samples
    assert engine.block_manager.num_free_blocks == engine.block_manager.num_blocks


def test_n_greedy_samples_equal_the_single_greedy_output(engine, random_prompts):
    prompt = random_prompts(1, 21, 22, seed=9)[0]
    single = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=10))[0][0]
    many = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=10, n=3))[0]
    assert all(c.token_ids == single.token_ids for c in many)


def test_stop_token_ids_max_tokens_and_stop_strings(engine, random_prompts):
    prompt = random_prompts(1, 10, 11, seed=10)[0]
    free = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=12))[0][0]
    assert free.finish_reason == "length" and len(free.token_ids) == 12
    stop_id = free.token_ids[5]
    stopped = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=12,
                                                       stop_token_ids=[stop_id]))[0][0]
    first = free.token_ids.index(stop_id)
    assert stopped.finish_reason == "stop" and stopped.token_ids == free.token_ids[:first + 1]
    text = free.text
    needle = text[len(text) // 2:len(text) // 2 + 3]
    by_text = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=12,
                                                       stop=[needle]))[0][0]
    assert by_text.finish_reason == "stop" and by_text.text == text[:text.find(needle)]


def test_abort_frees_blocks_at_once(engine, random_prompts):
    for i, prompt in enumerate(random_prompts(3, 20, 40, seed=11)):
        engine.add_request(f"r{i}", prompt, SamplingParams(temperature=0, max_tokens=50))
    engine.step()
    engine.step()
    assert engine.block_manager.num_free_blocks < engine.block_manager.num_blocks
    for i in range(3):
        engine.abort_request(f"r{i}")
    assert engine.block_manager.num_free_blocks == engine.block_manager.num_blocks
    assert not engine.has_unfinished()


def test_bad_requests_are_user_errors(engine):
    with pytest.raises(UserError, match="temperature"):
        SamplingParams(temperature=-1)
    with pytest.raises(UserError, match="empty"):
        engine.add_request("x", [], SamplingParams())
    with pytest.raises(UserError, match="max_model_len"):
        engine.add_request("y", [5] * 600, SamplingParams())


def test_bookkeeping_stays_bounded_over_many_steps(engine):
    """A server steps forever: no per-step or per-request list may grow with the steps."""
    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)

    def sizes():
        return {name: len(value) for name, value in vars(engine).items()
                if isinstance(value, (list, dict, set, tuple))}

    engine.generate([[5, 6, 7], [8, 9]], params)
    before, steps = sizes(), engine.num_steps
    for _ in range(3):
        engine.generate([[5, 6, 7], [8, 9]], params)
    assert engine.num_steps == 4 * steps  # same batches each time: 3x more steps ran
    assert sizes() == before
    # Running sums: every step both sequences ran, reserving (3 + 12) + (2 + 12) contiguous
    # slots, or 2 x max_model_len (512).
    _, _, contiguous, at_max = engine.kv_slot_sums
    assert (contiguous, at_max) == (29 * engine.num_steps, 2 * 512 * engine.num_steps)


def test_kv_utilisation_worked_example(tiny_engine):
    """Prompt 3, 5 tokens, blocks of 4: steps see 3..7 live tokens in 1,1,2,2,2 blocks."""
    engine = tiny_engine()
    engine.generate([[5, 6, 7]], SamplingParams(temperature=0, max_tokens=5, ignore_eos=True))
    assert engine.num_steps == 5
    assert engine.kv_slot_sums == [3 + 4 + 5 + 6 + 7, 4 + 4 + 8 + 8 + 8, 5 * 8, 5 * 512]
    assert engine.kv_utilisation() == {"paged": 25 / 32, "contiguous": 25 / 40,
                                       "contiguous_max_len": 25 / 2560}
