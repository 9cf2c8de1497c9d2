"""rollgate's own tables (the DBOS engine keeps its journal in its own tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned as timezone-aware UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Release(Base):
    """An immutable version of a service, recorded the first time it is deployed."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("service", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    notes: Mapped[str | None] = mapped_column(Text)
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    committed_at: Mapped[datetime | None]  # lead time for changes starts here


class Run(Base):
    """One execution of a pipeline: a deploy or a rollback."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_target", "service", "environment", "created_at"),
                      Index("ix_runs_created", "created_at", "id"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[str | None] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    executor_id: Mapped[str | None] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]]
    spec_dir: Mapped[str] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # What a rollback restores: {"scope": "app"|"db"|"full", "backup_id", ...}; deploys:
    # {"allow_destructive": bool}.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Step(Base):
    """A journaled step of a run: state, attempts, timings, output excerpt, error."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class RunLock(Base):
    """At most one active run per service and environment."""

    __tablename__ = "run_locks"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    acquired_at: Mapped[datetime]


class Executor(Base):
    """A process that drives runs, with its heartbeat."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class Instance(Base):
    """A running process of one version of a service (local target)."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_target", "service", "environment"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(128))
    replica: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    pid_started: Mapped[float] = mapped_column()
    port: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime]
    retire_at: Mapped[datetime | None]


class Proxy(Base):
    """The traffic proxy serving a service's public port in an environment."""

    __tablename__ = "proxies"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    listen: Mapped[str] = mapped_column(String(64))
    admin_url: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]


