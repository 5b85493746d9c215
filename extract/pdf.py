"""PDF reports to Documents, page by page, with every failure explained.

Watchdog reports are PDFs: the text keeps its page boundaries (`page_starts`) so a figure can be
cited by page, and is cleaned as a reader sees it (running headers, footnote markers, ligatures
and line-end hyphens out: `extract/pdf_text.py`). A report links its annex, its data tables and
its press release through link annotations: each is a Link with its page and the words under it,
and `read_links` gives a crawler the same links without reading any text. Encrypted, corrupt and
scanned (image-only) files become ExtractionErrors saying which; a hostile file (thousands of
pages or annotations, streams that inflate to gigabytes) is read only up to fixed page, size,
count and time limits.
"""

from __future__ import annotations

import io
import logging
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError
from pypdf.generic import ArrayObject, ByteStringObject, DictionaryObject, IndirectObject

from extract.entities import find_mentions
from extract.language import language_tag
from extract.links import absolute_url, dedupe_links, without_fragment
from extract.pdf_text import (
    Box,
    GlyphWidths,
    PageText,
    page_text,
    with_words_rejoined,
    without_ligatures,
    without_running_lines,
    words_under,
)
from extract.records import Document, ExtractionError, Link

MAX_PAGES = 2000
MAX_TEXT_CHARS = 5_000_000
MAX_PAGE_CONTENT_BYTES = 16_000_000
TIME_BUDGET_SECONDS = 60.0
# Annotations read in one document, links kept of them, and the longest URI taken for a link: a
# report cites hundreds, and a file with more is a generator's loop or an attack.
MAX_ANNOTATIONS = 10_000
MAX_LINKS = 5000
MAX_URI_CHARS = 8192
_MAX_QUADS = 32  # boxes of one link (a link across lines has a quad per line)
_MAX_REFERENCES = 8  # an object that refers to an object that refers ... is not followed further
_URI_ACTION = ("/URI", None)  # a lenient writer leaves out the action's /S

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
    pages, page_links, omissions = _page_texts(reader, _link_base(reader, url))
    if not any(page.strip() for page in pages):
        raise ExtractionError("PDF has no extractable text (image-only? scanned pages need OCR)")
    links = _cited(page_links, url)
    if len(links) > MAX_LINKS:
        omissions.append(f"more than {MAX_LINKS:,} links: only the first {MAX_LINKS:,} were kept")
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
        links=links[:MAX_LINKS],
        omissions=omissions,
    )


def read_links(body: bytes, url: str, seconds: float = TIME_BUDGET_SECONDS) -> list[Link]:
    """The web links of a PDF's link annotations, in page order, without reading its text.

    What a crawler needs to follow a report to its annex: no anchors (they need the text), at
    most `seconds` of reading. A PDF with no link annotation says so in its bytes ("/URI" is
    nowhere, and no object stream could hide one), and is not parsed at all.
    Raises ExtractionError when the PDF cannot be opened.
    """
    if b"%PDF-" not in body[:1024] or (b"/URI" not in body and b"/ObjStm" not in body):
        return []
    reader = _open(body)
    base = _link_base(reader, url)
    budget = _AnnotationBudget()
    deadline = time.monotonic() + seconds
    links: list[Link] = []
    with _pypdf_complaints():
        for number in range(min(len(reader.pages), MAX_PAGES)):
            if time.monotonic() > deadline or budget.spent:
                break
            try:
                page = reader.pages[number]
            except TimeoutError:
                raise
            except Exception:  # a page that cannot be read links nothing
                continue
            links.extend(
                Link(url=target, page=number + 1)
                for target, _ in _uri_annotations(page, number + 1, base, budget)
            )
    return _cited(links, url)[:MAX_LINKS]


def _cited(links: list[Link], url: str) -> list[Link]:
    """Each link once, and none to the PDF itself ("#page=4"): like an HTML page's in-page
    anchors, it cites nothing."""
    own = without_fragment(url)
    return [link for link in dedupe_links(links) if without_fragment(link.url) != own]


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


def _page_texts(reader: PdfReader, base: str) -> tuple[list[str], list[Link], list[str]]:
    """Each page's text and links, stopping at the page, size and time limits, and what was
    left out.

    A page that cannot be read stays in the text as an empty page, so page numbers hold; each
    kind of omission is one line saying which pages, so the archive can tell a reader that the
    document is incomplete.
    """
    with _pypdf_complaints() as complaints:
        return _read_pages(reader, base, complaints)


def _read_pages(
    reader: PdfReader, base: str, complaints: list[str]
) -> tuple[list[str], list[Link], list[str]]:
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    pages: list[str] = []
    links: list[Link] = []
    budget = _AnnotationBudget()
    widths = GlyphWidths()
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
            reading = page_text(page, content)
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
        links.extend(_page_links(page, number + 1, base, reading, budget, widths))
        text = _tidy(reading.text)
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
    if budget.spent:
        omissions.append(
            f"PDF has more than {MAX_ANNOTATIONS:,} annotations: the rest, from page "
            f"{budget.spent_on_page} on, were not read for links"
        )
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


class _AnnotationBudget:
    """How many more annotations a document may have read, shared by all its pages."""

    def __init__(self) -> None:
        self.left = MAX_ANNOTATIONS
        self.spent = False
        self.spent_on_page = 0

    def take(self, page: int) -> bool:
        if self.left <= 0:
            self.spent, self.spent_on_page = True, self.spent_on_page or page
            return False
        self.left -= 1
        return True


