"""`python -m eventbridge` is the `eventbridge` command."""

from eventbridge.cli import main

raise SystemExit(main())
