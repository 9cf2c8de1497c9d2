"""HTML form bodies (application/x-www-form-urlencoded), read without extra dependencies."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request

MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class Form(dict[str, str]):
    """A submitted form: the first value of each field, stripped of surrounding spaces."""

    def text(self, name: str) -> str | None:
        """A field's value, or None when missing or blank."""
        value = self.get(name, "").strip()
        return value or None

    def flag(self, name: str) -> bool:
        """A checkbox or confirmation field is set."""
        return self.get(name, "").strip().lower() in {"1", "yes", "on", "true"}


def parse_form(body: bytes) -> Form:
    """Parse an urlencoded body; the first occurrence of a field wins."""
    form = Form()
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                                max_num_fields=200):
        form.setdefault(key, value)
    return form


async def read_form(request: Request) -> Form:
    """The request's form, refusing other content types and oversized bodies."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FORM_TYPE:
        raise HTTPException(415, f"send the form as {FORM_TYPE}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    return parse_form(body)


FormDep = Annotated[Form, Depends(read_form)]
