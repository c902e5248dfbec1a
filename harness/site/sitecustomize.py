"""TEST-ONLY: run TAO's Sparse4D on a CPU machine.

This directory is put first on PYTHONPATH by harness/testenv.py, so every
interpreter of a harness run -- including the ones TAO's launcher and
Lightning's DDP launcher spawn -- imports this module at start-up and installs
the CPU stand-ins of ``tao_cpu_testonly``. It is never part of the plugin or
its wheel. Set TAO_CPU_TESTONLY=0 to start an interpreter without it.
"""
import os

if os.environ.get("TAO_CPU_TESTONLY", "1") != "0":
    import tao_cpu_testonly

    tao_cpu_testonly.install()

# A test may name one extra test-only module to load in every interpreter of its
# run (DDP workers included), e.g. tests/e2e/rank_probe.py.
if os.environ.get("TAO_CPU_TESTONLY_PROBE"):
    import importlib

    importlib.import_module(os.environ["TAO_CPU_TESTONLY_PROBE"])
