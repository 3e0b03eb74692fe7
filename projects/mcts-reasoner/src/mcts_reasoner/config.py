"""Settings of mcts-reasoner; each field's help is the reference and becomes a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_shared import EMBEDDED_LLM, UserError, param

from .checker import TASKS

STRATEGIES = ("direct", "cot", "self-consistency", "best-of-n", "beam", "mcts", "solver")
IMPLEMENTED = ("direct", "cot", "self-consistency", "best-of-n", "solver")


@dataclass
class SolveConfig:
    # task and strategy are checked in __post_init__, not by argparse choices, so that an unknown
    # one is a one-line error like every other bad input
    task: str = param("arithmetic", help="task of every problem line: " + ", ".join(TASKS))
    problems: Path | None = param(None, help="JSONL of problems: the problem object plus 'id'")
    strategy: str = param("cot", help="how to solve: " + ", ".join(STRATEGIES)
                          + " (beam and mcts are refused: not implemented)")
    budget: int = param(4, help="samples allowed: the tokens of this many full samples")
    verifier: str = param("oracle", help="best-of-n verifier (only the checker as oracle here)",
                          choices=("oracle", "orm", "prm"))
    max_new_tokens: int = param(128, help="tokens per sample at most")
    temperature: float = param(0.7, help="sampling temperature for self-consistency/best-of-n")
    seed: int = param(0, help="sampling seed")
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    # NOTE: decode steps are tiny matmuls; llm_shared.threads explains why one thread is the
    # default on a small shared CPU (0 leaves torch's own count).
    threads: int = param(1, help="torch threads (0: torch's default)")
    output: Path | None = param(None, help="JSONL of results, one line per problem")
    overwrite: bool = param(False, help="replace an existing --output")

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UserError(f"unknown task '{self.task}'; use one of " + ", ".join(TASKS))
        if self.strategy not in STRATEGIES:
            raise UserError(f"unknown strategy '{self.strategy}'; use one of "
                            + ", ".join(STRATEGIES))
        if self.budget < 1:
            raise UserError(f"--budget must be >= 1 (got {self.budget}); pass a number of samples")
        if self.max_new_tokens < 1:
            raise UserError(f"--max-new-tokens must be >= 1 (got {self.max_new_tokens})")
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0 (got {self.temperature})")
        if self.threads < 0:
            raise UserError(f"--threads must be >= 0 (got {self.threads})")
        if self.verifier != "oracle":
            raise UserError(f"--verifier {self.verifier} is not implemented in this version; "
                            "use --verifier oracle")


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    problems: int = param(4, help="arithmetic problems for CoT vs self-consistency")
    budget: int = param(4, help="self-consistency samples per problem")
    # NOTE: greedy CoT answers on the demo problems took 31 tokens on average (187 over 6)
    max_new_tokens: int = param(64, help="tokens per sample at most")
    temperature: float = param(0.7, help="self-consistency sampling temperature")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    threads: int = param(1, help="torch threads (0: torch's default)")

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise UserError(f"--max-new-tokens must be > 0 (got {self.max_new_tokens})")
        if self.problems <= 0 or self.budget <= 0:
            raise UserError("--problems and --budget must be > 0")
