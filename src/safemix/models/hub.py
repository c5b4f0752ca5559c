"""Hugging Face Hub ids pinned to a commit: ``org/name[@REVISION]`` for models, ``hf:org/name[...]@REVISION`` for data.

A revision (a branch, tag or commit) is resolved to its commit sha: online by asking the Hub, offline
(``HF_HUB_OFFLINE=1`` or ``SAFEMIX_OFFLINE=1``, as compute nodes run) from the local Hub cache that
``safemix prefetch`` or any earlier download filled (``refs/REVISION`` and ``snapshots/SHA`` under
``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``). The sha goes into every step
key below the model or data set, so a new upstream commit re-runs them rather than reusing old results.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SafemixError

SHA = re.compile(r"^[0-9a-f]{40}$")
# what safemix reads of a model repository (safetensors weights only; never pickled .bin files)
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken", "*.py"]
TOKENIZER_FILES = ["config.json", "generation_config.json", "tokenizer*", "special_tokens_map.json", "*.model",
                   "*.jinja", "vocab*", "merges.txt", "added_tokens.json"]


def offline() -> bool:
    """Whether the Hub may not be asked (compute nodes without internet)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE",
                                                                                          "SAFEMIX_OFFLINE"))


def hub_cache() -> Path:
    """The Hub cache folder as huggingface_hub finds it, read now (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                                     "huggingface")
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class HubId:
    repo: str  # org/name
    revision: str | None  # what the user wrote after '@' (None: the default branch)
    kind: str = "model"  # model | dataset

    @property
    def folder(self) -> Path:
        return hub_cache() / f"{self.kind}s--{self.repo.replace('/', '--')}"

    def pinned(self, sha: str) -> str:
        return f"{self.repo}@{sha}"


def parse_model_id(spec: str) -> HubId | None:
    """``org/name`` or ``org/name@REV`` as a Hub id, else None (a built-in name, a path)."""
    repo, at, rev = spec.partition("@")
    if spec.startswith((".", "/", "~")) or repo.count("/") != 1 or not all(repo.split("/")) or (at and not rev):
        return None
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo):
        return None
    return HubId(repo, rev or None)


def hub_model(spec: str) -> HubId | None:
    """A model spec as a Hub id: None for a built-in name or a path that exists here (a local folder wins)."""
    from .builtin import BUILTINS

    if spec in BUILTINS or Path(spec).expanduser().exists():
        return None
    return parse_model_id(spec)


def cached_sha(hid: HubId) -> str | None:
    """The commit a revision names in the local cache, when its snapshot is there."""
    rev = hid.revision or "main"
    if SHA.match(rev):
        sha = rev
    else:
        ref = hid.folder / "refs" / rev
        try:
            sha = ref.read_text().strip()
        except OSError:
            return None
    return sha if (hid.folder / "snapshots" / sha).is_dir() else None


def resolve_revision(hid: HubId) -> str:
    """The commit sha a Hub id's revision names: from the cache when offline, else from the Hub."""
    label = f"{'hf:' if hid.kind == 'dataset' else ''}{hid.repo}" + (f"@{hid.revision}" if hid.revision else "")
    if hid.revision and SHA.match(hid.revision) and cached_sha(hid):  # a commit never moves: the cache answers
        return hid.revision
    if offline():
        sha = cached_sha(hid)
        if sha is None:
            raise SafemixError(f"{hid.kind} '{label}' is not in the local Hub cache ({hid.folder}) and the Hub is offline "
                               "here: run 'safemix prefetch CONFIG' where there is internet (same HF_HOME)")
        return sha
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:  # pragma: no cover - a dependency of transformers
        raise SafemixError("huggingface_hub is not installed") from None
    try:
        info = HfApi().repo_info(hid.repo, repo_type=hid.kind, revision=hid.revision)
    except RevisionNotFoundError:
        raise SafemixError(f"{hid.kind} '{label}': no revision '{hid.revision}' on the Hub") from None
    except RepositoryNotFoundError:
        raise SafemixError(f"{hid.kind} '{label}': no such repository on the Hub (or it is gated: set HF_TOKEN)") from None
    except Exception as exc:  # network errors come in many kinds: one line
        raise SafemixError(f"{hid.kind} '{label}': cannot ask the Hub for its commit ({str(exc).splitlines()[0][:160]}); "
                           "offline, set HF_HUB_OFFLINE=1 to use the local cache") from None
    return info.sha


def snapshot(hid: HubId, sha: str, patterns: list[str] | None = None) -> Path:
    """The local folder of a pinned commit's files (``patterns``: which), downloading what is missing unless
    offline; only the files safemix reads by default (never pickled weights)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover
        raise SafemixError("huggingface_hub is not installed") from None
    try:
        path = snapshot_download(hid.repo, repo_type=hid.kind, revision=sha, cache_dir=str(hub_cache()),
                                 allow_patterns=patterns or MODEL_FILES, local_files_only=offline())
    except Exception as exc:
        where = "in the local Hub cache" if offline() else "from the Hub"
        raise SafemixError(f"{hid.kind} '{hid.repo}@{sha[:12]}': cannot get its files {where} "
                           f"({str(exc).splitlines()[0][:160]})") from None
    return Path(path)


def hub_commit(spec: str) -> str | None:
    """The commit a model spec names when it is a Hub id (resolved now: from the cache when offline), else None
    (a built-in or a local folder, keyed by their content elsewhere)."""
    hid = hub_model(spec)
    return resolve_revision(hid) if hid else None


def at_commit(spec: str, sha: str | None) -> str:
    """``org/name@SHA`` for a Hub id with its resolved commit; the spec itself otherwise."""
    hid = parse_model_id(spec) if sha else None
    return f"{hid.repo}@{sha}" if hid else spec
