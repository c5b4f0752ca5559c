"""The record types every stage passes around."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction-tuning example (Alpaca fields plus provenance)."""

    instruction: str
    input: str
    output: str
    source: str
    id: str

    def alpaca(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    @property
    def text(self) -> str:
        """The user-side text (instruction and input), as compared by the leakage check."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction


@dataclass(frozen=True, slots=True)
class EvalPrompt:
    """One evaluation prompt. ``label`` is e.g. XSTest's safe/unsafe, ``type`` its category."""

    prompt: str
    suite: str
    id: str
    input: str = ""
    label: str | None = None
    type: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PreferencePair:
    """Two answers to one prompt, ``chosen`` preferred over ``rejected``. ``prompt`` is an instruction
    (with its ``input``), or for HH-RLHF the dialogue context up to the last assistant turn."""

    prompt: str
    chosen: str
    rejected: str
    id: str
    input: str = ""

    @property
    def instruction(self) -> str:
        """The prompt as one instruction: an HH context of a single human turn is that turn's text; a
        longer dialogue stays a transcript."""
        text = self.prompt.strip()
        if text.startswith("Human:") and text.count("Human:") == 1 and "Assistant:" not in text:
            return text[len("Human:"):].strip()
        return text

    @property
    def text(self) -> str:
        """The user-side text, as compared by the leakage check."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction


@dataclass(frozen=True, slots=True)
class LabelledCompletion:
    """A prompt, a model's answer and a human label (XSTest completions files)."""

    id: str
    prompt: str
    completion: str
    label: str
    type: str | None = None
