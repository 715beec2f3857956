"""Figures and tables only (``figures``, ``consistency``): they draw what ``minde.repro.analysis``
computes and never train or analyse anything themselves."""
