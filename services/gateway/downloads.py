"""A file handed to a browser or a client as itself: its content type, its own name (RFC 6266,
non-ASCII as RFC 8187's ``filename*``, with an ASCII fallback), never cached, never sniffed."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Response


def file_response(content: bytes, content_type: str, name: str) -> Response:
    kind = f"{content_type}; charset=utf-8" if content_type == "text/plain" else content_type
    return Response(
        content=content,
        media_type=kind,
        headers={
            "Content-Disposition": content_disposition(name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def content_disposition(name: str) -> str:
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in ".-_" else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
