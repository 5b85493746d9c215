"""PDF reports to Documents, page by page, with every failure explained.

Watchdog reports are PDFs: the text keeps its page boundaries (`page_starts`) so a figure can be
cited by page, and is cleaned as a reader sees it (running headers, footnote markers, ligatures
and line-end hyphens out: `extract/pdf_text.py`). Encrypted, corrupt and scanned (image-only)
files become ExtractionErrors saying which; a hostile file (thousands of pages, streams that
inflate to gigabytes) is read only up to fixed page, size and time limits.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError

from extract.entities import find_mentions
from extract.links import absolute_url, dedupe_links
from extract.pdf_text import (
    page_text,
    with_words_rejoined,
    without_ligatures,
    without_running_lines,
)
from extract.records import Document, ExtractionError, Link

MAX_PAGES = 2000
MAX_TEXT_CHARS = 5_000_000
MAX_PAGE_CONTENT_BYTES = 16_000_000
TIME_BUDGET_SECONDS = 60.0

_PDF_DATE = re.compile(
    r"^D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(Z|[+-]\d{2}'?\d{2}'?|[+-]\d{2})?"
)
# Metadata titles that name no report: placeholders, file names, templates ("HMICFRS report
# template"), and reportlab's defaults.
_UNHELPFUL_TITLE = re.compile(
    r"^(untitled|title|document\d*|report|slide \d+|powerpoint presentation|word document"
    r"|microsoft (word|powerpoint)\b.*|.*\.(docx?|pdf|indd|pptx?|rtf|odt)"
    r"|.*\btemplate( v?[\d.]+)?|\(anonymous\)|\(unspecified\))$",
    re.IGNORECASE,
)
_MARKING = r"official(\s?[-–]?\s?sensitive)?|not protectively marked|restricted|confidential|draft"
_PROTECTIVE_MARKING = re.compile(rf"^({_MARKING})$", re.IGNORECASE)
# Lines on a cover page that are not its title: protective markings, dates, page numbers.
_NOT_A_TITLE_LINE = re.compile(
    rf"^({_MARKING}|page \d+( of \d+)?|\d+|[\d\s/.,-]+|(\d{{1,2}} )?[a-z]+ \d{{4}}|contents)$",
    re.IGNORECASE,
)
# A cover title line that goes on to the next: it ends on a comma, colon or dash, or on a word
# that cannot end a title ("Police effectiveness," / "efficiency and legitimacy").
_TITLE_GOES_ON = re.compile(
    r"([,:;–—-]|\b(and|or|of|the|for|in|on|to|a|an|with|by))$", re.IGNORECASE
)
_MAX_TITLE_LINES = 3
_BLANK_RUNS = re.compile(r"\n{3,}")


def extract_pdf(body: bytes, url: str) -> Document:
    """Text, page offsets and metadata of a PDF; ExtractionError when none can be had."""
    if b"%PDF-" not in body[:1024]:
        raise ExtractionError("not a PDF: served as application/pdf but has no %PDF header")
    reader = _open(body)
    pages, page_links, omissions = _page_texts(reader)
    if not any(page.strip() for page in pages):
        raise ExtractionError("PDF has no extractable text (image-only? scanned pages need OCR)")
    pages = with_words_rejoined(without_running_lines(pages))

    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 2
    text = "\n\n".join(pages)

    info = _info(reader)
    return Document(
        url=url,
        content_type="pdf",
        title=_title(info.get("/Title"), pages),
        text=text,
        published=_pdf_date(info.get("/CreationDate")) or _pdf_date(info.get("/ModDate")),
        updated=_pdf_date(info.get("/ModDate")),
        author=_clean(info.get("/Author")),
        description=_clean(info.get("/Subject")),
        language=_language(reader),
        page_starts=starts,
        links=dedupe_links(page_links),
        omissions=omissions,
    )


def _open(body: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
    except TimeoutError:
        raise
    except Exception as err:  # pypdf meets broken files with errors of every kind
        raise ExtractionError(f"corrupt PDF: {_reason(err)}") from err
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as err:
            raise ExtractionError(f"PDF is encrypted with an unsupported method: {err}") from err
        except (PyPdfError, ValueError, KeyError, TypeError) as err:
            raise ExtractionError(f"PDF is encrypted and could not be opened: {err}") from err
        if not opened:
            raise ExtractionError("PDF is encrypted: it needs a password to open")
    try:
        count = len(reader.pages)
    except FileNotDecryptedError as err:
        raise ExtractionError("PDF is encrypted: it needs a password to open") from err
    except TimeoutError:
        raise
    except Exception as err:
        raise ExtractionError(f"corrupt PDF: page tree unreadable ({_reason(err)})") from err
    if count == 0:
        raise ExtractionError("corrupt PDF: no pages")
    return reader


def _reason(err: Exception) -> str:
    return str(err) or type(err).__name__


def _page_texts(reader: PdfReader) -> tuple[list[str], list[Link], list[str]]:
    """Each page's text, stopping at the page, size and time limits, and what was left out.

    A page that cannot be read stays in the text as an empty page, so page numbers hold; each
    kind of omission is one line saying which pages, so the archive can tell a reader that the
    document is incomplete.
    """
    with _pypdf_complaints() as complaints:
        return _read_pages(reader, complaints)


def _read_pages(
    reader: PdfReader, complaints: list[str]
) -> tuple[list[str], list[Link], list[str]]:
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    pages: list[str] = []
    links: list[Link] = []
    count = len(reader.pages)
    total = 0
    oversized: list[int] = []
    unreadable: list[int] = []
    first_error = ""
    stopped = ""
    for number in range(min(count, MAX_PAGES)):
        if time.monotonic() > deadline:
            stopped = f"reading took over {TIME_BUDGET_SECONDS:.0f} s"
            break
        complaints.clear()
        try:
            page = reader.pages[number]
            contents = page.get_contents()
            content = contents.get_data() if contents is not None else b""
            if len(content) > MAX_PAGE_CONTENT_BYTES:
                oversized.append(number + 1)
                pages.append("")  # an inflated stream this size is a bomb, not prose
                continue
            text = page_text(page, content)
            links.extend(_page_links(page))
        except (LimitReachedError, MemoryError):
            oversized.append(number + 1)
            pages.append("")
            continue
        except TimeoutError:
            raise
        except Exception as err:  # one broken page must not cost the rest of the report
            unreadable.append(number + 1)
            first_error = first_error or _reason(err)
            if len(unreadable) > 20 and not any(pages):
                raise ExtractionError(f"corrupt PDF: pages unreadable ({first_error})") from err
            pages.append("")
            continue
        text = _tidy(text)
        if not text.strip() and complaints:
            # pypdf, lenient, gives an empty page for a stream it could not inflate and only
            # logs why: a page lost, not a blank one.
            unreadable.append(number + 1)
            first_error = first_error or complaints[0]
        if total + len(text) >= MAX_TEXT_CHARS:
            pages.append(text[: MAX_TEXT_CHARS - total])
            stopped = f"its text reached {MAX_TEXT_CHARS:,} characters"
            break
        total += len(text)
        pages.append(text)
    omissions = []
    if stopped:
        omissions.append(f"PDF read to page {len(pages)} of {count:,}: {stopped}")
    elif count > MAX_PAGES:
        omissions.append(f"PDF has {count:,} pages: only the first {MAX_PAGES:,} were read")
    if oversized:
        omissions.append(
            f"PDF {_pages(oversized)} left out: content too large to read (a decompression bomb?)"
        )
    if unreadable:
        omissions.append(f"PDF {_pages(unreadable)} unreadable: {first_error}"[:500])
    return pages, links, omissions


class _Complaints(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage()[:200])


@contextmanager
def _pypdf_complaints() -> Iterator[list[str]]:
    """What pypdf logs while it reads, kept for the caller (and shown to nobody else)."""
    complaints: list[str] = []
    logger = logging.getLogger("pypdf")
    handler = _Complaints(complaints)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield complaints
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return f"page {shown}" if len(numbers) == 1 else f"pages {shown}{more}"


def _tidy(text: str) -> str:
    text = without_ligatures(text.replace("\x00", ""))
    # Stripped at the start too: a footnote's marker, dropped, leaves the space that followed it.
    lines = [line.strip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _page_links(page: Any) -> list[Link]:
    """URI link annotations: a report's citations of other documents."""
    found = []
    for annot in page.get("/Annots") or []:
        annot = annot.get_object()
        action: Any = annot.get("/A") if hasattr(annot, "get") else None
        action = action.get_object() if hasattr(action, "get_object") else None
        uri = action.get("/URI") if hasattr(action, "get") else None
        url = absolute_url(str(uri), "") if uri else None
        if url:
            found.append(Link(url=url))
    return found


