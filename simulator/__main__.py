"""`python -m simulator`: prefetch, env, traffic, demo and load commands."""

from simulator.cli import main

raise SystemExit(main())
