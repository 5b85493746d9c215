"""Pure extraction: bytes in, records out. Never the network, never a database."""

from extract.records import (
    Document,
    ExtractionError,
    Figure,
    Image,
    Link,
    Mention,
    Table,
)

__all__ = [
    "Document",
    "ExtractionError",
    "Figure",
    "Image",
    "Link",
    "Mention",
    "Table",
    "extract_document",
]


def extract_document(body: bytes, url: str, content_type: str | None = None) -> Document:
    """Turn a fetched body into a Document; see `extract.document.extract_document`."""
    from extract.document import extract_document as _extract

    return _extract(body, url, content_type)