def _info(reader: PdfReader) -> dict[str, Any]:
    try:
        info: Any = reader.trailer.get("/Info")
        info = info.get_object() if hasattr(info, "get_object") else None
        return {str(k): v for k, v in info.items()} if hasattr(info, "items") else {}
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = str(value.get_object() if hasattr(value, "get_object") else value)
    except (PyPdfError, ValueError, TypeError):
        return None
    text = " ".join(text.replace("\x00", "").split())
    return text or None


def _title(meta_title: Any, pages: list[str]) -> str | None:
    """The metadata title when it is a real one, else the cover's title.

    A metadata title that is only a protective marking ("OFFICIAL") or the publisher's name
    would be every report's title, so the cover's is taken instead.
    """
    title = _clean(meta_title)
    if (
        title
        and len(title) >= 3
        and not _UNHELPFUL_TITLE.match(title)
        and not _PROTECTIVE_MARKING.match(title)
        and not _only_a_publisher(title)
    ):
        return title
    for page in pages[:3]:
        lines = [" ".join(line.split()) for line in page.splitlines()]
        for number, line in enumerate(lines):
            if _reads_like_a_title(line):
                return _with_continuation(line, lines[number + 1 :])
    return None


def _reads_like_a_title(line: str) -> bool:
    return (
        len(re.findall(r"[^\W\d_]", line)) >= 4
        and len(line) <= 200
        and not _NOT_A_TITLE_LINE.match(line)
        and not _only_a_publisher(line)
    )


