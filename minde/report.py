"""Entry point: ``python -m minde.report`` runs ``minde.repro.report`` (see its docstring)."""
from minde.repro.report import main

if __name__ == "__main__":
    raise SystemExit(main())
