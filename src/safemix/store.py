"""Per-suite JSONL result files that double as the cache.

Each record carries a key = sha256(model fingerprint, adapter fingerprint, formatted input,
decoding parameters). A re-run reuses records whose key is requested again. After every batch the
file is rewritten atomically (temp file + rename), so it is never half-written and a kill loses at
most the batch in flight; when a suite completes, records are put in prompt order, so the final
file equals an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .fileio import atomic_write_text


def record_key(model_fp: str, adapter_fp: str | None, formatted: str, decoding: dict) -> str:
    blob = json.dumps([model_fp, adapter_fp, formatted, decoding], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class SuiteStore:
    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # cannot happen with atomic writes; tolerate hand-edited files
                if isinstance(rec, dict) and "key" in rec:
                    self.records[rec["key"]] = rec

    def has(self, key: str) -> bool:
        return key in self.records

    def add(self, recs: list[dict]) -> None:
        for r in recs:
            self.records[r["key"]] = r
        self._write(list(self.records.values()))

    def finalise(self, keys_in_order: list[str]) -> list[dict]:
        """Keep exactly the requested records, in prompt order."""
        final = [self.records[k] for k in keys_in_order if k in self.records]
        self._write(final)
        return final

    def _write(self, recs: list[dict]) -> None:
        atomic_write_text(self.path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
