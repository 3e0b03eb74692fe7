"""Stream a corpus through a causal LM and store one hook point's activations in shards.

Documents (the built-in corpus, kinds interleaved round-robin, or user files) are tokenized, cut
into windows of `context` tokens (BOS + context-1 document tokens, at most `max_windows_per_doc`
per document), run in batches with the forward pass stopped right after the hook, and appended to
an in-memory shard. A shard is written (atomically) only at a document boundary once it holds
`shard_tokens` rows, and then the manifest records how many documents are done: an interrupted
capture resumes with `--resume` from the first unfinished document and produces the same files.
An existing store in `--out` is replaced only with `--overwrite`.
Leaves out packing several documents in one window and multi-hook capture.
Run: `uv run sae-probe capture --hook resid_post.3 --max-tokens 50000 --out runs/acts`.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from llm_shared import (
    Document,
    UserError,
    atomic_write,
    iter_corpus,
    load_causal_lm,
    model_path,
    progress_bar,
    write_json,
)

from .config import CaptureConfig
from .hooks import capture_hook, decoder_layers, parse_hook, run_until_hook
from .store import FORMAT, MANIFEST, shard_names

_TEXT_SUFFIXES = {".py", ".txt", ".md", ".rst", ".json", ".toml", ".yaml", ".yml", ".html",
                  ".c", ".h", ".js", ".ts", ".rs", ".go", ".java", ".sh", ".cfg", ".ini", ".csv"}


def interleave(kinds: Iterable[str]) -> Iterator[Document]:
    """Round-robin over corpus kinds: topics[0], docstrings[0], sources[0], topics[1], ..."""
    streams = [iter_corpus([k]) for k in kinds]
    for group in itertools.zip_longest(*streams):
        yield from (doc for doc in group if doc is not None)


def iter_files(paths: list[Path]) -> Iterator[Document]:
    """User files (folders are walked, sorted) as documents of kind 'code' (.py) or 'text'."""
    for path in paths:
        if not path.exists():
            raise UserError(f"input {path} does not exist; pass existing files or folders")
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _TEXT_SUFFIXES) \
            if path.is_dir() else [path]
        for file in files:
            text = file.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                kind = "sources" if file.suffix == ".py" else "text"
                yield Document(id=str(file), title=file.name, text=text, kind=kind)


def documents(config: CaptureConfig) -> Iterator[Document]:
    return iter_files(config.files) if config.files else interleave(config.kinds)


def check_hook_before_loading(model_name: str, hook: str) -> None:
    """Fail on a bad hook name from the model's config.json alone, before loading weights."""
    try:
        config = json.loads((model_path(model_name) / "config.json").read_text())
    except (OSError, ValueError, UserError):
        return  # an HF id not yet local: the check runs again once the model is loaded
    n_layers = config.get("num_hidden_layers") or config.get("n_layer")
    if n_layers:
        parse_hook(hook, int(n_layers))


def bos_id(tokenizer) -> int:
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise UserError("the tokenizer has neither a BOS nor an EOS token to start windows with")


def doc_windows(ids: list[int], bos: int, context: int, max_windows: int) -> list[list[int]]:
    """[5, 6, 7, 8, 9], bos=0, context=3 -> [[0, 5, 6], [0, 7, 8], [0, 9]] (max_windows caps it)."""
    step = context - 1
    return [[bos, *ids[i:i + step]] for i in range(0, len(ids), step)][:max_windows]


@torch.no_grad()
def forward_acts(model, hook: str, windows: list[list[int]], pad_id: int) -> list[np.ndarray]:
    """Activations (len(w), d) of each window at `hook`, batched with right padding."""
    device = next(model.parameters()).device
    T = max(len(w) for w in windows)
    ids = torch.full((len(windows), T), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(windows), T), dtype=torch.long)  # (B, T)
    for row, w in enumerate(windows):
        ids[row, :len(w)] = torch.tensor(w)
        mask[row, :len(w)] = 1
    with capture_hook(model, hook, stop=True) as store:
        run_until_hook(model, input_ids=ids.to(device), attention_mask=mask.to(device))
    acts = store[0].float().cpu().numpy()  # (B, T, d)
    return [acts[row, :len(w)] for row, w in enumerate(windows)]


