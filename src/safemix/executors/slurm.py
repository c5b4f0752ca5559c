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