def _with_continuation(title: str, following: list[str]) -> str:
    """A cover title set on several lines, joined: each line that ends mid-phrase, or is
    followed by one that starts in lower case, goes on to the next ("Police workforce, England
    and Wales:" / "31 March 2024")."""
    for line in following[: _MAX_TITLE_LINES - 1]:
        goes_on = _TITLE_GOES_ON.search(title) or line[:1].islower()
        if not line or not goes_on or len(title) + len(line) > 200:
            break
        if _PROTECTIVE_MARKING.match(line) or _only_a_publisher(line):
            break
        title = f"{title} {line}"
    return title


def _only_a_publisher(line: str) -> bool:
    """A cover line that is just the publisher's name ("Independent Office for Police Conduct"
    above the report's title): every report of that body would share it as a title."""
    return any(
        " ".join(m.surface.split()).casefold() == line.casefold() for m in find_mentions(line)
    )


def _pdf_date(value: Any) -> str | None:
    """A PDF date ("D:20240305143000+01'00'") as ISO 8601, or None when it is not a date.

    An impossible offset ("+99'99'", "+24'00'") makes the whole date None, not just its time:
    software that wrote it cannot be trusted for the rest, and `published` then falls back to
    the other date, the linking page's or the Last-Modified header.
    """
    raw = _clean(value)
    if not raw:
        return None
    match = _PDF_DATE.match(raw)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return None
    if not 1980 <= moment.year <= 2200:
        return None
    if hour is None:
        return moment.date().isoformat()
    iso = moment.isoformat()
    if zone == "Z":
        return iso + "+00:00"
    if zone:
        digits = zone.replace("'", "")
        hours, mins = digits[:3], digits[3:5] or "00"
        if int(hours[1:]) > 23 or int(mins) > 59:
            return None
        return f"{iso}{hours}:{mins}"
    return iso


def _language(reader: PdfReader) -> str | None:
    try:
        root: Any = reader.trailer["/Root"].get_object()
        lang = root.get("/Lang")
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return None
    value = _clean(lang)
    return value if value and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value) else None
