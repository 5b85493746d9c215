"""Turn an HTML body's bytes into text, whatever its charset claims.

Real pages declare their charset in the HTTP header, in a `<meta>` tag, in both, in neither, or
wrongly. The order here is the one that survives all of those: a byte-order mark is certain;
bytes that decode cleanly as UTF-8 (with non-ASCII in them) almost never do so by accident, so
they win over a stale declaration; then the declarations; then statistical detection.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]{0,100}encoding\s*=\s*[\"']([\w.:-]+)", re.I)

# Browsers read these labels as windows-1252 (WHATWG Encoding Standard): pages that say
# "iso-8859-1" routinely contain curly quotes and euro signs in the 0x80-0x9F range.
_WHATWG_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-sjis": "shift_jis",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}

_SNIFF_BYTES = 16384
_LATIN_SINGLE_BYTE = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "latin-1",
    "iso8859-1",
    "iso8859-2",
    "iso8859-3",
    "iso8859-4",
    "iso8859-9",
    "iso8859-10",
    "iso8859-13",
    "iso8859-14",
    "iso8859-15",
    "iso8859-16",
    "mac-roman",
    "mac-latin2",
    "cp850",
    "cp437",
}


# JSON escapes ("\\udfff" in JSON-LD or a Content API item) decode to lone surrogates.
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD: no UTF-8 encoder (SQLite's included)
    accepts one, and lxml stops reading a string at it. An ASCII string, which Python flags
    for free, is not even searched."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The `charset=` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def declared_in_document(body: bytes) -> str | None:
    """The charset a page declares about itself (`<meta charset>`, http-equiv, XML declaration)."""
    head = body[:_SNIFF_BYTES]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().lower()
    label = _WHATWG_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A page cannot really be UTF-16 if its <meta> was readable as ASCII; browsers use UTF-8.
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return name


def wide_codec(label: str | None) -> str | None:
    """The UTF-16/32 codec a header names ("UTF-16LE", "utf-16"), if it names one."""
    try:
        name = codecs.lookup((label or "").strip()).name if label else ""
    except LookupError:
        return None
    return name if name.startswith(("utf-16", "utf-32")) else None


def _with_byte_order(wide: str, head: bytes) -> str:
    """A codec that names the byte order, for UTF-16/32 declared without one and sent without
    a BOM, which Python would read as little-endian whatever it is. An ASCII character's NULs
    come first in its code unit when big-endian ("\\x00<"), last when little-endian ("<\\x00")."""
    if wide not in ("utf-16", "utf-32"):
        return wide
    width = 2 if wide == "utf-16" else 4
    leading, trailing = head[::width].count(0), head[width - 1 :: width].count(0)
    return f"{wide}-be" if leading > trailing else f"{wide}-le"


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _cp1252_for_stray_bytes(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    stray = error.object[error.start : error.end]
    return stray.decode("cp1252", "replace"), error.end


codecs.register_error("oversight-cp1252", _cp1252_for_stray_bytes)


def _mostly_utf8(body: bytes) -> str | None:
    """A UTF-8 page with a few stray bytes pasted in from elsewhere (a windows-1252 apostrophe
    in an otherwise UTF-8 article), decoded as UTF-8 with each stray byte read as windows-1252.

    One bad byte must not hand the page to statistical detection, which then reads all of it
    as some Mac code page. The page counts as UTF-8 when its valid multi-byte sequences are
    at least as many as its invalid bytes; a windows-1252 page has hardly any valid ones.
    """
    replaced = body.decode("utf-8", "replace")
    invalid = replaced.count("\ufffd") - body.count("\xef\xbf\xbd".encode("latin-1"))
    valid = sum(1 for char in replaced if char > "\x7f") - replaced.count("\ufffd")
    if valid == 0 or valid < invalid:
        return None
    return body.decode("utf-8", "oversight-cp1252")


def decode_html(body: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode an HTML body; returns (text, codec used).

    `http_charset` is the charset from the HTTP Content-Type header, if there was one.
    """
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, "replace"), bom_codec

    wide = wide_codec(http_charset)
    if wide and b"\x00" in body[:1024]:
        # Declared UTF-16/32 in the header and sent so (its ASCII bytes come with NULs), no BOM.
        wide = _with_byte_order(wide, body[:1024])
        return body.decode(wide, "replace"), wide

    utf8 = _strict(body, "utf-8")
    if utf8 is not None and not body.isascii():
        return utf8, "utf-8"

    for label in (http_charset, declared_in_document(body)):
        codec = _codec(label)
        decoded = _strict(body, codec) if codec else None
        if codec and decoded is not None:
            return decoded, codec

    if utf8 is not None:  # pure ASCII
        return utf8, "ascii"

    mostly_utf8 = _mostly_utf8(body)
    if mostly_utf8 is not None:
        return mostly_utf8, "utf-8"

    best = from_bytes(body[: _SNIFF_BYTES * 4]).best()
    guess = _codec(best.encoding) if best is not None and best.encoding else None
    # Statistical detection cannot tell the Latin single-byte code pages apart on a short
    # page; windows-1252 is what browsers assume and what English and French pages use.
    if guess and guess not in _LATIN_SINGLE_BYTE:
        return body.decode(guess, "replace"), guess
    return body.decode("cp1252", "replace"), "cp1252"
