"""Runs as a domain: start, resume, cancel, watch, and what is live."""
