"""The evidence pipeline (``python3 -m bench.evidence``; ``python3 bench/evidence`` hands over to it)."""
