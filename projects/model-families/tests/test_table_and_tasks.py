"""The comparison table's parameter counts, and BERT fill-mask against transformers' pipeline."""

from __future__ import annotations

import pytest
import torch
import transformers
from llm_shared import model_path
from model_families.config import FillMaskConfig
from model_families.families import FAMILIES
from model_families.table import GPT2_SMALL, T5_SMALL, T5_V1_1_SMALL, TRAITS, build_table, row
from model_families.tasks import fill_mask


def total(r):
    text = r["total"]
    return float(text[:-1]) * 1e6 if text.endswith("M") else int(text)


def hf_count(model_cls, config_cls, config):
    with torch.device("meta"):
        kwargs = {k: v for k, v in config.items() if k != "model_type"}
        return model_cls(config_cls(**kwargs)).num_parameters()


@pytest.mark.parametrize("config, model_cls, config_cls", [
    (GPT2_SMALL, transformers.GPT2LMHeadModel, transformers.GPT2Config),
    (T5_SMALL, transformers.T5ForConditionalGeneration, transformers.T5Config),
])
def test_parameter_totals_equal_transformers(config, model_cls, config_cls):
    assert total(row("x", config)) == pytest.approx(hf_count(model_cls, config_cls, config),
                                                    abs=5e3)  # the table rounds to 0.01M


def test_t5_v1_1_counts_its_untied_head():
    # transformers 5.24 builds every fresh T5 tied; the real v1.1 checkpoints carry their own
    # lm_head (and HF keeps it when loading them), so the model has vocab x d_model more.
    tied = hf_count(transformers.T5ForConditionalGeneration, transformers.T5Config,
                    T5_V1_1_SMALL)
    assert total(row("x", T5_V1_1_SMALL)) == pytest.approx(tied + 32128 * 512, abs=5e3)


def test_default_table_rows():
    rows = build_table()
    assert [r["family"] for r in rows] == ["bert", "gpt2", "t5", "t5", "llama"]
    smollm2 = rows[-1]
    assert smollm2["tying"] == "tied" and smollm2["activation"] == "gated silu"
    assert smollm2["total"] == "134.52M"  # transformers: 134,515,008 parameters
    assert set(TRAITS) == {family for family, _ in FAMILIES.values()}


def test_table_of_a_user_folder(tiny_dir):
    (r,) = build_table([str(tiny_dir["llama-untied"])])
    assert r["tying"] == "untied" and r["eps"] == 1e-3


def test_fill_mask_equals_the_hf_pipeline(save):
    folder = save("bert", vocab_size=30522)
    tokenizer_dir = model_path("all-minilm-l6-v2")
    transformers.AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    text = "The capital of France is [MASK]."
    ours = fill_mask(FillMaskConfig(model=str(folder), text=text, top=5))["masks"][0]
    pipe = transformers.pipeline("fill-mask", model=str(folder), top_k=5, device="cpu")
    theirs = pipe(text)
    assert [c["id"] for c in ours] == [c["token"] for c in theirs]
    assert [c["score"] for c in ours] == pytest.approx([c["score"] for c in theirs], abs=1e-5)
