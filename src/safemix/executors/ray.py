"""``ray``: one Ray task per (k, seed) point, on an existing cluster (``address``) or a local one
started for the sweep (its servers bound to 127.0.0.1: Ray's single-machine mode). Each task asks for ``num_cpus``/``num_gpus``; a task
whose worker dies is retried ``max_retries`` times and resumes from the step markers and the
training checkpoint. Logs: ``RUN_DIR/jobs/ray/k=K_seed=S.log``.
"""

from __future__ import annotations

from pydantic import Field

from ..errors import MissingExtraError
from ..plugins import Options
from . import Executor, JobOutcome, PointJob, one_line, output_to, register


class RayOptions(Options):
    """One Ray task per (k, seed) point (``executor: {kind: ray, ray: {...}}``)."""
    address: str | None = Field(None, description="an existing cluster (e.g. ray://head:10001 or auto); none: a "
                                                  "local Ray on 127.0.0.1")
    num_cpus: float = Field(1, gt=0, description="CPUs per task")
    num_gpus: float = Field(0, ge=0, description="GPUs per task")
    max_retries: int = Field(1, ge=0, description="retries of a task whose worker died (it resumes)")
    local_cpus: int | None = Field(None, gt=0, description="CPUs of the local Ray (default: all)")


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray") from None
    return ray


def _task(target, job: PointJob, log: str) -> str:
    """A Ray task: the point, with its task id in the step locks (``safemix status``)."""
    import os

    os.environ["SAFEMIX_JOB"] = f"ray task {_ray().get_runtime_context().get_task_id()[:16]}"
    with output_to(log):  # the worker's output, libraries' too
        return target(job)


@register("ray", RayOptions)
class RayExecutor(Executor):
    """One Ray task per (k, seed) point, on a cluster by address or a local Ray."""
    name = "ray"

    def run_points(self, jobs: list[PointJob], name: str, on_submit=None) -> list[JobOutcome]:
        import os

        o, started = self.o, False
        if not o.address:  # a local Ray of this sweep: every server on loopback (Ray's single-machine mode)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = _ray()
        if not ray.is_initialized():
            if o.address:
                ray.init(address=o.address, log_to_driver=False)
            else:
                ray.init(num_cpus=o.local_cpus, include_dashboard=False, log_to_driver=False)
            started = True
        try:
            task = ray.remote(num_cpus=o.num_cpus, num_gpus=o.num_gpus, max_retries=o.max_retries)(_task)
            logs = [self.folder / f"k={j.k}_seed={j.seed}.log" for j in jobs]
            refs = [task.options(name=f"{name} {j.point}").remote(self.target, j, str(log)) for j, log in zip(jobs, logs)]
            if on_submit:
                on_submit([JobOutcome(j.point, self.name, r.task_id().hex(), "SUBMITTED") for j, r in zip(jobs, refs)])
            outcomes = []
            for j, ref, log in zip(jobs, refs, logs):
                try:
                    ray.get(ref)
                    outcomes.append(JobOutcome(j.point, self.name, ref.task_id().hex(), "COMPLETED", log=str(log)))
                except ray.exceptions.TaskCancelledError as exc:
                    outcomes.append(JobOutcome(j.point, self.name, ref.task_id().hex(), "CANCELLED", one_line(exc), str(log)))
                except ray.exceptions.RayError as exc:
                    reason = one_line(exc.cause if getattr(exc, "cause", None) else exc)
                    outcomes.append(JobOutcome(j.point, self.name, ref.task_id().hex(), "FAILED", reason, str(log)))
            return outcomes
        finally:
            if started:
                ray.shutdown()
