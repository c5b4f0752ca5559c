"""Credentials never reach disk, a tracker or a message: one redaction applied to all of them.

A credential in a run config can only stand in a URI's ``user:password@`` part (tracking URIs, an
API judge's ``base_url``, a Ray address); keys and tokens are read from environment variables and
never written. :func:`redact` removes the user-info part of every URI in a text; it is applied to the
run folder's copy of the config, to the parameters and files sent to trackers, and to messages.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")
MASK = "***@"


def redact(text: str) -> str:
    """``text`` with every URI's ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub(MASK, text)


def redact_doc(doc):
    """A parsed document (dicts, lists, strings) with :func:`redact` applied to every string in it."""
    if isinstance(doc, str):
        return redact(doc)
    if isinstance(doc, dict):
        return {k: redact_doc(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact_doc(v) for v in doc]
    return doc
