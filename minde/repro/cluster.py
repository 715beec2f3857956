"""Running sweep units on a Dask cluster (docs/method.md §8 at scale): embedded or existing.

Workers run ``minde.repro.units.run_group`` on one group of units (several MINDE seeds trained as one
batch, or a single unit) and *return* its records; the client writes each record as its future
completes, so workers need no shared filesystem. A worker that dies has its group rescheduled
as a whole by the scheduler up to ``distributed.scheduler.allowed-failures`` times (set to
``MAX_RETRIES`` for the embedded cluster; an external scheduler uses its own setting, default
3); beyond that every unit of the group is recorded as failed (``KilledWorker``) and
``--retry-failed`` reruns them.

Checkpoints (docs/method.md §7): each group is given the absolute checkpoint folder of the
results it belongs to. A worker that shares that filesystem saves its training state there, so
the rescheduled group resumes where the dead worker's last checkpoint left it; a worker that
does not share it finds no file and trains from step 0 (its own copy of the folder is never
read back by the client). The client deletes a group's checkpoint once its records are written.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from minde.repro.results import UnitRecord
from minde.repro.units import Checkpointing, SweepArgumentError, Unit, failed_record, run_group

__all__ = ["check_dask_args", "dask_client", "run_groups_on_dask", "MAX_RETRIES"]

MAX_RETRIES = 2  # reschedules of a unit whose worker died (embedded cluster)
WORKER_ENV = {"MINDE_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}  # one torch/BLAS thread per worker process


def check_dask_args(workers: int | None, scheduler: str | None) -> None:
    """Validate ``workers`` / ``scheduler`` before any work."""
    if workers is not None and scheduler is not None:
        raise SweepArgumentError("give either --workers N (embedded cluster) or --scheduler "
                                 f"ADDR (existing cluster), not both (got {workers!r} and {scheduler!r})")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepArgumentError(f"--workers: must be a positive integer, got {workers!r}")
    if scheduler is not None and "://" not in str(scheduler) and not Path(scheduler).is_file():
        raise SweepArgumentError(f"--scheduler: {scheduler!r} is neither an address such as "
                                 "tcp://HOST:PORT nor an existing scheduler file")


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: embedded LocalCluster of ``workers`` processes, or ``scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        kw = {"address": scheduler} if "://" in str(scheduler) else {"scheduler_file": str(scheduler)}
        client = Client(timeout="60s", **kw)
        try:
            yield client
        finally:
            client.close()
        return
    dashboard = "127.0.0.1:0"  # loopback only, random port
    with dask.config.set({"distributed.scheduler.allowed-failures": MAX_RETRIES}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=dashboard, env=WORKER_ENV)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def dashboard_link(client: Any) -> str | None:
    """The dashboard URL when the scheduler serves one (needs bokeh), else None."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # no dashboard service: nothing to print
        return None


def _future_key(group: list[Unit]) -> str:
    """A readable, unique task key for one group of units."""
    u = group[0]
    return f"minde-unit-{u.task}-{u.method}-n{u.n_train}-s{u.seed}-{uuid.uuid4().hex[:8]}"


def run_groups_on_dask(groups: list[list[Unit]], on_record: Callable[[UnitRecord], None], *,
                       workers: int | None = None, scheduler: str | None = None,
                       status: dict | None = None, echo: Callable[[str], None] = print,
                       checkpoints: Checkpointing | None = None,
                       on_group_done: Callable[[list[Unit]], None] | None = None) -> None:
    """Submit one task per group, to start in the order given; call ``on_record`` for every
    record as its future completes.

    ``status`` (the sweep bar's postfix) gets ``running`` (groups on a worker thread, at most
    the cluster's threads) and ``queued``; ``on_group_done(group)`` is called after the records
    of a group that ran to its end (not one lost with its workers) were handed to ``on_record``.
    """
    from distributed import as_completed

    with dask_client(workers, scheduler) as client:
        link = dashboard_link(client)
        info = client.scheduler_info().get("workers", {})
        n_workers = len(info)
        threads = max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))
        echo(f"dask: {client.scheduler.address}, {n_workers} worker(s)"
             + (f", dashboard {link}" if link else ""))
        # priorities keep the groups' order (higher runs first): the caller puts the long ones first
        futures = {client.submit(run_group, g, checkpoints, key=_future_key(g), pure=False,
                                 priority=len(groups) - i): g for i, g in enumerate(groups)}
        pending = len(futures)
        if status is not None:
            status.update(running=min(pending, threads), queued=max(0, pending - threads))
        for fut in as_completed(list(futures)):
            group = futures.pop(fut)
            try:
                records = fut.result()
            except CancelledError as exc:  # the cluster went away: not the unit's fault
                raise RuntimeError("lost the Dask cluster mid-sweep; finished units are saved, "
                                   "rerun the same command to resume") from exc
            except Exception as exc:  # KilledWorker after bounded retries, import errors, ...
                records, finished = [failed_record(u, exc) for u in group], False
            else:
                finished = True
            fut.release()
            pending -= 1
            if status is not None:
                status.update(running=min(pending, threads), queued=max(0, pending - threads))
            for rec in records:
                on_record(rec)
            if finished and on_group_done is not None:
                on_group_done(group)
