"""Test-only CPU support for stock TAO Sparse4D (never shipped in the wheel).

Importable as ``harness`` from the repository root (``from harness import
testenv``); pytest puts the root on ``sys.path`` (``pythonpath`` in setup.cfg).
Each module also runs as a script: ``python3 harness/testenv.py ...``.
"""
