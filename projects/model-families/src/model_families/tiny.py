"""Tiny random checkpoints of every family, saved with transformers' own `save_pretrained`.

No package ships a GPT-2 or a T5, so these are how `compare`, the demo and the tests meet those
families: a config a user could have written, random weights (seeded), the folder layout HF
writes. Sizes are shrunk until a forward pass takes milliseconds; each keeps what makes its
family distinct (several layers so shared relative bias and caches span layers, d_kv != d/heads
for T5, GQA for Llama). Tokenizers are not saved: compare and generate on these use token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

VOCAB = 320  # small, but larger than any special token id used below

# name -> (transformers class name, config class name, config kwargs)
TINY: dict[str, tuple[str, str, dict[str, Any]]] = {
    "bert": ("BertForMaskedLM", "BertConfig", dict(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)),
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", dict(
        vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
        bos_token_id=0, eos_token_id=0)),
    "llama": ("LlamaForCausalLM", "LlamaConfig", dict(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)),
    "llama-untied": ("LlamaForCausalLM", "LlamaConfig", dict(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16,  # head_dim != d / heads
        max_position_embeddings=128, rope_theta=500000.0, rms_norm_eps=1e-3,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)),
    "t5": ("T5ForConditionalGeneration", "T5Config", dict(  # v1.0: ReLU, tied, scaled output
        vocab_size=VOCAB, d_model=32, d_kv=16, d_ff=64, num_layers=2,
        num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        feed_forward_proj="relu", decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)),
    "t5-v1_1": ("T5ForConditionalGeneration", "T5Config", dict(  # gated-GELU, untied
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=20,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)),
}


def save_tiny(name: str, out: Path | str, seed: int = 0, **overrides: Any) -> Path:
    """Build tiny model `name` with transformers (random weights at `seed`) and save it to `out`.

    `overrides` change config fields, e.g. `layer_norm_eps=1e-3` to exercise an unusual setting.
    """
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stderr is for our one-line errors
    model_cls, config_cls, kwargs = TINY[name]
    config = getattr(transformers, config_cls)(**{**kwargs, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(transformers, model_cls)(config)
        # Norm weights start at exactly 1 and biases at 0, which would hide a wrong eps or a
        # dropped bias; randomise every parameter so each one shows up in the logits.
        with torch.no_grad():
            for param in model.parameters():
                param.add_(torch.randn_like(param) * 0.1)
    out = Path(out)
    model.save_pretrained(out)
    return out
