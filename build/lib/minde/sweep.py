"""Entry point: ``python -m minde.sweep`` runs ``minde.repro.sweep`` (see its docstring)."""
from minde.repro.sweep import main

if __name__ == "__main__":
    raise SystemExit(main())
