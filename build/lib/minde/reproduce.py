"""Entry point: ``python -m minde.reproduce`` runs ``minde.repro.reproduce`` (see its docstring)."""
from minde.repro.reproduce import main

if __name__ == "__main__":
    raise SystemExit(main())
