"""The worked examples in the docstrings are tests too (the ones that need no model files)."""

import doctest

import pytest
from bpe_tokenizer import baseline, inputs, pretokenize, stats, tokenizer, trainer


@pytest.mark.parametrize("module", [baseline, inputs, pretokenize, stats, tokenizer, trainer],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
