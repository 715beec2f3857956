"""Reproduction machinery: experiment plans (``experiments``), sweep units and seed groups
(``units``), the resumable sweep (``sweep``) and Dask (``cluster``), the results store
(``results``), analysis of results (``analysis``), ablations, the MNIST consistency tests
(``mnist``, ``autoencoders``, ``consistency``) and the notebook runner (``reproduce``).

Imports the core and ``minde.bench``; never ``minde.plots``.
"""
