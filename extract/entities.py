"""Entities: police forces and oversight bodies named in a text. (Placeholder.)"""

from __future__ import annotations

from extract.records import Mention


def find_mentions(text: str) -> list[Mention]:
    return []
