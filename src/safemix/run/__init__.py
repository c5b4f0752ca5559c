"""``safemix run``: the sweep as one resumable command, and its status."""

from .plan import Step, execute, parse_only, plan
from .runner import report, run, status

__all__ = ["Step", "parse_only", "plan", "execute", "report", "run", "status"]
