import pytest
import torch
from mamba_moe.tasks import SEP, TaskSpec, batch, examples


def test_selective_copy_layout():
    spec = TaskSpec("selective-copy", seq_len=20, num_tokens=4, vocab=8)
    x, y = batch(spec, 50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 21) and y.shape == (50, 4)
    assert (x[:, -1] == SEP).all() and (x[:, :-1] != SEP).all()
    for row, target in zip(x.tolist(), y.tolist(), strict=False):
        assert [t for t in row[:-1] if t != 0] == target  # the symbols, in order
        assert all(2 <= t <= 9 for t in target)


def test_mqar_targets_are_the_queried_values():
    spec = TaskSpec("mqar", seq_len=12, num_tokens=3, vocab=8)
    x, y = batch(spec, 30, torch.Generator().manual_seed(1))
    assert x.shape == (30, 12 + 1 + 3)
    for row, target in zip(x.tolist(), y.tolist(), strict=False):
        table = dict(zip(row[0:12:2], row[1:12:2], strict=False))
        assert len(table) == 6 and row[12] == SEP
        assert [table[q] for q in row[13:]] == target


def test_examples_are_seeded():
    spec = TaskSpec()
    assert list(examples(spec, 3, seed=5)) == list(examples(spec, 3, seed=5))
    assert list(examples(spec, 3, seed=5)) != list(examples(spec, 3, seed=6))


@pytest.mark.parametrize("spec", [TaskSpec("mqar", 7, 2, 8), TaskSpec("mqar", 20, 2, 8),
                                  TaskSpec("selective-copy", 3, 4, 8)])
def test_impossible_specs_are_refused(spec):
    with pytest.raises(ValueError):
        spec.check()
