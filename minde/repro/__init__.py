"""Reproduction machinery: the registry of notebooks (``experiments.EXPERIMENTS``: each notebook's
plans, outputs, results store and claim), the verdicts (``claims``) and the claims report
(``report``), sweep units and seed groups (``units``), the resumable sweep (``sweep``) and Dask
(``cluster``), the sweeps' unit records (``results``) and the store of notebook tables
(``store``), analysis of results (``analysis``), ablations, the MNIST consistency tests
(``mnist``, ``autoencoders``, ``consistency``) and the notebook runner (``reproduce``). The command line is ``minde sweep | reproduce | report``.

Imports the core and ``minde.bench``; never ``minde.plots``.
"""
