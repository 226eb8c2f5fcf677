"""Run the training loop: in this process (`local`), with `horovod.spark.run`, or with TorchDistributor.

All three run the same `loop.run_worker`; only the launcher and the collective differ. A failure
on any rank fails the call with that rank's error (the Spark job is cancelled, never left to hang).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass

from pyspark.sql import SparkSession

from atelier.errors import EXIT_INTERNAL, AtelierError
from atelier.training.loop import WorkerResult, WorkerSpec, run_worker, worker_errors


class TrainingFailed(AtelierError):
    """A training worker failed; the message is the worker's own error. Not a refused input: retried."""

    exit_status = EXIT_INTERNAL


@dataclass
class Launch:
    result: WorkerResult
    wall_seconds: float
    started: float = 0.0

    @property
    def launch_seconds(self) -> float:
        """From the call to the first optimizer step on rank 0: start-up and launch overhead."""
        first = self.result.timings.get("first_step_unix", 0.0)
        return first - self.started if first else float("nan")


def train_with(
    spark: SparkSession | None, spec: WorkerSpec, backend: str, num_proc: int, timeout_s: int = 120
) -> Launch:
    """Run `spec` on `backend` with `num_proc` processes; rank 0's result and the wall time."""
    started = time.time()
    try:
        if backend == "local":
            threads = spec.threads if spec.threads > 1 else max(1, os.cpu_count() or 1)
            result = run_worker(dataclasses.replace(spec, threads=threads), "local")
        elif backend == "horovod":
            result = _horovod(spec, num_proc, timeout_s)
        elif backend == "torch_distributor":
            result = _torch_distributor(spark, spec, num_proc)
        else:
            raise TrainingFailed(f"unknown training.backend '{backend}' (local, horovod, torch_distributor)")
    except Exception as exc:  # a worker's error arrives wrapped by Spark / Horovod: surface the worker's own
        recorded = worker_errors(spec.work_dir)
        if isinstance(exc, AtelierError) and not recorded:
            raise
        reason = "; ".join(recorded) if recorded else worker_error(exc)
        raise TrainingFailed(f"{backend} training with {num_proc} process(es) failed: {reason}") from exc
    return Launch(result=result, wall_seconds=time.time() - started, started=started)


def _horovod(spec: WorkerSpec, num_proc: int, timeout_s: int) -> WorkerResult:
    import horovod.spark

    env = {**os.environ, "HOROVOD_GLOO_TIMEOUT_SECONDS": str(timeout_s)}
    results = horovod.spark.run(
        run_worker,
        args=(spec, "horovod"),
        num_proc=num_proc,
        use_gloo=True,
        start_timeout=timeout_s,
        env=env,
        verbose=0,
    )
    return next(r for r in results if r.rank == 0)


def _torch_distributor(spark: SparkSession | None, spec: WorkerSpec, num_proc: int) -> WorkerResult:
    from pyspark.ml.torch.distributor import TorchDistributor

    if spark is None:
        raise TrainingFailed("backend torch_distributor needs a SparkSession")
    distributor = TorchDistributor(num_processes=num_proc, local_mode=False, use_gpu=spec.use_gpu)
    result = distributor.run(run_worker, spec, "torch")
    if result is None:  # run() returns what rank 0's run_worker returned
        raise TrainingFailed("torch_distributor: the rank 0 worker returned no result")
    return result


_WORKER_ERROR = re.compile(r"^(?:\w+\.)*(\w+(?:Error|Exception|Diverged|Failed)): (.+)$", re.MULTILINE)


def worker_error(exc: BaseException) -> str:
    """The last `SomeError: message` line of a wrapped worker traceback, else the exception itself."""
    text = str(exc)
    found = [m for m in _WORKER_ERROR.findall(text) if m[0] not in ("Py4JJavaError", "PythonException")]
    if found:
        name, message = found[-1]
        return f"{name}: {message.strip()}"
    return f"{type(exc).__name__}: {text.strip().splitlines()[-1] if text.strip() else ''}"
