"""``python -m triage`` = the ``triage`` command."""

from triage.cli import main

raise SystemExit(main())
