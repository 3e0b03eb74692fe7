"""Settings of the pipeline; each field's help is the reference and becomes a `run` flag.

`PipelineConfig` holds every knob of every stage (flat, so that `--config preset.toml` and flags
map one to one). Checks live in `__post_init__` so that a bad value is a one-line `UserError`
whether it came from a flag, a TOML file or Python. Exercised by `minhash-dedup run --help`.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import UserError, param

STAGES = ("normalize", "exact", "near", "quality", "pii", "toxicity")
# With --verify every candidate pair is checked by exact Jaccard, so LSH false positives cost one
# set intersection each and the b, r choice can lean to recall. At t = 0.8, num_perm 128 this picks
# 12 x 10 instead of 9 x 13: on the planted benchmark ~20% more candidates, recall ~0.95 vs ~0.83.
VERIFY_FP_WEIGHT = 0.2


@dataclass
class PipelineConfig:
    # --- input -------------------------------------------------------------------------------
    text_field: str = param("text", help="JSONL/Parquet field holding the document text")
    id_field: str = param("id", help="JSONL/Parquet field holding the document id "
                          "(missing ids become FILE:LINE)")
    stages: list[str] = param(list(STAGES), help="stages to run, in pipeline order",
                              choices=STAGES)
    batch_size: int = param(1000, help="documents per batch (signatures, filters, workers)")
    # --- engine ------------------------------------------------------------------------------
    engine: str = param("local", help="local (one machine) or ray (Ray Data on a Ray cluster)",
                        choices=("local", "ray"))
    workers: int = param(1, help="processes for the local engine (1 = in process)")
    ray_address: str = param("", help="Ray cluster address for --engine ray ('' = start or "
                             "join a local one)")
    # --- near dedup (MinHash LSH) ------------------------------------------------------------
    threshold: float = param(0.8, help="Jaccard similarity above which documents are near "
                             "duplicates, in (0, 1)")
    num_perm: int = param(128, help="MinHash permutations (signature length)")
    bands: int = param(0, help="LSH bands b (0 = choose b, r by minimising weighted FP+FN "
                       "probability, as datasketch does); num_perm must be divisible by b")
    fp_weight: float | None = param(None, help="weight of the false-positive probability in the "
                                    "b, r choice (the false-negative weight is 1 - this); "
                                    "default 0.5 (datasketch's), 0.2 with --verify, which "
                                    "removes false positives so only recall is left to win")
    shingle: str = param("word", help="shingle unit", choices=("word", "char"))
    ngram: int = param(5, help="shingle size: words per word shingle or characters per char "
                       "shingle")
    seed: int = param(1, help="seed of the MinHash permutations (datasketch's default is 1)")
    verify: bool = param(False, help="check every LSH candidate pair by exact Jaccard of its "
                         "shingle sets before merging (removes false positives; keeps every "
                         "document's shingle set in memory, 4 bytes per shingle)")
    # --- quality filters (Gopher + C4 heuristics; datatrove's defaults) ---------------------
    min_words: int = param(50, help="Gopher: fewest words a document may have")
    max_words: int = param(100_000, help="Gopher: most words a document may have")
    min_mean_word_length: float = param(3.0, help="Gopher: shortest mean word length")
    max_mean_word_length: float = param(10.0, help="Gopher: longest mean word length")
    max_symbol_word_ratio: float = param(0.1, help="Gopher: most '#' and '...' per word")
    max_bullet_lines_ratio: float = param(0.9, help="Gopher: most lines starting with a bullet")
    max_ellipsis_lines_ratio: float = param(0.3, help="Gopher: most lines ending with '...'")
    min_alpha_words_ratio: float = param(0.8, help="Gopher: least fraction of words with a letter")
    min_stop_words: int = param(2, help="Gopher: fewest English stop words (the, be, to, of, "
                                "and, that, have, with)")
    max_dup_line_frac: float = param(0.3, help="Gopher: most duplicated lines (by count)")
    max_dup_para_frac: float = param(0.3, help="Gopher: most duplicated paragraphs (by count)")
    max_dup_line_char_frac: float = param(0.2, help="Gopher: most characters in duplicated lines")
    max_dup_para_char_frac: float = param(0.2, help="Gopher: most characters in duplicated "
                                          "paragraphs")
    max_top_ngram_frac: list[float] = param([0.2, 0.18, 0.16], help="Gopher: most characters "
                                            "covered by the most frequent 2-, 3-, 4-gram")
    max_dup_ngram_frac: list[float] = param([0.15, 0.14, 0.13, 0.12, 0.11, 0.10],
                                            help="Gopher: most characters in duplicated 5..10-"
                                            "grams")
    c4_min_sentences: int = param(5, help="C4: fewest lines ending in terminal punctuation "
                                  "(with >= 3 words each)")
    c4_drop_curly_bracket: bool = param(True, help="C4: drop documents containing '{' (C4 "
                                        "drops all such pages; it removes most code)")
    c4_drop_lorem_ipsum: bool = param(True, help="C4: drop documents containing 'lorem ipsum'")
    # --- PII ---------------------------------------------------------------------------------
    pii_kinds: list[str] = param(["email", "phone", "ip", "credit_card", "api_key"],
                                 help="PII kinds to redact",
                                 choices=("email", "phone", "ip", "credit_card", "api_key"))
    # --- toxicity ----------------------------------------------------------------------------
    toxicity_scorer: str = param("wordlist", help="wordlist (fast), judge (the embedded "
                                 "SmolLM2 asked yes/no), or a Hugging Face text-classification "
                                 "model id / local folder")
    toxicity_threshold: float = param(0.5, help="documents scoring at least this are removed")
    toxicity_wordlist: str = param("", help="file with one flagged word per line ('' = the "
                                   "built-in list)")
    toxicity_label: str = param("toxic", help="label of the classifier whose probability is "
                                "the score (HF classifier only)")
    judge_model: str = param("smollm2-135m-instruct", help="causal LM for --toxicity-scorer "
                             "judge")
    device: str = param("auto", help="device for model scorers: auto, cpu, cuda or mps")
    # --- report ------------------------------------------------------------------------------
    top_clusters: int = param(10, help="largest duplicate clusters shown in the report")
    plots: bool = param(True, help="write PNG histograms of the filter statistics")

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise UserError(f"--threshold must be in (0, 1) (got {self.threshold}); "
                            "pick e.g. 0.8")
        if self.num_perm < 2:
            raise UserError(f"--num-perm must be >= 2 (got {self.num_perm})")
        if self.bands < 0:
            raise UserError(f"--bands must be >= 0 (got {self.bands}); 0 chooses automatically")
        if self.bands and self.num_perm % self.bands:
            raise UserError(f"--num-perm {self.num_perm} is not divisible by --bands "
                            f"{self.bands}; pick bands among the divisors of num_perm, or 0")
        if self.ngram < 1:
            raise UserError(f"--ngram must be >= 1 (got {self.ngram})")
        if self.batch_size < 1 or self.workers < 1:
            raise UserError("--batch-size and --workers must be >= 1")
        if self.fp_weight is not None and not 0.0 <= self.fp_weight <= 1.0:
            raise UserError(f"--fp-weight must be in [0, 1] (got {self.fp_weight})")
        if not 0.0 <= self.toxicity_threshold <= 1.0:
            raise UserError(f"--toxicity-threshold must be in [0, 1] "
                            f"(got {self.toxicity_threshold})")
        if len(self.max_top_ngram_frac) != 3 or len(self.max_dup_ngram_frac) != 6:
            raise UserError("--max-top-ngram-frac takes 3 values (2,3,4-grams) and "
                            "--max-dup-ngram-frac 6 values (5..10-grams)")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise UserError(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")

    @property
    def band_fp_weight(self) -> float:
        """The FP weight the b, r choice uses: the flag, else the default for this mode."""
        if self.fp_weight is not None:
            return self.fp_weight
        return VERIFY_FP_WEIGHT if self.verify else 0.5

    def on(self, stage: str) -> bool:
        return stage in self.stages
