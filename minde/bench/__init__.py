"""Benchmark layer: the 40 bmi tasks and the high-MI family (``tasks``), the MNIST images of the
self-consistency tests (``mnist``), the baselines (``baselines``, ``doe``), Gaussian closed forms
(``gaussian``) and bmi interop (``interop``).

Imports the core (``minde.*``) only; never the reproduction machinery or plots.
"""
