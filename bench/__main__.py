"""`make bench`: the bridge's throughput next to its baselines (bench/bridge_bench.py).

The gateway's benchmark is separate: `.venv/bin/python -m bench.gateway_bench`.
"""

from bench.bridge_bench import main

main()
