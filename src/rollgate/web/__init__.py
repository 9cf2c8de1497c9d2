"""The live web dashboard served by ``rollgate serve``: server-rendered pages, no build step.

``router`` holds every page and action; ``STATIC`` is the folder to mount at ``/static``
(one hand-written CSS file and one hand-written script).
"""

from __future__ import annotations

from fastapi import APIRouter

from rollgate.web import actions, pages, session
from rollgate.web.render import STATIC

router = APIRouter()
router.include_router(pages.router)
router.include_router(actions.router)
router.include_router(session.router)

__all__ = ["STATIC", "router"]
