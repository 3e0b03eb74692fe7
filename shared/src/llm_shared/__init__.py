"""llm_shared: the small common package of the llm-fullstack workspace.

What every chapter needs and nothing chapter-specific: the embedded models (`load_causal_lm`,
`load_sentence_encoder`), the built-in corpus (`iter_corpus`), device and seeding, the `UserError`
-> one-line CLI error, progress bars, config dataclass -> argparse, atomic writes and the
benchmark helper that times two callables alternately.
"""

from .bench import Comparison, compare, markdown_table, peak_rss_mb, time_call
from .config import add_config_args, build_config, load_config_file, param
from .corpus import KINDS, Document, corpus_text, iter_corpus, stdlib_files
from .device import pick_device, pick_dtype, seed_everything
from .errors import EXIT_USER_ERROR, UserError, cli_entry
from .io import atomic_dir, atomic_write, emit_json, write_json
from .models import (
    EMBEDDED_ENCODER,
    EMBEDDED_LLM,
    TINY_ENCODER,
    TINY_LLM,
    SentenceEncoder,
    cache_dir,
    load_causal_lm,
    load_sentence_encoder,
    load_tokenizer,
    model_path,
    smollm2_gguf_path,
)
from .progress import progress_bar, track

__all__ = [
    "EMBEDDED_ENCODER", "EMBEDDED_LLM", "EXIT_USER_ERROR", "KINDS", "TINY_ENCODER", "TINY_LLM",
    "Comparison", "Document", "SentenceEncoder", "UserError", "add_config_args", "atomic_dir",
    "atomic_write", "build_config", "cache_dir", "cli_entry", "compare", "corpus_text",
    "emit_json", "iter_corpus", "load_causal_lm", "load_config_file", "load_sentence_encoder",
    "load_tokenizer", "markdown_table", "model_path", "param", "peak_rss_mb", "pick_device",
    "pick_dtype", "progress_bar", "seed_everything", "smollm2_gguf_path", "stdlib_files",
    "time_call", "track", "write_json",
]
