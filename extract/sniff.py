"""What kind of document a body is, told cheaply from its first bytes and its content type.

Kept apart from `extract.document` so the crawler can ask without loading the extractors.
"""

from __future__ import annotations


def is_pdf(body: bytes, content_type: str | None) -> bool:
    """Whether `body` is read as a PDF: served as one, or starting like one whatever the server
    called it (octet-stream, or nothing). The crawler asks the same to read a PDF's links."""
    head = body[:1024].lstrip()
    return (
        head.startswith(b"%PDF")
        or (content_type or "").split(";")[0].strip().lower() == "application/pdf"
        or (b"%PDF-" in head and not head.startswith(b"<"))
    )
