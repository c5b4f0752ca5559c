"""The ``safemix`` command line: a thin layer over the Python API, one module per stage."""

from __future__ import annotations

import sys
import warnings

import typer

from ..errors import SafemixError
from ..models.cpu_memory import keep_freed_memory
from . import data as data_cli
from .eval import app as eval_app
from .generate import generate_cmd
from .judge import app as judge_app
from .label import label_cmd
from .run import audit_cmd, card_cmd, prefetch_cmd, report_cmd, run_cmd, status_cmd
from .track import track_cmd
from .train import train_cmd

app = typer.Typer(rich_markup_mode=None, 
    name="safemix",
    help="Safety-tuning studies of instruction-following LLMs (Safety-Tuned LLaMAs, ICLR 2024).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_cli.app, name="data")
app.command("train")(train_cmd)
app.command("generate")(generate_cmd)
app.add_typer(judge_app, name="judge")
app.add_typer(eval_app, name="eval")
app.command("run")(run_cmd)
app.command("prefetch")(prefetch_cmd)
app.command("audit")(audit_cmd)
app.command("card")(card_cmd)
app.command("track")(track_cmd)
app.command("status")(status_cmd)
app.command("report")(report_cmd)
app.command("label")(label_cmd)


def _stage_commands() -> None:
    """Each plug-in stage's own verb (safemix/stage.py: ``command``)."""
    from ..stage import STAGES

    for st in STAGES.plugins():
        if st.command is not None:
            app.command(st.name)(st.command)


_stage_commands()


METAVARS = {"path": "PATH", "str": "TEXT", "int": "N", "float": "NUMBER"}


def _plain_metavars(cmd) -> None:
    """Help reads like a normal CLI: CONFIG and --out PATH, not {config} and --out <path>."""
    for p in cmd.params:
        if p.metavar is None and not getattr(p, "is_flag", False):
            if getattr(p, "param_type_name", "") == "argument":
                p.metavar = name = p.name.upper()
                # typer 0.29 draws a required argument as {config} with a <path> tag; draw it as CONFIG
                p._usage_display_name = lambda name=name: name
                p.display_type_rich = lambda ctx=None: ""
            else:
                bare = p.bare_type() if hasattr(p, "bare_type") else ""
                p.metavar = METAVARS.get(str(bare).lower(), str(bare).upper() or "VALUE")
    for sub in getattr(cmd, "commands", {}).values():
        _plain_metavars(sub)


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input prints one line ``error: ...`` to stderr and returns exit code 2."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation chatter
    keep_freed_memory()  # large tensors reuse freed memory (models/cpu_memory.py)
    try:
        cli = typer.main.get_command(app)
        _plain_metavars(cli)
        cli.main(args=argv, prog_name="safemix")  # standalone mode: usage errors exit with code 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SafemixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # read-only folder, a file where a folder should be, disk full: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
