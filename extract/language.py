"""Language tags as every reader stores them: "en-GB", whatever case or separator was declared."""

from __future__ import annotations

import re

_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def language_tag(value: str | None) -> str | None:
    """`value` as a BCP 47 tag with its conventional case ("EN_gb" is "en-GB"), or None when it
    is no tag at all ("English", "x-none"): a page's `lang`, a PDF's /Lang, a locale."""
    value = (value or "").strip().replace("_", "-")
    if not _TAG.fullmatch(value):
        return None
    primary, *rest = value.split("-")
    return "-".join([primary.lower(), *[r.upper() if len(r) == 2 else r for r in rest]])