class Deployment(Base):
    """What is live for a service in an environment, and what was before."""

    __tablename__ = "deployments"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(128))
    previous_version: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class AuditEvent(Base):
    """Who did what, when, to what; each row's hash covers it and the row before."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest link of the audit chain: its sequence number and hash (one row).

    Appending locks this row first, so concurrent writers chain one after the other, and
    a deleted newest row is still noticed.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AnalysisCheck(Base):
    """One evaluation of an analysis check: observed, threshold or baseline, n, verdict."""

    __tablename__ = "analysis_checks"
    __table_args__ = (Index("ix_analysis_checks_run", "run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    analysis: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    observed: Mapped[float | None]
    threshold: Mapped[float | None]
    baseline: Mapped[float | None]
    samples: Mapped[int | None] = mapped_column(Integer)
    baseline_samples: Mapped[int | None] = mapped_column(Integer)
    statistic: Mapped[str | None] = mapped_column(String(64))
    statistic_value: Mapped[float | None]
    p_value: Mapped[float | None]
    summary: Mapped[str] = mapped_column(Text)


class Backup(Base):
    """A verified backup of a database in an environment (the catalog; a .meta.json mirrors it)."""

    __tablename__ = "backups"
    __table_args__ = (Index("ix_backups_target", "database", "environment", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    database: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    duration_ms: Mapped[int] = mapped_column(Integer)
    schema_revision: Mapped[str | None] = mapped_column(String(128))
    check_summary: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(40), index=True)
    service: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(128))
    retention: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    pruned_at: Mapped[datetime | None]


class Rollback(Base):
    """One rollback: app, db or full; asked for or automatic; why, what and with which backup."""

    __tablename__ = "rollbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(16))
    from_version: Mapped[str | None] = mapped_column(String(128))
    to_version: Mapped[str | None] = mapped_column(String(128))
    backup_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    record_path: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class User(Base):
    """A person (or robot) who signs in; only a scrypt hash of the password is kept."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("name", name="uq_users_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class RoleGrant(Base):
    """A role of a user in one environment, or in every environment ("*")."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("user_id", "role", "environment",
                                       name="uq_grants_user_role_env"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ApiToken(Base):
    """An API token ``rg_<id>_<secret>``: the id is public, only the secret's sha256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser session: the sha256 of the cookie's id, and of its CSRF token."""

    __tablename__ = "sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """One failed login for a user name from a client address (rate limiting, all servers)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "username", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class QualityResult(Base):
    """One evaluation of a quality gate for a service: values, score, decision, who and when.

    ``objectives`` maps each objective to ``{"value", "status", "score"}``; the values of
    earlier DEPLOY results are the baseline of relative criteria.
    """

    __tablename__ = "quality_results"
    __table_args__ = (Index("ix_quality_results_target", "gate", "service", "decision", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gate: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(128))
    objectives: Mapped[dict[str, Any]]
    score: Mapped[float] = mapped_column(Double)
    decision: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class ChecklistConfirmation(Base):
    """A manual checklist item confirmed by a named person, for a phase of an environment
    (``service`` and ``version`` are empty when the confirmation is not about a deploy)."""

    __tablename__ = "checklist_confirmations"
    __table_args__ = (Index("ix_checklist_confirmations_target", "phase", "environment",
                            "service", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phase: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(128))
    item: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class Incident(Base):
    """An incident: its level (``severity`` is the level's position, 0 the most severe, and
    ``level`` its name), status, where, who opened it and when, and the clocks reminders and
    escalation run from."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "status", "severity"),
                      Index("ix_incidents_opened", "opened_at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[int] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(64))
    environment: Mapped[str | None] = mapped_column(String(64))
    opened_by: Mapped[str] = mapped_column(String(128))
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)  # user-facing impact
    source: Mapped[str | None] = mapped_column(String(16))  # manual, rollback, alert
    playbook: Mapped[str | None] = mapped_column(String(64))
    # Alertmanager's groupKey: one incident per group (unique: a retried webhook finds it).
    group_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    started_at: Mapped[datetime | None]  # impact start (first alert), else opened_at
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None]
    last_update_at: Mapped[datetime | None]  # last internal update (note, status change)
    last_public_at: Mapped[datetime | None]  # last public (status page, customer) update
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    paged_at: Mapped[datetime | None]  # when the current escalation step was paged
    postmortem_due_at: Mapped[datetime | None]


class IncidentEvent(Base):
    """One entry of an incident's timeline: what happened, when, by whom. ``key`` makes
    automatic entries (reminders, escalations, alert deliveries) happen once."""

    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "key"),
                      Index("ix_incident_events_timeline", "incident_id", "at", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    key: Mapped[str | None] = mapped_column(String(160))


class IncidentRole(Base):
    """Who holds a role (commander, ops, app, comms, scribe) in an incident now."""

    __tablename__ = "incident_roles"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    person: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(128))


class IncidentLink(Base):
    """A run, rollback or alert tied to an incident."""

    __tablename__ = "incident_links"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref: Mapped[str] = mapped_column(String(160), primary_key=True)
    at: Mapped[datetime]


class IncidentAlert(Base):
    """An alert (by Alertmanager fingerprint) of an incident's group, and its state."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # firing, resolved
    labels: Mapped[dict[str, Any]]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ActionItem(Base):
    """A follow-up of an incident: what, who owns it, by when, and whether it is done."""

    __tablename__ = "action_items"
    __table_args__ = (Index("ix_action_items_incident", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    done_at: Mapped[datetime | None]


class Postmortem(Base):
    """An incident's post-mortem: the Markdown document, its due date and state."""

    __tablename__ = "postmortems"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # draft, published
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class MaintenanceNotice(Base):
    """Announced maintenance of an environment (or one service there): when it starts and
    ends, and when it was announced (a major change needs the notice long enough before)."""

    __tablename__ = "maintenance_notices"
    __table_args__ = (Index("ix_maintenance_notices_when", "environment", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    posted_at: Mapped[datetime]
    posted_by: Mapped[str] = mapped_column(String(128))
    cancelled_at: Mapped[datetime | None]


class NotifyEvent(Base):
    """Something happened that people may need to hear of (a run started, an incident was
    opened, maintenance starts soon): written in the same transaction as the change itself,
    once per ``key``. The worker routes it to channels (``routed_at``) by the spec."""

    __tablename__ = "notify_events"
    __table_args__ = (Index("ix_notify_events_pending", "routed_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    environment: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(16))  # an incident's level name
    severity: Mapped[int | None] = mapped_column(Integer)  # its position (0: most severe)
    public: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # what messages are written from
    routed_at: Mapped[datetime | None]


class Notification(Base):
    """One message to one channel (the outbox row): its rendered payload (never a secret:
    URLs, keys and passwords are added when it is sent), the idempotency key the receiver
    sees, and delivery's state: attempts, the next try, delivered or dead-lettered."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),
                      Index("ix_notifications_thread", "thread", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("notify_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    # Messages of one thread (a channel and one incident, run or notice) go out in order.
    thread: Mapped[str] = mapped_column(String(200))
    channel_type: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(280), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12))  # pending, sending, delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(String(300))  # the receiver's answer, short
