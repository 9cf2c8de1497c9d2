"""Incident response: lifecycle, roles and timeline (``service``), on-call and escalation,
reminders, alert intake, communication templates, post-mortems, playbooks and DORA metrics."""
