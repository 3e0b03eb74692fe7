"""bpe-tokenizer: byte-level BPE (train, encode/decode, Hugging Face tokenizer.json) and an
embedding explorer - chapter 1.3 (语言的基石：分词与嵌入).

Public API: `Tokenizer` (train / encode / decode / to_tiktoken), `train_bpe` (incremental),
`recount_train_bpe` (the reference), `PreTokenizer`, `load_tokenizer` / `save_tokenizer`
(tokenizer.json, 'smollm2' by default), `EmbeddingExplorer`, `sentence_similarity`,
`compare_tokenizers`, `run_demo`.
"""

from .baseline import recount_train_bpe
from .config import BenchConfig, DemoConfig, StatsConfig, TrainConfig
from .demo import run_demo
from .embeddings import EmbeddingExplorer, sentence_similarity
from .hf_format import from_hf_json, load_tokenizer, save_tokenizer, to_hf_json
from .inputs import count_pretokens, iter_texts
from .pretokenize import PATTERNS, PreTokenizer
from .stats import compare_tokenizers
from .tokenizer import EncodeError, Tokenizer
from .trainer import IncrementalTrainer, train_bpe

__all__ = [
    "PATTERNS", "BenchConfig", "DemoConfig", "EmbeddingExplorer", "EncodeError",
    "IncrementalTrainer", "PreTokenizer", "StatsConfig", "Tokenizer", "TrainConfig",
    "compare_tokenizers", "count_pretokens", "from_hf_json", "iter_texts", "load_tokenizer",
    "recount_train_bpe", "run_demo", "save_tokenizer", "sentence_similarity", "to_hf_json",
    "train_bpe",
]
