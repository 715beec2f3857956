"""Run a MINDE sweep on a SLURM cluster through dask-jobqueue (not run in tests).

Needs ``pip install dask-jobqueue`` (not a dependency of minde-repro). Run this script on the
login node (or in a small long-running job) from the repository root:

    python examples/slurm_dask.py --jobs 20 --partition gpu --gpus 1

It starts a Dask scheduler here, asks SLURM for ``--jobs`` jobs of one worker each (one GPU,
one torch thread), and runs the sweep through ``minde.repro.sweep.run_sweep(scheduler=...)``. Only the
process running this script writes results (``data/results/<experiment>/<budget>/units``);
workers return records over the network, so they need the code and Python environment but no
shared results folder. Stopping and rerunning the script resumes: finished units are skipped.
"""
from __future__ import annotations

import argparse


def main() -> None:
    """Start a SLURMCluster, scale it, and run the sweep on it (docs/method.md §8)."""
    from dask_jobqueue import SLURMCluster  # imported here: dask-jobqueue is optional

    from minde.repro.sweep import run_sweep, summary_table

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=10, help="SLURM jobs (= Dask workers)")
    p.add_argument("--partition", default=None, help="SLURM partition (queue)")
    p.add_argument("--account", default=None, help="SLURM account")
    p.add_argument("--gpus", type=int, default=1, help="GPUs per job (0: CPU only)")
    p.add_argument("--walltime", default="08:00:00", help="per job")
    p.add_argument("--memory", default="16GB", help="per job")
    p.add_argument("--experiment", default="benchmark_paper")
    p.add_argument("--budget", default="paper")
    p.add_argument("--tasks", default="benchmark")
    p.add_argument("--methods", default="minde_c,minde_j")
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--n-train", default="100000")
    a = p.parse_args()

    cluster = SLURMCluster(
        queue=a.partition, account=a.account,
        cores=1, processes=1,  # one worker process with one thread per job
        memory=a.memory, walltime=a.walltime,
        job_extra_directives=[f"--gres=gpu:{a.gpus}"] if a.gpus else [],
        job_script_prologue=["export MINDE_NUM_THREADS=1 OMP_NUM_THREADS=1"],
    )
    cluster.scale(jobs=a.jobs)
    print(cluster.job_script())
    print("dashboard:", cluster.dashboard_link)
    try:
        df = run_sweep(a.experiment, a.budget, a.tasks, a.methods, a.seeds, a.n_train,
                       scheduler=cluster.scheduler_address)
        print(summary_table(df).to_string())
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
