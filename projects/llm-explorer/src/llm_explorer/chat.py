"""The chat REPL: history, the model's chat template, streaming, and slash commands.

    /reset            forget the conversation        /system TEXT   set the system message
    /set KEY VALUE    change a sampler setting       /inspect [TEXT] next-token table for the
    /save FILE.json   write the conversation                          reply to TEXT (or the last)
    /show             print the sampler chain        /quit          leave (so does end of input)

Works piped (non-TTY): lines are read from stdin, so a session can be scripted. Ctrl-C while an
answer streams stops that answer and keeps what was said (the partial reply stays in the
history, marked interrupted); Ctrl-C at the prompt clears the line. Leaves out multi-line input.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from typing import IO, Any

from llm_shared import UserError, atomic_write

from .config import ChatConfig, SamplerConfig
from .engine import Engine
from .inspector import inspect_next, render_table
from .samplers import SamplerChain

HELP = __doc__.split("\n\n")[1]
_SAMPLER_FIELDS = {f.name: f.type for f in dataclasses.fields(SamplerConfig)}


class ChatSession:
    def __init__(self, engine: Engine, config: ChatConfig, out: IO[str] = sys.stdout) -> None:
        self.engine, self.config, self.out = engine, config, out
        self.system = config.system
        self.history: list[dict[str, str]] = []
        self._interrupted = False

    def sampler(self) -> SamplerConfig:
        return SamplerConfig(**{k: getattr(self.config, k) for k in _SAMPLER_FIELDS})

    def messages(self) -> list[dict[str, str]]:
        return ([{"role": "system", "content": self.system}] if self.system else []) + self.history

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> bool:
        """One input line; returns False when the session should end."""
        line = line.rstrip("\n")
        if not line.strip():
            return True
        if line.startswith("/"):
            return self.command(line)
        self.answer(line)
        return True

    def command(self, line: str) -> bool:
        name, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        if name in ("quit", "exit"):
            return False
        if name == "reset":
            self.history.clear()
            self.say("[history cleared]")
        elif name == "system":
            self.system = rest
            self.history.clear()
            self.say(f"[system message set; history cleared] {rest}")
        elif name == "set":
            self.set(rest)
        elif name == "show":
            self.say(f"[chain] {SamplerChain(self.sampler())}")
        elif name == "inspect":
            self.inspect(rest)
        elif name == "save":
            self.save(rest)
        else:
            self.say(HELP)
        return True

    def set(self, rest: str) -> None:
        key, _, value = rest.partition(" ")
        key = key.replace("-", "_")
        if key not in _SAMPLER_FIELDS or not value:
            self.say(f"[usage: /set KEY VALUE with KEY one of {', '.join(_SAMPLER_FIELDS)}]")
            return
        kind = {"int": int, "float": float}.get(str(_SAMPLER_FIELDS[key]), str)
        try:
            new = dataclasses.replace(self.config, **{key: kind(value)})
        except (ValueError, UserError) as exc:
            self.say(f"[not changed: {exc}]")
            return
        self.config = new
        self.say(f"[{key} = {getattr(new, key)}] chain: {SamplerChain(self.sampler())}")

    def inspect(self, text: str) -> None:
        if not text:
            users = [m["content"] for m in self.history if m["role"] == "user"]
            if not users:
                self.say("[nothing to inspect yet: /inspect TEXT or say something first]")
                return
            text = users[-1]
            history = self.history[:-2]
        else:
            history = self.history
        chain = SamplerChain(self.sampler())
        ids = self.engine.encode(text, chat=True, system=self.system, history=history)
        self.say(render_table(inspect_next(self.engine, ids, chain), chain, self.engine.tokenizer))

    def save(self, path: str) -> None:
        if not path.endswith(".json"):
            self.say("[usage: /save FILE.json]")
            return
        data = {"model": self.config.model, "system": self.system, "messages": self.history,
                "sampler": dataclasses.asdict(self.sampler())}
        with atomic_write(path) as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
        self.say(f"[saved {len(self.history)} messages to {path}]")

    def answer(self, text: str) -> None:
        ids = self.engine.encode(text, chat=True, system=self.system, history=self.history)
        self._interrupted = False
        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._on_interrupt)
        except ValueError:  # not the main thread (e.g. under some test runners): no handler
            previous = None
        try:
            result = self.engine.generate(ids, SamplerChain(self.sampler()),
                                          max_tokens=self.config.max_tokens,
                                          on_text=lambda piece: print(piece, end="", file=self.out,
                                                                      flush=True),
                                          should_stop=lambda: self._interrupted)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        self.say(" [interrupted]" if result.finish_reason == "interrupted" else "")
        self.history += [{"role": "user", "content": text},
                         {"role": "assistant", "content": result.text}]

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        self._interrupted = True


def run_chat(engine: Engine, config: ChatConfig, stdin: IO[str] = sys.stdin,
             out: IO[str] = sys.stdout) -> ChatSession:
    session = ChatSession(engine, config, out)
    interactive = stdin.isatty()
    if interactive:
        session.say(f"chatting with {config.model}; /help for commands, Ctrl-D to leave")
    while True:
        try:
            line = input("> ") if interactive else stdin.readline()
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=out)
            continue
        if not interactive and line == "":
            break
        if not interactive:
            session.say(f"> {line.rstrip()}")
        if not session.handle(line):
            break
    return session
