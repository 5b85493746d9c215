"""Figures: numbers in text as data. (Placeholder until the figures work lands.)"""

from __future__ import annotations

from extract.records import Figure


def find_figures(text: str, page_starts: list[int] | None = None) -> list[Figure]:
    return []
