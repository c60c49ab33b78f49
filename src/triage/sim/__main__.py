"""``python -m triage.sim``: run one fake provider (see ``triage.sim.runner.serve_main``)."""

from triage.sim.runner import serve_main

raise SystemExit(serve_main())
