"""Capability task specs: a harness task by name (``piqa``) or a local multiple-choice JSONL
(``NAME=PATH``, or the shipped ``safemix-mini-mc``).

A local file holds one item per line: ``{"question": str, "choices": [str, ...], "answer": int}``
(``answer`` may also be the text of the right choice). It is checked, normalised into a
content-addressed cache folder and described to the harness as a YAML task over that copy, scored
by log-likelihood like PIQA/OpenBookQA: ``acc`` and length-normalised ``acc_norm``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError
from ..fileio import atomic_write_text, cache_dir, sha256_file, sha256_text

PAPER_TASKS = ("piqa", "boolq", "openbookqa")
BUILTIN_MC = {"safemix-mini-mc": Path(__file__).parent / "data" / "mini_mc.jsonl"}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    path: Path | None = None  # None: a task the harness knows (it downloads the data)

    @property
    def local(self) -> bool:
        return self.path is not None


def parse_tasks(text: str | list[str]) -> list[TaskSpec]:
    """``"piqa,boolq,mine=items.jsonl"`` (or a list of the same) -> task specs."""
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p and p.strip()]
    if not parts:
        raise SafemixError("no capability tasks given (e.g. piqa,boolq,openbookqa or NAME=items.jsonl)")
    specs = []
    for part in parts:
        name, eq, path = part.partition("=")
        name = name.strip()
        if not NAME.match(name):
            raise SafemixError(f"capability task '{part}': a name is letters, digits, '-' and '_'")
        if eq:
            specs.append(TaskSpec(name, Path(path.strip()).expanduser()))
        elif name in BUILTIN_MC:
            specs.append(TaskSpec(name, BUILTIN_MC[name]))
        else:
            specs.append(TaskSpec(name))
    if len({s.name for s in specs}) != len(specs):
        raise SafemixError(f"capability tasks: a name is given twice in '{','.join(parts)}'")
    return specs


def read_mc(path: Path) -> list[dict]:
    """Read and check a multiple-choice JSONL; an error names the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SafemixError(f"{path}: cannot read multiple-choice items ({exc})") from None
    items = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise SafemixError(f"{path}: line {no}: not JSON ({exc})") from None
        items.append(_check_item(rec, f"{path}: line {no}"))
    if not items:
        raise SafemixError(f"{path}: no multiple-choice items")
    return items


def _check_item(rec, where: str) -> dict:
    if not isinstance(rec, dict):
        raise SafemixError(f"{where}: expected an object with question, choices, answer")
    q, choices, ans = rec.get("question"), rec.get("choices"), rec.get("answer")
    if not isinstance(q, str) or not q.strip():
        raise SafemixError(f"{where}: missing or empty 'question'")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
        raise SafemixError(f"{where}: 'choices' must be a list of at least two non-empty strings")
    if isinstance(ans, str) and ans in choices:
        ans = choices.index(ans)
    if isinstance(ans, bool) or not isinstance(ans, int) or not 0 <= ans < len(choices):
        raise SafemixError(f"{where}: 'answer' must be the index (0..{len(choices) - 1}) or the text of a choice")
    return {"question": q, "choices": choices, "answer": ans}


def materialise(specs: list[TaskSpec]) -> tuple[Path | None, dict[str, str]]:
    """Write harness task YAMLs for the local specs; returns (include folder, {name: data sha256})."""
    local = [s for s in specs if s.local]
    if not local:
        return None, {}
    digests, data = {}, {}
    for s in local:
        items = read_mc(s.path)
        digests[s.name] = sha256_file(s.path)
        data[s.name] = cache_dir("lmeval-tasks", digests[s.name][:16]) / "items.jsonl"
        if not data[s.name].is_file():
            atomic_write_text(data[s.name], "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items))
    include = cache_dir("lmeval-tasks", "yaml-" + _digest(local, digests))
    for s in local:
        atomic_write_text(include / f"{s.name}.yaml", TASK_YAML.format(name=s.name, data=json.dumps(str(data[s.name]))))
    return include, digests


def _digest(specs: list[TaskSpec], digests: dict[str, str]) -> str:
    return sha256_text("|".join(f"{s.name}:{digests[s.name]}" for s in specs))[:16]
