"""``slurm``: one SLURM job per (k, seed) point, submitted with submitit as one array job.

A point's steps run in order inside its job (train, then generate, judge, ... of that point), so no
job waits on another; the report is written by the submitting process once every job has ended.
A job that times out or is preempted is requeued by submitit and resumes its training from the
last checkpoint. Logs: ``RUN_DIR/jobs/slurm/<job id>_<task>_log.{out,err}``.
"""

from __future__ import annotations

from ...errors import MissingExtraError, SafemixError
from ..point import run_point
from . import Executor, JobOutcome, PointJob, one_line, register


def _submitit():
    try:
        import submitit
    except ImportError:
        raise MissingExtraError("submitit", "slurm") from None
    return submitit


class _PointTask:
    """The job's callable. Checkpointable: on timeout or preemption submitit requeues the same call,
    which resumes from the step markers and the training checkpoint."""

    def __call__(self, job: PointJob) -> str:
        return run_point(job)

    def checkpoint(self, job: PointJob):
        return _submitit().helpers.DelayedSubmission(self, job)


@register("slurm")
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
            handles = [ex.submit(_PointTask(), j) for j in jobs]
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
