"""Release gates: what must hold before a release deploys (deploy windows and freezes,
checklists, and quality gates that score test reports, coverage and numbers)."""
