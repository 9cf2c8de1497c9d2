"""Data safety: backups (catalog and engines), migrations, restores."""
