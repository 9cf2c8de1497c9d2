"""Accounts, roles, API tokens and browser sessions.

``principal`` (roles, grants, ``Principal``), ``passwords`` (scrypt), ``credentials``
(tokens, session ids, CSRF tokens), ``service`` (the functions behind the API and CLI).
"""
