"""``slurm``: one SLURM job per (k, seed) point, submitted with submitit as one array job.

A point's steps run in order inside its job (train, then generate, judge, ... of that point), so no
job waits on another; the report is written by the submitting process once every job has ended.
A job that times out or is preempted is requeued by submitit and resumes its training from the
last checkpoint. Logs: ``RUN_DIR/jobs/slurm/<job id>_<task>_log.{out,err}``.
"""

from __future__ import annotations

from pydantic import Field

from ..errors import MissingExtraError, SafemixError
from ..plugins import Options
from . import Executor, JobOutcome, PointJob, one_line, register


class SlurmOptions(Options):
    """One job per (k, seed) point (``executor: {kind: slurm, slurm: {...}}``)."""
    partition: str | None = Field(None, description="SLURM partition (default: the cluster's)")
    gpus_per_node: int = Field(0, ge=0, description="GPUs per job")
    cpus_per_task: int = Field(4, gt=0, description="CPUs per job")
    mem_gb: int | None = Field(None, gt=0, description="memory per job in GB (default: the partition's)")
    timeout_min: int = Field(24 * 60, gt=0, description="minutes per job; a job that hits it is requeued and resumes")
    account: str | None = Field(None, description="SLURM account to charge")
    max_parallel: int = Field(64, gt=0, description="array jobs running at once")
    sbatch: dict[str, str | int] = Field({}, description="any other sbatch option, e.g. {qos: high, constraint: a100}")


def _submitit():
    try:
        import submitit
    except ImportError:
        raise MissingExtraError("submitit", "slurm") from None
    return submitit


class _PointTask:
    """The job's callable (the pipeline's target, pickled by reference). Checkpointable: on timeout or preemption
    submitit requeues the same call, which resumes from the step markers and the training checkpoint."""

    def __init__(self, target):
        self.target = target

    def __call__(self, job: PointJob) -> str:
        return self.target(job)

    def checkpoint(self, job: PointJob):
        return _submitit().helpers.DelayedSubmission(self, job)


def _slurm_minutes(text: str) -> int | None:
    """sinfo's time limit (D-HH:MM:SS, HH:MM:SS, MM:SS, MM or infinite) in whole minutes; None: no limit."""
    if not text or not text[0].isdigit():
        return None
    days, _, rest = text.rpartition("-")
    nums = [int(x) for x in rest.split(":")]
    h, m, sec = {1: (0, nums[0], 0), 2: (0, *nums), 3: tuple(nums)}[len(nums)]
    return (int(days or 0) * 24 + h) * 60 + m + (sec > 0)


def _partitions() -> dict[str, int | None]:
    """{partition: time limit in minutes (None: none)} from sinfo; the default partition keeps sinfo's '*'
    under its plain name too."""
    import subprocess

    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %l"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SafemixError(f"executor slurm: sinfo failed ({one_line(exc)}); is slurmctld reachable?") from None
    parts: dict[str, int | None] = {}
    for line in out.splitlines():
        name, _, limit = line.strip().partition(" ")
        if name:
            parts[name] = parts[name.rstrip("*")] = _slurm_minutes(limit.strip())
    return parts


def _accounts() -> set[str]:
    import getpass
    import subprocess

    try:
        out = subprocess.run(["sacctmgr", "-nP", "show", "associations", f"user={getpass.getuser()}", "format=account"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SafemixError(f"executor slurm: sacctmgr failed ({one_line(exc)})") from None
    return {line.strip() for line in out.splitlines() if line.strip()}


@register("slurm", SlurmOptions)
class SlurmExecutor(Executor):
    """One SLURM job per (k, seed) point (submitit; one array job, requeued on timeout/preemption)."""
    name = "slurm"

    def check(self) -> None:
        import shutil

        _submitit()
        missing = [c for c in ("sbatch", "srun", "sacct") if shutil.which(c) is None]
        if missing:
            raise SafemixError(f"executor slurm: {', '.join(missing)} not found on this machine; submit from a "
                               "SLURM login node (or install SLURM's client commands)")
        o = self.o
        parts = _partitions()
        if o.partition and o.partition not in parts:
            raise SafemixError(f"executor.slurm.partition: no partition '{o.partition}' (sinfo lists: "
                               f"{', '.join(sorted(parts)) or 'none'})")
        limit = parts.get(o.partition) if o.partition else next((v for k, v in parts.items() if k.endswith("*")), None)
        if limit is not None and o.timeout_min > limit:
            raise SafemixError(f"executor.slurm.timeout_min: {o.timeout_min} min is above the partition's time limit "
                               f"({limit} min)")
        if o.account and o.account not in _accounts():
            raise SafemixError(f"executor.slurm.account: no account '{o.account}' for this user (sacctmgr)")

    def _executor(self, name: str):
        submitit = _submitit()
        ex = submitit.AutoExecutor(folder=self.folder, cluster="slurm")
        o = self.o
        params = {"name": name, "timeout_min": o.timeout_min, "cpus_per_task": o.cpus_per_task,
                  "slurm_array_parallelism": o.max_parallel, "slurm_additional_parameters": dict(o.sbatch)}
        if o.partition:
            params["slurm_partition"] = o.partition
        if o.gpus_per_node:
            params["slurm_gpus_per_node"] = o.gpus_per_node
        if o.mem_gb:
            params["slurm_mem"] = f"{o.mem_gb}G"
        if o.account:
            params["slurm_account"] = o.account
        ex.update_parameters(**params)
        return ex

    def run_points(self, jobs: list[PointJob], name: str, on_submit=None) -> list[JobOutcome]:
        submitit = _submitit()
        ex = self._executor(name)
        with ex.batch():
            handles = [ex.submit(_PointTask(self.target), j) for j in jobs]
        if on_submit:
            on_submit([JobOutcome(j.point, self.name, h.job_id, "SUBMITTED") for j, h in zip(jobs, handles)])
        outcomes = []
        for j, h in zip(jobs, handles):
            try:
                h.result()
                outcomes.append(JobOutcome(j.point, self.name, h.job_id, "COMPLETED", log=str(h.paths.stderr)))
            except submitit.core.utils.UncompletedJobError as exc:
                state = h.watcher.get_state(h.job_id, mode="force")
                outcomes.append(JobOutcome(j.point, self.name, h.job_id, state or "FAILED",
                                           f"job {h.job_id} ended {state or 'without a result'}: {one_line(exc)}",
                                           log=str(h.paths.stderr)))
            except Exception as exc:  # the job raised: its traceback ends with the reason
                outcomes.append(JobOutcome(j.point, self.name, h.job_id, "FAILED", one_line(exc), log=str(h.paths.stderr)))
        return outcomes
