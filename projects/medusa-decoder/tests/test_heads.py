"""Medusa heads: initialisation, file round trip and model check, training smoke and resume."""

import math

import pytest
import torch
from llm_shared import UserError
from medusa_decoder import MedusaHeads, TrainHeadsConfig, load_heads, save_heads, train_heads
from medusa_decoder.heads import model_fingerprint, read_meta


def test_untrained_head_is_the_base_lm_head(tiny_model):
    model, _ = tiny_model
    heads = MedusaHeads(model.config.hidden_size, 2)
    h = torch.randn(3, model.config.hidden_size)
    logits = heads.logits(h, model.lm_head)  # (3, 2, V)
    for k in range(2):
        torch.testing.assert_close(logits[:, k], model.lm_head(h))


def test_round_trip_and_other_model_refused(tiny_model, real_model, tiny_heads_path, tmp_path):
    model, _ = tiny_model
    heads = load_heads(tiny_heads_path, model)
    assert heads.num_heads == 3 and heads.draft_layers == 1
    assert len(heads.accuracies) == 3 and all(len(a) == 10 for a in heads.accuracies)
    save_heads(heads, tmp_path / "copy.safetensors", fingerprint=model_fingerprint(model))
    again = load_heads(tmp_path / "copy.safetensors", model)
    for a, b in zip(heads.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert heads.vocab is not None and torch.equal(heads.vocab, again.vocab)
    with pytest.raises(UserError, match="hidden size"):
        load_heads(tiny_heads_path, real_model[0])
    # Same shapes, other weights: only the hash can tell.
    other = type(model)(model.config).eval()
    with pytest.raises(UserError, match="another model"):
        load_heads(tiny_heads_path, other)
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(UserError):
        read_meta(tmp_path / "junk.safetensors")


def _train(tiny_model, out, steps, resume=False):
    model, tok = tiny_model
    config = TrainHeadsConfig(model="tiny-llama", output=str(out), num_prompts=4,
                              gen_tokens=12, steps=steps, batch_size=32, draft_layers=1,
                              checkpoint_every=2, resume=resume, device="cpu")
    summary = train_heads(config, model, tok)
    return summary, load_heads(out / "heads.safetensors", model)


def test_training_changes_every_block_and_resume_is_exact(tiny_model, tmp_path):
    full_summary, full = _train(tiny_model, tmp_path / "full", 4)
    assert math.isfinite(full_summary["final_loss"])
    fresh = MedusaHeads(full.hidden_size, full.num_heads, draft_layers=1)
    pairs = zip(full.state_dict().items(), fresh.state_dict().values(), strict=True)
    for (name, trained), init in pairs:
        assert not torch.equal(trained, init), name
    first, _ = _train(tiny_model, tmp_path / "split", 2)
    assert (first["steps"], first["steps_run"]) == (2, 2)
    summary, resumed = _train(tiny_model, tmp_path / "split", 4, resume=True)
    assert (summary["steps"], summary["steps_run"]) == (4, 2)  # only the missing steps ran
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_resume_from_a_foreign_or_mismatched_checkpoint_is_one_line(tiny_model, tmp_path):
    import pickle

    _train(tiny_model, tmp_path / "run", 2)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    state["heads"] = {"not": torch.zeros(1)}
    torch.save(state, ckpt)
    with pytest.raises(UserError, match="other head settings"):
        _train(tiny_model, tmp_path / "run", 4, resume=True)

    class Payload:  # a pickle that would run code under weights_only=False
        def __reduce__(self):
            return (print, ("ran code",))

    with open(ckpt, "wb") as handle:
        pickle.dump({"heads": Payload()}, handle, protocol=2)
    with pytest.raises(UserError, match="not a readable medusa-decoder checkpoint"):
        _train(tiny_model, tmp_path / "run", 4, resume=True)