def _page_links(
    page: Any,
    number: int,
    base: str,
    reading: PageText,
    budget: _AnnotationBudget,
    widths: GlyphWidths,
) -> list[Link]:
    """A page's URI links, each with the words drawn under it: a report's citations of its
    annex, its data and other documents. Annotations of one URL in a row are one link: Word and
    reportlab draw a link that wraps as an annotation per line."""
    joined: list[tuple[str, list[Box]]] = []
    for url, boxes in _uri_annotations(page, number, base, budget):
        if joined and joined[-1][0] == url:
            joined[-1][1].extend(boxes[: _MAX_QUADS - len(joined[-1][1])])
        else:
            joined.append((url, boxes))
    return [
        Link(url=url, anchor=_anchor(reading, boxes, widths), page=number) for url, boxes in joined
    ]


def _anchor(reading: PageText, boxes: list[Box], widths: GlyphWidths) -> str:
    """The words under a link, or none when they cannot be had (a font pypdf cannot read)."""
    try:
        return words_under(reading, boxes, widths) if boxes else ""
    except TimeoutError:
        raise
    except Exception:
        return ""


def _uri_annotations(
    page: Any, number: int, base: str, budget: _AnnotationBudget
) -> list[tuple[str, list[Box]]]:
    """Each URI link annotation of a page (resolved against `base`) with the boxes it covers.

    Whatever the file holds is only looked at: an annotation of the wrong type, a cycle of
    references or a broken object is passed over, and never costs the page its text.
    """
    try:
        annotations = _resolved(page.get("/Annots"))
    except TimeoutError:
        raise
    except Exception:  # an /Annots entry that cannot be read links nothing
        return []
    if not isinstance(annotations, ArrayObject):
        return []
    found = []
    for item in annotations:
        if not budget.take(number):
            break
        try:
            link = _uri_annotation(_resolved(item), base)
        except TimeoutError:
            raise
        except Exception:  # pypdf meets broken objects with errors of every kind
            continue
        if link:
            found.append(link)
    return found


def _uri_annotation(annotation: Any, base: str) -> tuple[str, list[Box]] | None:
    if not isinstance(annotation, DictionaryObject):
        return None
    action = _resolved(annotation.get("/A"))
    if not isinstance(action, DictionaryObject) or _resolved(action.get("/S")) not in _URI_ACTION:
        return None
    uri = _string(_resolved(action.get("/URI")))
    if not uri or len(uri) > MAX_URI_CHARS:
        return None
    url = absolute_url(uri, base)
    return (url, _boxes(annotation)) if url else None


def _boxes(annotation: DictionaryObject) -> list[Box]:
    """Where a link is on its page: its quads (one per line of a link that wraps), else its
    rectangle; none when neither is a list of numbers."""
    quads = _numbers(_resolved(annotation.get("/QuadPoints")), 8 * _MAX_QUADS)
    if quads and len(quads) % 8 == 0:
        corners = [quads[i : i + 8] for i in range(0, len(quads), 8)]
        return [(min(q[0::2]), min(q[1::2]), max(q[0::2]), max(q[1::2])) for q in corners]
    rect = _numbers(_resolved(annotation.get("/Rect")), 4)
    if rect and len(rect) == 4:
        return [(min(rect[0::2]), min(rect[1::2]), max(rect[0::2]), max(rect[1::2]))]
    return []


def _numbers(value: Any, most: int) -> list[float] | None:
    """`value` as a list of at most `most` finite numbers, or None."""
    if not isinstance(value, ArrayObject) or len(value) > most:
        return None
    numbers = [_resolved(item) for item in value]
    if not all(isinstance(n, int | float) for n in numbers):
        return None
    floats = [float(n) for n in numbers]
    return floats if all(math.isfinite(n) for n in floats) else None


def _resolved(value: Any) -> Any:
    """The object a reference points at, through a chain of references of bounded length: a
    reference to itself is a cycle, not a value."""
    for _ in range(_MAX_REFERENCES):
        if not isinstance(value, IndirectObject):
            return value
        value = value.get_object()
    return None


def _string(value: Any) -> str | None:
    """A PDF string as text: a text string as it is, a byte string as UTF-8 (else Latin-1)."""
    if isinstance(value, ByteStringObject):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return str(value) if isinstance(value, str) else None


def _link_base(reader: PdfReader, url: str) -> str:
    """What a PDF's relative links are resolved against: its catalog's /URI /Base when that is a
    web address (resolved against where the PDF was fetched), else the PDF's own URL. A base
    naming the author's disk ("file:///C:/Reports/") says nothing about where the file is now."""
    uri = _catalog_entry(reader, "/URI")
    try:
        base = _resolved(uri.get("/Base")) if isinstance(uri, DictionaryObject) else None
    except TimeoutError:
        raise
    except Exception:  # a broken /URI dictionary still leaves the PDF's own URL
        return url
    declared = _string(base)
    resolved = absolute_url(declared, url) if declared and len(declared) <= MAX_URI_CHARS else None
    return resolved or url


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
    """The catalog's /Lang, tagged as an HTML page's `lang` is ("EN_gb" is "en-GB"). A PDF
    that declares none has no language: guessing one from the text would take a language
    detector, for the few reports not in English."""
    return language_tag(_string(_catalog_entry(reader, "/Lang")))


def _catalog_entry(reader: PdfReader, key: str) -> Any:
    """An entry of the document's catalog, or None: a broken catalog declares nothing."""
    try:
        catalog = _resolved(reader.trailer.get("/Root"))
        return _resolved(catalog.get(key)) if isinstance(catalog, DictionaryObject) else None
    except TimeoutError:
        raise
    except Exception:
        return None
