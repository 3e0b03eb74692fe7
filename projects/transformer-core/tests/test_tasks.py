"""Task generators, the held-out split and the input format, on worked examples."""

from __future__ import annotations

import pytest
from llm_shared import UserError
from transformer_core.tasks import BOS, EOS, PAD, Task, encode, make_batch


def test_solutions_worked_examples():
    source = list("3914")
    assert Task("copy", 10).solve(source) == list("3914")
    assert Task("reverse", 10).solve(source) == list("4193")
    assert Task("sort", 10).solve(source) == list("1349")
    add = Task("add", 5, reverse_digits=True)
    src = add.parse("95 + 17", 20)
    assert src == list("59+71")  # least significant digit first
    assert add.solve(src) == list("211")  # 112 reversed
    assert add.render(add.solve(src)) == "112"
    plain = Task("add", 5, reverse_digits=False)
    assert plain.render(plain.solve(plain.parse("95 + 17", 20))) == "112"


def test_held_out_inputs_never_reach_training_and_batches_are_seeded():
    task = Task("reverse", 6)
    train = task.examples(1, 300, held_out=False)
    held = task.examples(2, 100, held_out=True)
    assert not {tuple(s) for s, _ in train} & {tuple(s) for s, _ in held}
    assert all(Task.held_out(s) for s, _ in held)
    first = task.batch(0, 5, 16)
    assert all((a == b).all() for a, b in zip(first, task.batch(0, 5, 16), strict=True))
    assert not (task.batch(0, 6, 16)[0].shape == first[0].shape
                and (task.batch(0, 6, 16)[0] == first[0]).all())


def test_batch_layout():
    src, tgt_in, tgt_out = make_batch([(list("12"), list("21")), (list("5"), list("5"))])
    one, two, five = encode(["1", "2", "5"])
    assert src.tolist() == [[one, two], [five, PAD]]
    assert tgt_in.tolist() == [[BOS, two, one], [BOS, five, PAD]]
    assert tgt_out.tolist() == [[two, one, EOS], [five, EOS, PAD]]


@pytest.mark.parametrize("task, line, fragment", [
    ("reverse", "3 x 4", "outside the digits"),
    ("reverse", "12 3", "outside the digits"),
    ("reverse", "1 2 3 4 5 6 7 8 9", "maximum of 7"),
    ("reverse", "123 + 4", "outside the digits"),
    ("add", "3 9 1", "not an addition"),
])
def test_bad_inputs_are_user_errors(task, line, fragment):
    with pytest.raises(UserError, match=fragment):
        Task(task, 5).parse(line, 8)