class _ShardWriter:
    """Buffers rows of the current shard and writes shard files + manifest atomically."""

    def __init__(self, out: Path, manifest: dict, dtype: str):
        self.out, self.manifest, self.dtype = out, manifest, dtype
        self.acts: list[np.ndarray] = []
        self.tokens: list[np.ndarray] = []
        self.windows: list[tuple[int, int, int]] = []
        self.rows = 0

    def add(self, acts: np.ndarray, tokens: list[int], doc: int) -> None:
        self.windows.append((self.rows, len(tokens), doc))
        self.acts.append(acts.astype(self.dtype))
        self.tokens.append(np.asarray(tokens, dtype=np.int32))
        self.rows += len(tokens)

    def flush(self, docs_done: int, new_docs: list[dict]) -> None:
        index = len(self.manifest["shards"])
        names = shard_names(index)
        if self.rows:
            arrays = {"acts": np.concatenate(self.acts), "tokens": np.concatenate(self.tokens),
                      "windows": np.asarray(self.windows, dtype=np.int64)}
            for kind, array in arrays.items():
                with atomic_write(self.out / names[kind], "wb") as handle:
                    np.save(handle, array)
            self.manifest["shards"].append({**names, "n_tokens": self.rows})
        # Appended before the manifest commit; a resume trims lines past `docs_used`.
        with open(self.out / "docs.jsonl", "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(d) + "\n" for d in new_docs)
        self.manifest["docs_done"] = docs_done
        self.manifest["n_tokens"] = sum(s["n_tokens"] for s in self.manifest["shards"])
        write_json(self.out / MANIFEST, self.manifest)  # the commit point of this shard
        self.acts, self.tokens, self.windows, self.rows = [], [], [], 0


def _start(config: CaptureConfig, model_name: str, hook: str, d_model: int) -> dict:
    """A fresh manifest, or the existing one when resuming (checked to be the same capture)."""
    path = config.out / MANIFEST
    identity = {"model": model_name, "hook": hook, "context": config.context,
                "dtype": config.dtype, "kinds": list(config.kinds),
                "files": [str(f) for f in config.files],
                "max_windows_per_doc": config.max_windows_per_doc}
    if config.resume and path.is_file():
        manifest = json.loads(path.read_text())
        changed = [k for k, v in identity.items() if manifest.get(k) != v]
        if changed:
            raise UserError(f"--resume: {config.out} was captured with other settings {changed}; "
                            "use the same flags or a new --out")
        # Trim docs.jsonl to the committed documents (a crash may leave extra lines).
        docs_file = config.out / "docs.jsonl"
        lines = docs_file.read_text(encoding="utf-8").splitlines()[:manifest["docs_used"]] \
            if docs_file.is_file() else []
        docs_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return manifest
    if config.out.exists() and not config.out.is_dir():
        raise UserError(f"--out {config.out} is a file, not a folder; pick a new --out")
    if config.out.exists() and any(config.out.iterdir()):
        if not (config.out / MANIFEST).is_file():
            raise UserError(f"{config.out} exists and is not an activation store; pick a new --out")
        if not config.overwrite:
            raise UserError(f"{config.out} already holds an activation store; pass --resume to "
                            "continue it, --overwrite to replace it, or pick a new --out")
        shutil.rmtree(config.out)
    config.out.mkdir(parents=True, exist_ok=True)
    return {"format": FORMAT, **identity, "site": hook.split(".")[0],
            "layer": int(hook.split(".")[1]), "d_model": d_model, "shards": [],
            "docs_done": 0, "docs_used": 0, "n_tokens": 0, "complete": False}


def capture(config: CaptureConfig, model=None, tokenizer=None) -> dict:
    """Run the capture described by `config`; returns the final manifest."""
    if model is None:
        check_hook_before_loading(config.model, config.hook)
        model, tokenizer = load_causal_lm(config.model, device=config.device)
    model.eval()
    parse_hook(config.hook, len(decoder_layers(model)))
    d_model = int(model.config.hidden_size)
    manifest = _start(config, config.model, config.hook, d_model)
    if manifest.get("complete"):
        return manifest
    writer = _ShardWriter(config.out, manifest, config.dtype)
    bos = bos_id(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else bos
    total = manifest["n_tokens"]
    docs_done, new_docs = manifest["docs_done"], []
    with progress_bar() as bar:
        task = bar.add_task(f"capture {config.hook}", total=config.max_tokens, completed=total)
        for doc in itertools.islice(documents(config), docs_done, None):
            if config.max_tokens - total < 2:  # no room for a window beyond its BOS
                break
            # Only the first windows are used: do not tokenize the rest of a 100 kB source file.
            text = doc.text[:config.context * config.max_windows_per_doc * 16]
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            windows = doc_windows(ids, bos, config.context, config.max_windows_per_doc)
            windows = [w for w in windows if len(w) > 1]
            kept: list[list[int]] = []
            for w in windows:  # cut the last window: the store holds at most max_tokens rows
                room = config.max_tokens - total - sum(map(len, kept))
                if room < 2:
                    break
                kept.append(w[:room])
            doc_index = manifest["docs_used"] + len(new_docs)
            for i in range(0, len(kept), config.batch_size):
                batch = kept[i:i + config.batch_size]
                outputs = forward_acts(model, config.hook, batch, pad)
                for acts, w in zip(outputs, batch, strict=True):
                    writer.add(acts, w, doc_index)
            if kept:
                new_docs.append({"id": doc.id, "kind": doc.kind})
                total += sum(map(len, kept))
                bar.update(task, completed=total)
            docs_done += 1
            if writer.rows >= config.shard_tokens:
                manifest["docs_used"] += len(new_docs)
                writer.flush(docs_done, new_docs)
                new_docs = []
    manifest["docs_used"] += len(new_docs)
    manifest["complete"] = True
    writer.flush(docs_done, new_docs)
    if manifest["n_tokens"] == 0:
        raise UserError("no tokens were captured; check --files/--kinds (empty input?)")
    return manifest
