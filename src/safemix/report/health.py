"""Answer health: is the model degenerate before its rates are read?

Per answer (besides the share stopping at EOS, ``eos_rate``): stuck in a loop (a word n-gram repeated), or leaking
prompt-template markers (the Alpaca headers, chat-template tokens) into its answer.
"""

from __future__ import annotations

import re

LOOP_N, LOOP_REPEATS = 3, 3  # a word 3-gram seen 3+ times
TEMPLATE_MARKERS = re.compile(r"^\s*###\s*\w|<\|im_(start|end)\|>|<\|(user|assistant|system)\|>|<start_of_turn>|<end_of_turn>",
                              re.MULTILINE)
HEALTH_METRICS = {"loop_rate": f"answers in a loop (a word {LOOP_N}-gram repeated {LOOP_REPEATS}+ times)",
                  "template_leak_rate": "answers leaking template markers (### headers, chat-template tokens)"}


def looping(text: str, n: int = LOOP_N, repeats: int = LOOP_REPEATS) -> bool:
    words = re.findall(r"\w+", text.lower())
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= repeats:
            return True
    return False


def leaks_template(text: str) -> bool:
    return bool(TEMPLATE_MARKERS.search(text))


def health(rec: dict) -> dict[str, float]:
    """The health flags of one generation record (0/1 each)."""
    return {"loop_rate": float(looping(rec["output"])),
            "template_leak_rate": float(leaks_template(rec["output"]))}
