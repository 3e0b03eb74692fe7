"""Our Llama forward over the paged cache against Hugging Face transformers.

Greedy outputs must be token-for-token identical to `generate` on the same weights, prompt by
prompt, while the engine batches them (mixed lengths, chunked prefill, prefix-cache hits,
preemption). The real embedded SmolLM2 is checked too, and logits against HF's forward.
"""

import pytest
import torch
from llm_shared import load_causal_lm
from paged_kv_server import SamplingParams
from paged_kv_server.hf_baseline import hf_generate_sequential


def _check(engine, hf_model, prompts, max_tokens):
    ours = engine.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens))
    theirs = hf_generate_sequential(hf_model, prompts, max_tokens)
    for prompt, mine, ref in zip(prompts, ours, theirs, strict=True):
        assert mine[0].token_ids == ref, f"prompt of {len(prompt)} tokens differs"
    assert engine.block_manager.num_free_blocks == engine.block_manager.num_blocks


def test_logits_match_hf_forward(tiny_engine, tiny_hf, random_prompts):
    """Prefill logits of every position equal HF's (float32 round-off only)."""
    engine = tiny_engine(max_num_batched_tokens=512)
    prompt = random_prompts(1, 40, 41, seed=3)[0]
    from paged_kv_server.sequence import Sequence

    seq = Sequence(prompt, SamplingParams(temperature=0))
    engine.block_manager.allocate_slots(seq, len(prompt))
    ids, positions, meta, _, _ = engine._prepare([seq], [len(prompt)])
    rows = torch.arange(len(prompt))
    ours = engine.model.forward(ids, positions, meta, engine.k_cache, engine.v_cache, rows)
    with torch.inference_mode():
        ref = tiny_hf[0](torch.tensor([prompt])).logits[0].float()
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_greedy_identical_to_hf_many_mixed_prompts(tiny_engine, tiny_hf, random_prompts):
    # block_size 4 and a 64-token budget: long prompts are chunked, batches mix prefill + decode.
    _check(tiny_engine(), tiny_hf[0], random_prompts(24, 1, 120, seed=1), 24)


def test_greedy_identical_with_prefix_hits_and_preemption(tiny_engine, tiny_hf, random_prompts):
    shared = random_prompts(1, 30, 31, seed=5)[0]
    prompts = [shared + tail for tail in random_prompts(10, 1, 20, seed=6)]
    # 60 blocks of 4 tokens: not enough for all ten at once, so some are preempted.
    engine = tiny_engine(num_blocks=60, max_model_len=200, max_num_batched_tokens=128)
    _check(engine, tiny_hf[0], prompts, 40)
    assert engine.block_manager.prefix_hit_rate > 0.3
    assert engine.scheduler.num_preemptions > 0


def test_greedy_identical_on_the_real_smollm2(tiny_engine):
    """The embedded SmolLM2-135M-Instruct, real chat prompts of different lengths, batched."""
    engine = tiny_engine(model="smollm2-135m-instruct", kv_cache_mb=64, block_size=16,
                         max_num_batched_tokens=256)
    model, tok = load_causal_lm("smollm2-135m-instruct", device="cpu", dtype=torch.float32)
    from paged_kv_server.workload import chat_prompt_ids, mixed_messages

    prompts = [chat_prompt_ids(tok, m) for m in mixed_messages(4, seed=2, max_chars=600)]
    assert len({len(p) for p in prompts}) == 4
    _check(engine, model, prompts, 10)


@pytest.mark.slow
def test_greedy_identical_on_smollm2_many_prompts(tiny_engine):
    engine = tiny_engine(model="smollm2-135m-instruct", kv_cache_mb=256, block_size=16,
                         max_num_batched_tokens=512)
    model, tok = load_causal_lm("smollm2-135m-instruct", device="cpu", dtype=torch.float32)
    from paged_kv_server.workload import mixed_prompt_ids

    _check(engine, model, mixed_prompt_ids(tok, 32, seed=3), 48)


_TINY = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)


@pytest.mark.parametrize("kind, extra, words", [
    ("llama", {}, None),
    ("qwen2", {}, "'qwen2' model; supported architectures: llama"),
    ("mistral", {"sliding_window": 16}, "'mistral' model"),
    ("llama", {"attention_bias": True}, "attention_bias=true"),
    ("llama", {"sliding_window": 16}, "sliding_window=16"),
])
def test_only_plain_llama_checkpoints_load(tmp_path, kind, extra, words):
    """Qwen2 (q/k/v biases) or a sliding window would decode silently wrong: refused in one line."""
    import transformers
    from llm_shared import UserError
    from paged_kv_server import LlamaModel

    config_cls = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config,
                  "mistral": transformers.MistralConfig}[kind]
    model_cls = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM,
                 "mistral": transformers.MistralForCausalLM}[kind]
    config = config_cls(**_TINY, **extra)
    if kind == "llama" and "sliding_window" in extra:
        config.sliding_window = extra["sliding_window"]
    torch.manual_seed(0)
    model_cls(config).save_pretrained(tmp_path)
    if words is None:
        model = LlamaModel.from_pretrained(tmp_path, device=torch.device("cpu"),
                                           dtype=torch.float32)
        assert model.config.num_hidden_layers == 1
        return
    with pytest.raises(UserError) as exc:
        LlamaModel.from_pretrained(tmp_path, device=torch.device("cpu"), dtype=torch.float32)
    assert words in str(exc.value) and "\n" not in str(exc.value)
