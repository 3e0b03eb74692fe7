"""Loss, schedule, accumulation, checkpointing and resume on the tiny model."""

import pytest
import torch
from qlora_tuner.config import TrainConfig
from qlora_tuner.data import collate, encode_conversation
from qlora_tuner.train import Trainer, causal_lm_loss, lr_lambda

CONVS = [
    [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}],
    [{"role": "user", "content": "Two words please"},
     {"role": "assistant", "content": "Two words"}],
    [{"role": "user", "content": "Count to three."}, {"role": "assistant", "content": "1 2 3"}],
    [{"role": "user", "content": "x"}, {"role": "assistant", "content": "A longer answer here."}],
]


def test_loss_matches_transformers(tiny):
    model, tok = tiny
    batch = collate([encode_conversation(tok, c) for c in CONVS], tok.pad_token_id)
    loss_sum, n = causal_lm_loss(model, batch)
    reference = model(**batch).loss  # transformers' shifted mean over labelled tokens
    assert n == int((batch["labels"][:, 1:] != -100).sum())
    assert torch.allclose(loss_sum / n, reference, atol=1e-5)


def test_schedule_worked_example():
    f = lr_lambda("linear", warmup=2, total=6)
    assert [f(s) for s in range(7)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    c = lr_lambda("cosine", warmup=0, total=4)
    assert [round(c(s), 4) for s in range(5)] == [1.0, 0.8536, 0.5, 0.1464, 0.0]


def test_accumulated_gradient_equals_big_batch(make_tiny):
    from llm_shared import load_tokenizer

    tok = load_tokenizer("tiny-llama")
    encs = [encode_conversation(tok, c) for c in CONVS]
    grads = []
    for parts in ([encs], [encs[:2], encs[2:]]):
        model = make_tiny()
        total = sum(int((collate(p, 2)["labels"][:, 1:] != -100).sum()) for p in parts)
        for p in parts:
            loss, _ = causal_lm_loss(model, collate(p, 2))
            (loss / total).backward()
        grads.append(model.model.layers[0].mlp.down_proj.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def _config(tmp_path, **kw):
    base = dict(data=None, output=tmp_path / "run", method="qlora", model="tiny-llama", rank=4,
                alpha=8, dropout=0.1, lr=1e-2, steps=6, batch_size=2, warmup_steps=2,
                eval_fraction=0.0, device="cpu", seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _trainer(tmp_path, tiny, **kw):
    model, tok = tiny
    data = [encode_conversation(tok, c) for c in CONVS * 2]
    return Trainer(_config(tmp_path, **kw), model, tok, data, data[:2])


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_smoke_every_trainable_parameter_changes(tmp_path, tiny, method):
    trainer = _trainer(tmp_path, tiny, method=method, steps=3, lr=1e-2, warmup_steps=0)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    result = trainer.run()
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in result.history)
    after = dict(trainer.model.named_parameters())
    assert all(not torch.equal(before[n], after[n]) for n in before)
    assert result.eval_loss_after < result.eval_loss_before


def test_resume_reproduces_an_uninterrupted_run(tmp_path, make_tiny):
    from llm_shared import load_tokenizer

    tok = load_tokenizer("tiny-llama")
    full = _trainer(tmp_path / "a", (make_tiny(), tok), save_every=2, steps=4)
    full.run()
    expected = {n: p.detach().clone() for n, p in full.model.named_parameters() if p.requires_grad}

    class Crash(Exception):
        pass

    def crash_after_step_3(_trainer, record):
        if record["step"] == 3:
            raise Crash  # the step-2 checkpoint is on disk; step 3 is lost

    interrupted = _trainer(tmp_path / "b", (make_tiny(), tok), save_every=2, steps=4)
    with pytest.raises(Crash):
        interrupted.run(on_step=crash_after_step_3)
    resumed = _trainer(tmp_path / "b", (make_tiny(), tok), save_every=2, steps=4, resume=True)
    ran = []
    result = resumed.run(on_step=lambda _trainer, record: ran.append(record["step"]))
    assert ran == [3, 4]  # only the steps after the step-2 checkpoint ran again
    assert [r["step"] for r in result.history] == list(range(1, 5))
    got = dict(resumed.model.named_parameters())
    assert all(torch.equal(expected[n], got[n]) for n in expected)
    assert [r["loss"] for r in result.history] == [r["loss"] for r in full.history]


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path, make_tiny):
    from llm_shared import load_tokenizer

    tok = load_tokenizer("tiny-llama")
    grads, recomputed = [], []
    for checkpointing in (False, True):
        trainer = _trainer(tmp_path, (make_tiny(), tok), grad_checkpointing=checkpointing,
                           dropout=0.0)
        trainer.model.train()
        layers = trainer.model.model.layers
        assert [layer.gradient_checkpointing for layer in layers] == [checkpointing] * 2
        # Count MLP calls inside the checkpointed region (the layer's own hooks stay outside it).
        # A pre-hook: recomputation stops early once the saved tensors are rebuilt, which can be
        # before a forward hook would fire.
        calls = []
        for layer in layers:
            layer.mlp.register_forward_pre_hook(lambda *_, calls=calls: calls.append(1))
        loss, n = causal_lm_loss(trainer.model, trainer._next_batch())
        (loss / n).backward()
        recomputed.append(len(calls))
        grads.append([p.grad.clone() for p in trainer.model.parameters() if p.requires_grad])
    assert recomputed == [2, 4]  # 2 layers, each run again by backward when checkpointing
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads, strict=True))


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.mkdir, (os.environ["PWNED_DIR"],))


def test_resume_refuses_a_checkpoint_that_carries_code(tmp_path, tiny, monkeypatch):
    from llm_shared import UserError

    monkeypatch.setenv("PWNED_DIR", str(tmp_path / "pwned"))
    folder = tmp_path / "run" / "checkpoints" / "step-000002"
    folder.mkdir(parents=True)
    torch.save({"trainable": {}, "optimizer": _RunsCode()}, folder / "state.pt")
    with pytest.raises(UserError, match="objects other than tensors"):
        _trainer(tmp_path, tiny, resume=True).run()
    assert not (tmp_path / "pwned").exists()  # the payload never ran


def test_resume_with_another_rank_is_a_user_error(tmp_path, make_tiny):
    from llm_shared import UserError, load_tokenizer

    tok = load_tokenizer("tiny-llama")
    _trainer(tmp_path, (make_tiny(), tok), save_every=1, steps=1).run()
    with pytest.raises(UserError, match="does not fit this run"):
        _trainer(tmp_path, (make_tiny(), tok), steps=2, rank=8, resume=True).run()
