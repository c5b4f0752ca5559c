"""Prompt formats shared by training and generation.

The same :class:`PromptFormat` renders the prompt at training time and at generation time, and its
:meth:`describe` is recorded in the adapter's manifest, so a mismatch between the format a model was
tuned with and the one it is evaluated with is caught (a known pitfall of several toolkits).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import SafemixError

# The Alpaca template, as used by the paper's code (alpaca-lora's templates/alpaca.json).
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
FORMATS = ("alpaca", "chat")


@dataclass(frozen=True)
class PromptFormat:
    name: str
    chat_template: str | None = None  # the tokenizer's template, for name == "chat"

    def render(self, instruction: str, input: str = "", tokenizer=None) -> str:
        """The prompt text up to where the model's answer begins."""
        if self.name == "alpaca":
            template = ALPACA_WITH_INPUT if input else ALPACA_NO_INPUT
            return template.format(instruction=instruction, input=input)
        content = f"{instruction}\n\n{input}" if input else instruction
        return tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                             add_generation_prompt=True, chat_template=self.chat_template)

    @property
    def adds_special_tokens(self) -> bool:
        """Chat templates already contain the model's special tokens; Alpaca text gets the BOS."""
        return self.name == "alpaca"

    def describe(self) -> dict:
        digest = hashlib.sha256((self.chat_template or ALPACA_WITH_INPUT + ALPACA_NO_INPUT).encode()).hexdigest()
        return {"name": self.name, "template_sha256": digest}


def get_format(name: str, tokenizer=None) -> PromptFormat:
    if name == "alpaca":
        return PromptFormat("alpaca")
    if name == "chat":
        template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
        if not template:
            raise SafemixError("prompt format 'chat' needs a tokenizer with a chat template; use 'alpaca'")
        return PromptFormat("chat", template)
    raise SafemixError(f"unknown prompt format '{name}' (known: {', '.join(FORMATS)})")
