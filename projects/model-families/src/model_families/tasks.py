"""The user-facing tasks on top of the models: text generation and BERT fill-mask.

Tokenizers come from the model folder through transformers' `AutoTokenizer` (tokenisation is
another chapter); everything after the token ids is our code. Leaves out batching.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from llm_shared import UserError

from .config import FillMaskConfig, GenerateConfig
from .families import Loaded, load, load_hf
from .generate import Sampling, generate

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt", "tokenizer.model", "spiece.model")


def load_tokenizer(loaded: Loaded) -> Any:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    # Without these files AutoTokenizer can still build an empty tokenizer that encodes nothing.
    if not any((loaded.folder / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(f"{loaded.folder} has no tokenizer files ({', '.join(TOKENIZER_FILES)}); "
                        "save the tokenizer next to the model with save_pretrained")
    try:
        return AutoTokenizer.from_pretrained(loaded.folder)
    except (OSError, ValueError) as exc:
        raise UserError(f"{loaded.folder} has no usable tokenizer files ({type(exc).__name__}); "
                        "save the tokenizer next to the model with save_pretrained") from exc


def eos_ids(loaded: Loaded) -> list[int]:
    eos = loaded.config.get("eos_token_id")
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


def generate_text(config: GenerateConfig) -> dict[str, Any]:
    loaded = load(config.model)
    if loaded.family == "bert":
        raise UserError(f"{config.model} is a BERT (an encoder, no generation); use fill-mask")
    tokenizer = load_tokenizer(loaded)
    if config.chat:
        if not tokenizer.chat_template:
            raise UserError(f"{config.model}'s tokenizer has no chat template; drop --chat")
        ids = tokenizer.apply_chat_template([{"role": "user", "content": config.prompt}],
                                            add_generation_prompt=True, return_dict=True,
                                            return_tensors="pt")["input_ids"]
    else:
        ids = tokenizer(config.prompt, return_tensors="pt")["input_ids"]
    if ids.shape[1] == 0:
        raise UserError("the prompt encodes to no tokens; pass a non-empty --prompt")
    sampling = Sampling(config.temperature, config.top_k, config.top_p)
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    new = generate(loaded.model, ids, config.max_tokens, eos_ids(loaded), sampling)
    seconds = time.perf_counter() - start
    result = {"model": config.model, "family": loaded.family, "prompt_tokens": ids.shape[1],
              "new_tokens": len(new), "text": tokenizer.decode(new, skip_special_tokens=True),
              "tokens_per_s": round(len(new) / seconds, 2)}
    if config.check_hf:
        result["equal_to_hf"] = new == hf_generate(loaded, ids, config.max_tokens, sampling,
                                                   config.seed)
    return result


def hf_generate(loaded: Loaded, ids: torch.Tensor, max_tokens: int, sampling: Sampling,
                seed: int) -> list[int]:
    """The same request through transformers' `generate`: the reference our loop must equal."""
    hf = load_hf(loaded.folder, loaded.family)
    kwargs: dict[str, Any] = {"do_sample": False}
    if sampling.temperature > 0:
        kwargs = {"do_sample": True, "temperature": sampling.temperature,
                  "top_k": sampling.top_k, "top_p": sampling.top_p}
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                          eos_token_id=eos_ids(loaded) or None, **kwargs)
    # a decoder-only output repeats the prompt; a seq2seq one starts with the start token
    return (out[0, 1:] if loaded.family == "t5" else out[0, ids.shape[1]:]).tolist()


def fill_mask(config: FillMaskConfig) -> dict[str, Any]:
    loaded = load(config.model)
    if loaded.family != "bert" or loaded.model.head is None:
        raise UserError(f"{config.model} has no masked-LM head (fill-mask needs a "
                        "BertForMaskedLM folder; a BertModel such as all-MiniLM-L6-v2 has none)")
    tokenizer = load_tokenizer(loaded)
    encoded = tokenizer(config.text, return_tensors="pt")
    ids = encoded["input_ids"]  # (1, T)
    where = (ids[0] == tokenizer.mask_token_id).nonzero().flatten().tolist()
    if not where:
        raise UserError(f"the text has no {tokenizer.mask_token}; put one where a word goes")
    with torch.inference_mode():
        logits, _ = loaded.model(ids, encoded.get("token_type_ids"))  # (1, T, V)
    masks = []
    for position in where:
        probs = logits[0, position].softmax(-1)
        top = probs.topk(min(config.top, probs.numel()))
        pairs = zip(top.values.tolist(), top.indices.tolist(), strict=True)
        masks.append([{"token": tokenizer.decode([i]).strip(), "id": i, "score": round(p, 6)}
                      for p, i in pairs])
    return {"model": config.model, "text": config.text, "masks": masks}
