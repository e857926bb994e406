"""Raspberry Pi: LiteRT's resident memory for a model (measured in a subprocess) and the deploy bundle.

`rss_probe.py` and `run_model.py` are standalone scripts, run by their path: the first on the host to
measure memory, the second copied into the bundle for the board. Neither imports edgekit.
"""
