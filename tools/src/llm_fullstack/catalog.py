"""The syllabus as data: 7 parts, 28 chapters, one project each (names fixed by the curriculum).

`available()` says which projects exist in this checkout (a `projects/<name>/pyproject.toml`).
Kept as data rather than scraped from a document so that the CLI works in any clone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Chapter:
    part: int
    chapter: int
    part_zh: str
    title_zh: str
    title_en: str
    topic: str
    project: str

    @property
    def package(self) -> str:
        return self.project.replace("-", "_")

    @property
    def label(self) -> str:
        return f"{self.part}.{self.chapter}"


PARTS = {
    1: ("大语言模型基础", "LLM foundations"),
    2: ("Transformer 架构揭秘", "Inside the Transformer"),
    3: ("数据工程与定制化", "Data engineering and customisation"),
    4: ("大模型应用开发", "Building LLM applications"),
    5: ("工程实战工具栈", "The engineering tool stack"),
    6: ("生产部署与评估", "Production deployment and evaluation"),
    7: ("高级技术专题", "Advanced topics"),
}

_ROWS = [
    (1, 1, "初识大语言模型", "Meet the LLM", "capabilities, limits, sampling, use cases", "llm-explorer"),
    (1, 2, "与模型对话：提示工程基础", "Prompt engineering", "prompt engineering, structured output", "prompt-lab"),
    (1, 3, "语言的基石：分词与嵌入", "Tokens and embeddings", "BPE tokenizer, embeddings", "bpe-tokenizer"),
    (2, 1, "Transformer 核心揭秘", "The Transformer core", "attention, encoder-decoder from scratch", "transformer-core"),
    (2, 2, "模型家族谱系：从编码器到解码器", "Model families", "BERT / GPT / T5 / Llama families", "model-families"),
    (2, 3, "预训练的奥秘：从数据到智能", "Pretraining", "MLM and CLM pretraining", "pretrain-lab"),
    (3, 1, "数据工程基础", "Data engineering", "MinHash dedup, quality, toxicity, PII", "minhash-dedup"),
    (3, 2, "微调你的专属模型", "Fine-tuning your own model", "LoRA / QLoRA", "qlora-tuner"),
    (3, 3, "与人类对齐：偏好优化", "Preference alignment", "DPO / KTO / RLHF reward models", "preference-tuner"),
    (3, 4, "创建更优的嵌入模型", "Better embedding models", "embedding fine-tuning", "embedding-tuner"),
    (4, 1, "语义理解应用：文本分类与聚类", "Classification and clustering", "classification, clustering", "text-cluster"),
    (4, 2, "检索增强生成（RAG）原理", "Retrieval-augmented generation", "retrieval, vector store, RAG eval", "rag-engine"),
    (4, 3, "智能体（Agent）核心机制", "Agents", "LangGraph, multi-agent, MCP", "agent-graph"),
    (4, 4, "多模态大模型原理", "Multimodal models", "CLIP, LLaVA", "clip-llava"),
    (5, 1, "Hugging Face 生态全景", "The Hugging Face ecosystem", "transformers, datasets", "hf-pipeline"),
    (5, 2, "微调神器：LLaMA-Factory", "LLaMA-Factory", "zero-code fine-tuning", "tune-factory"),
    (5, 3, "强化学习神器：TRL 实战", "RL with TRL", "PPO / GRPO", "ppo-trainer"),
    (5, 4, "分布式训练：DeepSpeed", "Distributed training with DeepSpeed", "ZeRO stage 1/2/3", "zero-trainer"),
    (5, 5, "端到端 LLM 项目实战", "End-to-end capstone", "capstone: data → tune → eval → serve", "e2e-assistant"),
    (6, 1, "模型压缩与推理加速", "Compression and quantisation", "quantization GPTQ / AWQ", "llm-quantizer"),
    (6, 2, "高性能推理实战：vLLM", "High-throughput inference (vLLM)", "PagedAttention, continuous batching", "paged-kv-server"),
    (6, 3, "生产部署最佳实践", "Production deployment", "gateway, routing, limits, observability", "llm-gateway"),
    (6, 4, "模型评估体系", "Evaluation", "benchmarks, LLM-as-a-judge", "llm-eval"),
    (7, 1, "长上下文技术", "Long context", "RoPE scaling, FlashAttention", "long-context"),
    (7, 2, "新型架构探索", "New architectures", "Mamba (SSM), MoE", "mamba-moe"),
    (7, 3, "推理加速黑科技", "Faster decoding", "speculative decoding, Medusa", "medusa-decoder"),
    (7, 4, "推理模型专题", "Reasoning models", "CoT, self-consistency, MCTS", "mcts-reasoner"),
    (7, 5, "模型安全与可解释性", "Safety and interpretability", "jailbreak evaluation, SAE", "sae-probe"),
]

CHAPTERS: tuple[Chapter, ...] = tuple(
    Chapter(part, ch, PARTS[part][0], zh, en, topic, project)
    for part, ch, zh, en, topic, project in _ROWS
)
BY_PROJECT = {c.project: c for c in CHAPTERS}
BY_LABEL = {c.label: c for c in CHAPTERS}

# The curriculum's three learning paths, as chapter labels in the order a person takes them. The
# top README states them by part; where a part is named for one topic ("3 (alignment)"), the path
# takes that chapter only.
PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "app": ("Application developer: part 1 -> part 4 (RAG, agents) -> part 6 (deployment) -> "
            "part 5 (Hugging Face)",
            ("1.1", "1.2", "1.3", "4.1", "4.2", "4.3", "4.4", "6.1", "6.2", "6.3", "6.4", "5.1")),
    "model": ("Model engineer: 1 -> 2 -> 3 (data, tuning) -> 5 (tools) -> 3.3 (alignment)",
              ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "3.2", "3.4", "5.1", "5.2", "5.3",
               "5.4", "5.5", "3.3")),
    "research": ("Architect / researcher: 7 -> 3 (alignment) -> 4 (agents) -> 5 (DeepSpeed)",
                 ("7.1", "7.2", "7.3", "7.4", "7.5", "3.3", "4.3", "5.4")),
}


def path_chapters(path: str) -> list[Chapter]:
    """The chapters of a learning path, in its order (all 28 may not be available yet)."""
    return [BY_LABEL[label] for label in PATHS[path][1]]


def repo_root(start: Path | None = None) -> Path:
    """The workspace root: `LLM_FULLSTACK_ROOT` if set (the repo tests point it at a scratch
    workspace), else the nearest parent whose pyproject.toml declares the workspace."""
    if os.environ.get("LLM_FULLSTACK_ROOT"):
        return Path(os.environ["LLM_FULLSTACK_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.uv.workspace]" in candidate.read_text(encoding="utf-8"):
            return folder
    # Installed as a tool outside a checkout: fall back to the source tree this file lives in.
    return Path(__file__).resolve().parents[3]


def project_dir(name: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "projects" / name


def is_available(name: str, root: Path | None = None) -> bool:
    return (project_dir(name, root) / "pyproject.toml").is_file()


def available(root: Path | None = None) -> list[Chapter]:
    """Chapters whose project exists here, in syllabus order."""
    return [c for c in CHAPTERS if is_available(c.project, root)]
