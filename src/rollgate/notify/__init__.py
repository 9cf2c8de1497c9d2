"""Notifications: events written in the transaction that causes them (``events``), routed to
channels by the spec and delivered with retries by the worker (``outbox``), through channel
plugins (``channels``)."""
