"""``triage report``: what each route costs and saves, from the decision store."""
