"""mcts-reasoner: verifiable reasoning tasks, one exact checker, strategies with their compute.

Chapter 7.4 (推理模型专题) of LLM Full-Stack Engineering. The checker (`check`) and the solver are
torch-free; `sample` and `run_strategy` need a causal LM from `llm_shared.load_causal_lm`.
"""

from .checker import VERDICTS, Verdict, check, extract_span, parse_number
from .solver import solve_countdown
from .tasks import generate, prompt_messages

__all__ = ["VERDICTS", "Verdict", "check", "extract_span", "generate", "parse_number",
           "prompt_messages", "solve_countdown"]
