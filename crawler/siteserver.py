"""A loopback web server that serves a directory tree as one web site, for tests and the offline demo.

Each `Site` binds its own 127.0.0.x address (all of 127/8 is loopback on Linux), so several sites run
at once and a crawler's `allowed_domains` can tell them apart. Every file answers with a strong ETag
and a Last-Modified date and honours conditional requests; every request is logged so a test can
assert on what a crawler did. Special behaviour (redirects, errors, bombs, stalls) is declared per
path in the site's `routes.toml` and implemented by small named handlers in `HANDLERS`.

Site layout::

    mysite/
      routes.toml       behaviours and dates (optional; not served)
      source.toml       a sources.toml entry for this site, templated (optional; not served)
      expected.json     what a crawl should find (optional; not served)
      index.html        served at /
      news/a/index.html served at /news/a/ (a directory answers with its one index.* file)
      news/b.html       served at /news/b.html and at /news/b (clean URLs)
      sitemap.xml       served at /sitemap.xml, and gzipped at /sitemap.xml.gz unless that file exists

Text files are templates: `{{base}}` is this site's base URL, `{{base:news}}` another site's in the
same group, `{{host}}` / `{{host:news}}` the bare address, and `{{lastmod:/path/}}` the current
Last-Modified of a path as ISO 8601 (`{{lastmod:/path/|date}}`, `|naive`, `|http` for other forms),
so a sitemap's `lastmod` and a feed's `updated` move when a test calls `site.set_page()`.

routes.toml::

    [site]
    last_modified = "2024-01-15T09:00:00Z"      # default date for files without their own

    [dates]                                     # per-path Last-Modified
    "/news/a/" = "2024-03-12T09:30:00Z"

    [routes."/old/"]                            # one table per path (a key with "?" matches the query too)
    handler = "redirect"                        # a name in HANDLERS; default "file"
    to = "/news/a/"
    status = 301
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import mimetypes
import re
import threading
import time
import tomllib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

META_FILES = frozenset({"routes.toml", "source.toml", "expected.json"})
TEMPLATE_SUFFIXES = frozenset(
    {".html", ".htm", ".xml", ".atom", ".rss", ".txt", ".json", ".toml", ".csv", ".css", ""}
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".gz": "application/x-gzip",
    ".pdf": "application/pdf",
}
TEMPLATE_RE = re.compile(rb"\{\{\s*(base|host|lastmod)(?::([^}\s]*))?\s*\}\}")
CHUNK = 64 * 1024


class SiteError(Exception):
    """A site directory or routes file that cannot be served as written."""


# --------------------------------------------------------------------------- records


@dataclass
class RequestRecord:
    """One request as the server saw it, with what it answered."""

    time: float
    method: str
    path: str  # path with query string, as requested
    headers: dict[str, str]  # request headers, names lower-cased
    status: int = 0
    bytes_sent: int = 0  # body bytes written to the socket
    host: str = ""  # the site's address (127.0.0.x)
    client_port: int = 0  # the client's end of the connection: one per TCP connection

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def if_none_match(self) -> str | None:
        return self.headers.get("if-none-match")

    @property
    def if_modified_since(self) -> str | None:
        return self.headers.get("if-modified-since")

    @property
    def conditional(self) -> bool:
        return self.if_none_match is not None or self.if_modified_since is not None


@dataclass
class Reply:
    """What a handler answers. `body` is bytes or an iterable of chunks (streamed as written).

    `length` is the Content-Length sent (None: the real length of bytes bodies, none for streams);
    `chunked` streams with Transfer-Encoding: chunked. A reply with an ETag or Last-Modified header
    and status 200 is checked against the request's conditional headers by the server.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    length: int | None = None
    chunked: bool = False
    close: bool = False


@dataclass
class Exchange:
    """What a handler gets: the request, the site, and the route's parameters."""

    site: Site
    method: str
    path: str  # decoded path, no query
    query: str
    headers: dict[str, str]
    route: dict


Handler = Callable[[Exchange], Reply]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a behaviour under the name used in routes.toml (`handler = "name"`)."""

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


# --------------------------------------------------------------------------- dates and helpers


def parse_date(value: str | datetime) -> datetime:
    """An ISO 8601 string (or datetime) as an aware UTC datetime rounded to whole seconds."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def format_date(moment: datetime, style: str = "") -> str:
    """A date as templates write it: "" ISO 8601 with Z, "date" (2024-03-14), "naive" (no zone,
    as WordPress's `*_gmt` fields), "http" (RFC 9110, as in headers)."""
    if style == "date":
        return moment.date().isoformat()
    if style == "naive":
        return moment.replace(tzinfo=None).isoformat()
    if style == "http":
        return http_date(moment)
    if style:
        raise SiteError(f"unknown date style {style!r} (use date, naive or http)")
    return moment.isoformat().replace("+00:00", "Z")


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def content_type_for(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): If-None-Match ignores the W/ prefix."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _not_modified(request_headers: dict[str, str], reply: Reply) -> bool:
    etag = reply.headers.get("ETag")
    inm = request_headers.get("if-none-match")
    if inm is not None:
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
        return etag is not None and _etag_matches(inm, etag)
    ims = request_headers.get("if-modified-since")
    last_modified = reply.headers.get("Last-Modified")
    if ims is None or last_modified is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


@cache
def compressed_zeros(encoding: str, size: int) -> bytes:
    """`size` bytes of zeros after an HTML prefix, compressed once per process (a bomb's payload)."""
    prefix = b"<!doctype html><html><head><title>Bomb</title></head><body><p>"
    if encoding == "gzip":
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        finish = compressor.flush
        process = compressor.compress
    elif encoding == "br":
        import brotli

        compressor = brotli.Compressor(quality=5)
        finish = compressor.finish
        process = compressor.process
    else:
        raise SiteError(f"unknown bomb encoding {encoding!r}")
    parts = [process(prefix)]
    block = b"\0" * (1 << 20)
    remaining = size - len(prefix)
    while remaining > 0:
        parts.append(process(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(finish())
    return b"".join(parts)


def _sleep(site: Site, seconds: float) -> bool:
    """Sleep, waking early when the site stops; True when the site is still running."""
    return not site.stopping.wait(seconds)


# --------------------------------------------------------------------------- handlers


@handler("file")
def serve_file(ex: Exchange) -> Reply:
    """The file (or a `set_page` body) at the path, with ETag and Last-Modified; 404 if none.

    Route parameters: `file` (serve another path's content), `content_type`, `headers`, `status`,
    and `validators = false` for a server that sends neither ETag nor Last-Modified.
    """
    target = ex.route.get("file", ex.path)
    page = ex.site.page(target)
    if page is None:
        if ex.site.is_directory(target) and not target.endswith("/"):
            return Reply(301, {"Location": target + "/"}, b"")
        return not_found(ex)
    body, content_type, modified = page
    headers = {
        "Content-Type": ex.route.get("content_type", content_type),
        "ETag": strong_etag(body),
        "Last-Modified": http_date(modified),
    }
    if not ex.route.get("validators", True):
        del headers["ETag"], headers["Last-Modified"]
    headers.update(ex.route.get("headers", {}))
    return Reply(int(ex.route.get("status", 200)), headers, body)


def not_found(ex: Exchange) -> Reply:
    body = b"<!doctype html><html><head><title>Page not found</title></head>"
    body += b"<body><h1>Page not found</h1></body></html>"
    return Reply(404, {"Content-Type": "text/html; charset=utf-8"}, body)


@handler("status")
def fixed_status(ex: Exchange) -> Reply:
    """Always answer `status` (e.g. 404, 410, 500) with an optional `body` and `headers`."""
    status = int(ex.route.get("status", 500))
    default = (
        f"<!doctype html><html><head><title>{status}</title></head><body>{status}</body></html>"
    )
    body = str(ex.route.get("body", default)).encode()
    headers = {"Content-Type": ex.route.get("content_type", "text/html; charset=utf-8")}
    if "retry_after" in ex.route:
        headers["Retry-After"] = str(ex.route["retry_after"])
    headers.update(ex.route.get("headers", {}))
    return Reply(status, headers, body)


@handler("fail_first")
def fail_first(ex: Exchange) -> Reply:
    """Answer `status` (default 503) to the first `times` requests, then serve the file.

    For intermittent 503s and 429 + Retry-After (`retry_after = 1`); the count is per site and
    path, reset by `site.reset_state()`.
    """
    seen = ex.site.bump_counter(ex.path)
    if seen <= int(ex.route.get("times", 1)):
        return fixed_status(replace(ex, route={"status": 503, **ex.route}))
    rest = {k: v for k, v in ex.route.items() if k not in ("status", "headers")}
    return serve_file(replace(ex, route=rest))


@handler("redirect")
def redirect(ex: Exchange) -> Reply:
    """Redirect to `to` (a path on this site or an absolute URL) with `status` (default 301)."""
    location = ex.site.render_text(str(ex.route["to"]))
    return Reply(int(ex.route.get("status", 301)), {"Location": location}, b"")


@handler("gzip")
def gzip_encoded(ex: Exchange) -> Reply:
    """The file sent with Content-Encoding: gzip (what most real servers do for HTML)."""
    reply = serve_file(ex)
    if reply.status != 200 or not isinstance(reply.body, bytes):
        return reply
    reply.body = gzip.compress(reply.body, mtime=0)
    reply.headers["Content-Encoding"] = "gzip"
    reply.headers["ETag"] = strong_etag(reply.body)
    reply.headers["Vary"] = "Accept-Encoding"
    return reply


def _bomb(ex: Exchange, encoding: str) -> Reply:
    size = int(float(ex.route.get("size_mb", 200)) * 1024 * 1024)
    body = compressed_zeros(encoding, size)
    headers = {
        "Content-Type": ex.route.get("content_type", "text/html; charset=utf-8"),
        "Content-Encoding": encoding,
        "ETag": strong_etag(body),
        "Last-Modified": http_date(ex.site.last_modified(ex.path)),
    }
    return Reply(200, headers, body)


@handler("gzip_bomb")
def gzip_bomb(ex: Exchange) -> Reply:
    """`size_mb` (default 200) of zeros as a ~200 KB gzip body with Content-Encoding: gzip."""
    return _bomb(ex, "gzip")


@handler("brotli_bomb")
def brotli_bomb(ex: Exchange) -> Reply:
    """`size_mb` (default 200) of zeros as a tiny brotli body with Content-Encoding: br."""
    return _bomb(ex, "br")


def _large_html(size: int) -> Iterator[bytes]:
    head = b"<!doctype html><html><head><title>A very large page</title></head><body>\n"
    tail = b"</body></html>\n"
    para = b"<p>" + b"This paragraph repeats to make a very large page. " * 20 + b"</p>\n"
    yield head
    remaining = size - len(head) - len(tail)
    while remaining > 0:
        piece = para * max(1, CHUNK // len(para))
        piece = piece[:remaining]
        remaining -= len(piece)
        yield piece
    yield tail


@handler("large")
def large_page(ex: Exchange) -> Reply:
    """An HTML page of `size_mb` (default 30) generated while it is sent, with a true Content-Length.

    `declare_length = false` sends it without Content-Length (the size is only known by reading).
    """
    size = int(float(ex.route.get("size_mb", 30)) * 1024 * 1024)
    headers = {"Content-Type": "text/html; charset=utf-8", "ETag": f'"large-{size}"'}
    headers["Last-Modified"] = http_date(ex.site.last_modified(ex.path))
    declare = bool(ex.route.get("declare_length", True))
    return Reply(
        200, headers, _large_html(size), length=size if declare else None, close=not declare
    )


@handler("delay")
def delayed(ex: Exchange) -> Reply:
    """Wait `seconds` before answering at all, then serve the file."""
    _sleep(ex.site, float(ex.route.get("seconds", 5)))
    return serve_file(ex)


def _stalled(site: Site, first: bytes, seconds: float) -> Iterator[bytes]:
    yield first
    if _sleep(site, seconds):
        yield b"</body></html>"


@handler("stall")
def stall(ex: Exchange) -> Reply:
    """Send headers and the first bytes of the body, then stall `seconds` (default 60)."""
    first = b"<!doctype html><html><head><title>Stalled</title></head><body>"
    seconds = float(ex.route.get("seconds", 60))
    total = len(first) + len(b"</body></html>")
    headers = {"Content-Type": "text/html; charset=utf-8"}
    return Reply(200, headers, _stalled(ex.site, first, seconds), length=total)


def _endless(site: Site, interval: float) -> Iterator[bytes]:
    yield b"<!doctype html><html><head><title>Endless</title></head><body>\n"
    number = 0
    while not site.stopping.is_set():
        number += 1
        yield f"<p>Update {number}: the page keeps growing.</p>\n".encode() * 50
        if interval:
            _sleep(site, interval)


@handler("endless")
def endless(ex: Exchange) -> Reply:
    """A chunked response that never ends (until the client hangs up or the site stops)."""
    interval = float(ex.route.get("interval", 0.01))
    headers = {"Content-Type": "text/html; charset=utf-8"}
    return Reply(200, headers, _endless(ex.site, interval), chunked=True)


@handler("content_length_lie")
def content_length_lie(ex: Exchange) -> Reply:
    """The file with a false Content-Length: `declared` bytes (default: twice the real size)."""
    reply = serve_file(ex)
    if reply.status != 200 or not isinstance(reply.body, bytes):
        return reply
    reply.length = int(ex.route.get("declared", 2 * len(reply.body)))
    reply.close = True
    return reply


@handler("wordpress_posts")
def wordpress_posts(ex: Exchange) -> Reply:
    """A WordPress REST `wp/v2/posts` endpoint over the JSON list in `file`, as WordPress pages it.

    Honours `page`, `per_page` (default 10, at most 100), `after` and `modified_after`; newest
    first; X-WP-Total and X-WP-TotalPages headers; a page past the end is WordPress's 400. The
    page numbered `broken_page`, if given, answers 500; `delay` holds every answer that many
    seconds (a slow API, so a site's links reach its posts first).
    """
    if not _sleep(ex.site, float(ex.route.get("delay", 0))):
        return fixed_status(replace(ex, route={"status": 503}))
    page = ex.site.page(str(ex.route["file"]))
    if page is None:
        return not_found(ex)
    posts = sorted(json.loads(page[0]), key=lambda post: post["date_gmt"], reverse=True)
    query = {key: values[-1] for key, values in parse_qs(ex.query).items()}
    for field_name, key in (("after", "date_gmt"), ("modified_after", "modified_gmt")):
        if field_name in query:
            since = parse_date(query[field_name])
            posts = [p for p in posts if parse_date(p[key]) > since]
    try:
        per_page = min(100, max(1, int(query.get("per_page", 10))))
        number = max(1, int(query.get("page", 1)))
    except ValueError:
        return _wp_error("rest_invalid_param", "Invalid parameter(s): page", 400)
    pages = max(1, -(-len(posts) // per_page))
    if number == int(ex.route.get("broken_page", 0)):
        return fixed_status(replace(ex, route={"status": 500}))
    if number > pages:
        message = "The page number requested is larger than the number of pages available."
        return _wp_error("rest_post_invalid_page_number", message, 400)
    chunk = posts[(number - 1) * per_page : number * per_page]
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "X-WP-Total": str(len(posts)),
        "X-WP-TotalPages": str(pages),
    }
    return Reply(200, headers, json.dumps(chunk).encode())


@handler("govuk_search")
def govuk_search(ex: Exchange) -> Reply:
    """A GOV.UK Search API (`/api/search.json`) over the `results` list in the JSON `file`.

    Honours `start` and `count` (default 10), newest `public_timestamp` first, with `total` and
    `start` in the answer as GOV.UK gives them; filters are ignored (a crawler must cope).
    """
    page = ex.site.page(str(ex.route["file"]))
    if page is None:
        return not_found(ex)
    results = json.loads(page[0])["results"]
    results.sort(key=lambda result: result.get("public_timestamp", ""), reverse=True)
    query = {key: values[-1] for key, values in parse_qs(ex.query).items()}
    try:
        start = max(0, int(query.get("start", 0)))
        count = max(0, int(query.get("count", 10)))
    except ValueError:
        return Reply(422, {"Content-Type": "application/json"}, b'{"error": "bad start or count"}')
    answer = {"results": results[start : start + count], "total": len(results), "start": start}
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())


def _wp_error(code: str, message: str, status: int) -> Reply:
    body = json.dumps({"code": code, "message": message, "data": {"status": status}}).encode()
    return Reply(status, {"Content-Type": "application/json; charset=UTF-8"}, body)


# --------------------------------------------------------------------------- the site


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OversightFixture/1.0"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive response waits
    # for a delayed ACK (about 40 ms), which would cap a benchmark at ~25 pages/s.
    disable_nagle_algorithm = True
    site: Site  # set on the per-site subclass

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Silence stderr logging: tests read `site.log` instead."""

    def _answer(self) -> None:
        site = self.site
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = RequestRecord(
            time.time(),
            self.command,
            self.path,
            headers,
            host=site.host,
            client_port=self.client_address[1],
        )
        site._record(record)
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        try:
            reply = site.respond(self.command, path, parts.query, headers)
        except Exception as error:  # a broken fixture must show up as a 500, not a hung test
            message = f"fixture error: {type(error).__name__}: {error}".encode()
            reply = Reply(500, {"Content-Type": "text/plain; charset=utf-8"}, message)
        if (
            reply.status == 200
            and self.command in ("GET", "HEAD")
            and _not_modified(headers, reply)
        ):
            kept = ("ETag", "Last-Modified", "Cache-Control", "Vary")
            reply = Reply(304, {k: v for k, v in reply.headers.items() if k in kept}, b"")
        record.status = reply.status
        try:
            self._send(reply, record)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _send(self, reply: Reply, record: RequestRecord) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        body = reply.body
        no_body = self.command == "HEAD" or reply.status in (204, 304) or reply.status < 200
        if reply.chunked and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.length is not None:
            self.send_header("Content-Length", str(reply.length))
        elif isinstance(body, bytes):
            if reply.status != 304:
                self.send_header("Content-Length", str(len(body)))
        else:
            reply.close = True
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if no_body:
            self.wfile.flush()
            return
        chunks = [body] if isinstance(body, bytes) else body
        for chunk in chunks:
            if not chunk:
                continue
            # Counted before the write, so the record is complete by the time the client has
            # read the body (a test that checks the log right after a fetch must not race).
            record.bytes_sent += len(chunk)
            if reply.chunked:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            else:
                self.wfile.write(chunk)
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up mid-answer (a crawler's size cap, a timeout) is normal here."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Site:
    """One fixture web site served from `root` on `host`:`port` (port 0 picks a free one).

    >>> with Site(Path("tests/sites/news"), host="127.0.0.3") as site:
    ...     urllib.request.urlopen(site.url("/stories/"))
    ...     site.log[-1].user_agent
    """

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = None,
        group: dict[str, Site] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise SiteError(f"{self.root}: not a directory")
        self.name = name or self.root.name
        self.host = host
        self.port = port
        self.group = group if group is not None else {}
        self.group.setdefault(self.name, self)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._counters: dict[str, int] = {}
        self._overlay: dict[str, tuple[bytes | None, str | None, datetime]] = {}
        self._found: dict[str, Path] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._load_routes()

    # ---- lifecycle

    def start(self) -> Site:
        handler_class = type("SiteHandler", (_RequestHandler,), {"site": self})
        self._server = _Server((self.host, self.port), handler_class)
        self.port = self._server.server_address[1]
        self.stopping.clear()
        # A short poll interval makes stop() quick: tests start and stop sites for every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name=f"site-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Site:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    # ---- the request log

    @property
    def log(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        """Logged requests, optionally only those for `path` (compared without the query string)."""
        return [r for r in self.log if path is None or urlsplit(r.path).path == path]

    def paths(self) -> list[str]:
        """Requested paths (with query) in order: repeats show a URL fetched twice."""
        return [r.path for r in self.log]

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    # ---- runtime changes

    def set_page(
        self,
        path: str,
        body: str | bytes,
        last_modified: str | datetime | None = None,
        content_type: str | None = None,
    ) -> datetime:
        """Replace (or add) the content at `path` and move its Last-Modified; returns the new date.

        The date defaults to now, and always moves forward by at least a second, so conditional
        requests and `{{lastmod:path}}` in sitemaps and feeds see the change.
        """
        data = body.encode() if isinstance(body, str) else body
        if last_modified is None:
            moment = parse_date(datetime.now(UTC))
            previous = self.last_modified(path)
            if moment <= previous:
                moment = datetime.fromtimestamp(previous.timestamp() + 1, UTC)
        else:
            moment = parse_date(last_modified)
        with self._lock:
            self._overlay[path] = (data, content_type, moment)
        return moment

    def remove_page(self, path: str) -> None:
        """Make `path` answer 404 from now on (a withdrawn document)."""
        with self._lock:
            self._overlay[path] = (None, None, parse_date(datetime.now(UTC)))

    def set_route(self, path: str, handler: str = "file", **params: object) -> None:
        """Give `path` a behaviour at runtime, as a routes.toml entry would."""
        if handler not in HANDLERS:
            raise SiteError(f"{self.name}: unknown handler {handler!r} for {path}")
        with self._lock:
            self.routes[path] = {"handler": handler, **params}

    def bump_counter(self, key: str) -> int:
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]

    def reset_state(self) -> None:
        """Forget `fail_first` counts, `set_page`/`remove_page` changes and runtime routes."""
        with self._lock:
            self._counters.clear()
            self._overlay.clear()
        self._load_routes()

    # ---- content

    def _load_routes(self) -> None:
        config: dict = {}
        routes_file = self.root / "routes.toml"
        if routes_file.exists():
            try:
                config = tomllib.loads(routes_file.read_text())
            except tomllib.TOMLDecodeError as error:
                raise SiteError(f"{routes_file}: {error}") from error
        site = config.get("site", {})
        self.default_date = parse_date(site["last_modified"]) if "last_modified" in site else None
        self.dates = {path: parse_date(value) for path, value in config.get("dates", {}).items()}
        self.routes: dict[str, dict] = {}
        for path, route in config.get("routes", {}).items():
            name = route.get("handler", "file")
            if name not in HANDLERS:
                raise SiteError(f"{routes_file}: route {path}: unknown handler {name!r}")
            self.routes[path] = dict(route)

    def _file_for(self, path: str) -> Path | None:
        # Found files are remembered (resolving and globbing cost more than serving a page);
        # misses are not, so a file added while the site runs is still found.
        cached = self._found.get(path)
        if cached is not None and cached.is_file():
            return cached
        found = self._find_file(path)
        if found is not None:
            self._found[path] = found
        return found

    def _find_file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        candidate = (self.root / relative).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            return None
        if candidate.is_dir():
            if not path.endswith("/"):
                return None
            indexes = sorted(candidate.glob("index.*"))
            return indexes[0] if indexes else None
        if not candidate.exists() and not path.endswith("/"):
            # Clean URLs: /news/article/slug is served from news/article/slug.html.
            candidate = candidate.with_name(candidate.name + ".html")
        if candidate.is_file() and not (
            candidate.parent == self.root and candidate.name in META_FILES
        ):
            return candidate
        return None

    def is_directory(self, path: str) -> bool:
        return (self.root / path.lstrip("/")).is_dir()

    def page(self, path: str) -> tuple[bytes, str, datetime] | None:
        """The rendered body, content type and Last-Modified at `path`, or None when there is none."""
        with self._lock:
            overlay = self._overlay.get(path)
        if overlay is not None:
            data, content_type, _ = overlay
            if data is None:
                return None
            body = self._render(data)
            guessed = content_type_for(path if not path.endswith("/") else path + "index.html")
            return body, content_type or guessed, self.last_modified(path)
        source = self._file_for(path)
        if source is not None:
            raw = source.read_bytes()
            body = self._render(raw) if source.suffix.lower() in TEMPLATE_SUFFIXES else raw
            return body, content_type_for(source.name), self.last_modified(path, _raw=raw)
        if path.endswith(".gz"):
            inner = self.page(path[:-3])
            if inner is not None:
                return gzip.compress(inner[0], mtime=0), CONTENT_TYPES[".gz"], inner[2]
        return None

    def last_modified(
        self, path: str, _seen: frozenset[str] = frozenset(), _raw: bytes | None = None
    ) -> datetime:
        """The path's own date (set_page, [dates], the site default, the file's mtime), moved forward
        to the newest `{{lastmod:...}}` it refers to, so a sitemap changes when a page it lists does.
        `_raw` is the file's content when the caller has already read it.
        """
        with self._lock:
            overlay = self._overlay.get(path)
        own: datetime | None = overlay[2] if overlay else self.dates.get(path)
        raw: bytes | None = overlay[0] if overlay else None
        source = None if overlay else self._file_for(path)
        if source is None and overlay is None and path.endswith(".gz"):
            return self.last_modified(path[:-3], _seen)
        if own is None:
            if self.default_date is not None:
                own = self.default_date
            elif source is not None:
                own = parse_date(datetime.fromtimestamp(source.stat().st_mtime, UTC))
            else:
                own = datetime(2000, 1, 1, tzinfo=UTC)
        if raw is None and source is not None and source.suffix.lower() in TEMPLATE_SUFFIXES:
            raw = _raw if _raw is not None else source.read_bytes()
        if raw:
            for match in TEMPLATE_RE.finditer(raw):
                if match.group(1) == b"lastmod" and match.group(2):
                    ref = match.group(2).decode().partition("|")[0]
                    if ref not in _seen and ref != path:
                        own = max(own, self.last_modified(ref, _seen | {path}))
        return own

    def template(self, path: str) -> str:
        """The unrendered text at `path` (a set_page body or the file), to edit and set_page back:
        `site.set_page(p, site.template(p).replace(old, new))` keeps its `{{...}}` live."""
        with self._lock:
            overlay = self._overlay.get(path)
        if overlay is not None and overlay[0] is not None:
            return overlay[0].decode()
        source = self._file_for(path)
        if source is None:
            raise SiteError(f"{self.name}: nothing at {path}")
        return source.read_text()

    def render_text(self, text: str) -> str:
        return self._render(text.encode()).decode()

    def _render(self, data: bytes) -> bytes:
        def substitute(match: re.Match[bytes]) -> bytes:
            kind, arg = match.group(1).decode(), (match.group(2) or b"").decode()
            if kind == "lastmod":
                path, _, style = arg.partition("|")
                return format_date(self.last_modified(path), style).encode()
            site = self.group.get(arg) if arg else self
            if site is None:
                raise SiteError(f"{self.name}: template names unknown site {arg!r}")
            return (site.base_url if kind == "base" else site.host).encode()

        return TEMPLATE_RE.sub(substitute, data)

    def route_for(self, path: str, query: str) -> dict:
        with self._lock:
            if query and f"{path}?{query}" in self.routes:
                return self.routes[f"{path}?{query}"]
            return self.routes.get(path, {})

    def respond(self, method: str, path: str, query: str, headers: dict[str, str]) -> Reply:
        route = self.route_for(path, query)
        with self._lock:
            overridden = path in self._overlay
        # A page set at runtime replaces whatever the routes file said about its path.
        name = "file" if overridden else route.get("handler", "file")
        params = {} if overridden else route
        return HANDLERS[name](Exchange(self, method, path, query, headers, params))

    def source_entry(self) -> str:
        """This site's `source.toml` rendered with its address (a sources.toml `[[sources]]` block)."""
        path = self.root / "source.toml"
        if not path.exists():
            raise SiteError(f"{self.root}: no source.toml")
        return self.render_text(path.read_text())

    def expected(self) -> dict:
        """The site's `expected.json` (what a crawl of it should find), or {}."""
        path = self.root / "expected.json"
        return json.loads(self.render_text(path.read_text())) if path.exists() else {}

    def __repr__(self) -> str:
        return f"Site({self.name!r}, {self.base_url})"


@contextlib.contextmanager
def serve_sites(roots: dict[str, Path | str], first_host: int = 2) -> Iterator[dict[str, Site]]:
    """Serve several sites at once, each on its own 127.0.0.x (x from `first_host`), sharing one
    name table so `{{base:name}}` works across them. Yields {name: Site}; stops them all on exit.
    """
    group: dict[str, Site] = {}
    for offset, (name, root) in enumerate(roots.items()):
        Site(root, host=f"127.0.0.{first_host + offset}", name=name, group=group)
    try:
        for site in group.values():
            site.start()
        yield dict(group)
    finally:
        for site in group.values():
            site.stop()


def describe_handlers() -> str:
    """One line per registered behaviour, for documentation and error messages."""
    lines = []
    for name, func in sorted(HANDLERS.items()):
        doc = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        lines.append(f"{name}: {doc}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- hostile behaviours
# Generated bodies for tests/sites/hostile/: too big or too odd to commit as files.


@cache
def _many_links_page(count: int) -> bytes:
    head = b"<!doctype html><html><head><title>A page with very many links</title></head><body>"
    intro = (
        b"<article><p>This page carries a very large number of links to tag pages.</p></article>"
    )
    links = b"".join(b'<a href="/tags/%d/">tag %d</a> ' % (n, n) for n in range(count))
    return head + intro + b"<nav>" + links + b"</nav></body></html>"


@handler("many_links")
def many_links(ex: Exchange) -> Reply:
    """An HTML page with `count` (default 100,000) links to /tags/N/ after one short paragraph."""
    body = _many_links_page(int(ex.route.get("count", 100_000)))
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body)


@cache
def _deep_page(depth: int) -> bytes:
    head = b"<!doctype html><html><head><title>A deeply nested page</title></head><body>"
    intro = b"<p>This sentence comes before ten thousand levels of nesting and must survive.</p>"
    return (
        head
        + intro
        + b"<div>" * depth
        + b"<p>At the bottom.</p>"
        + b"</div>" * depth
        + b"</body></html>"
    )


@handler("deep_nesting")
def deep_nesting(ex: Exchange) -> Reply:
    """An HTML page with one paragraph, then `depth` (default 100,000) nested divs."""
    body = _deep_page(int(ex.route.get("depth", 100_000)))
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body)


@handler("endless_listing")
def endless_listing(ex: Exchange) -> Reply:
    """Listing page N (the last number in the path) linking to page N+1, for ever."""
    numbers = re.findall(r"\d+", ex.path)
    number = int(numbers[-1]) if numbers else 1
    prefix = ex.path[: ex.path.rfind(str(number))] if numbers else ex.path
    following = f"{prefix}{number + 1}/"
    body = (
        f"<!doctype html><html><head><title>Listing page {number}</title></head><body>"
        f'<p>Page {number} of an archive that never ends.</p><a href="{following}">Next</a>'
        "</body></html>"
    ).encode()
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body)


@cache
def _gzip_xml_bomb(base: str, size: int, members: int) -> bytes:
    prefix = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"<url><loc>{base}/cases/from-sitemap-bomb/</loc></url>\n"
    ).encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(prefix)]
    block = b" " * (1 << 20)
    remaining = size - len(prefix)
    while remaining > 0:
        parts.append(compressor.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(compressor.flush())
    # Extra small gzip members make the trailer (the last 4 bytes) declare a tiny size, so only
    # a reader that counts what it inflates notices the real one.
    for _ in range(members - 1):
        parts.append(gzip.compress(b"\n", mtime=0))
    return b"".join(parts)


@handler("gzip_sitemap_bomb")
def gzip_sitemap_bomb(ex: Exchange) -> Reply:
    """A gzipped sitemap file (not Content-Encoding) inflating to `size_mb` (default 100) of XML;
    `members = 2` appends a tiny second gzip member so the trailer's size field lies."""
    size = int(float(ex.route.get("size_mb", 100)) * 1024 * 1024)
    body = _gzip_xml_bomb(ex.site.base_url, size, int(ex.route.get("members", 1)))
    return Reply(200, {"Content-Type": "application/x-gzip"}, body)


@cache
def _pdf_bomb(size: int) -> bytes:
    """A two-page PDF: page 1 has a sentence, page 2's content stream inflates to `size` bytes."""
    compressor = zlib.compressobj(9)
    filler = b"0 0 m\n" * (1 << 17)
    parts = []
    remaining = size
    while remaining > 0:
        parts.append(compressor.compress(filler[: min(remaining, len(filler))]))
        remaining -= len(filler)
    bomb = b"".join(parts) + compressor.flush()
    text = b"BT /F1 12 Tf 72 720 Td (The readable first page of a PDF bomb.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R"
        b" /Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@handler("pdf_bomb")
def pdf_bomb(ex: Exchange) -> Reply:
    """A PDF whose second page's content stream inflates to `size_mb` (default 500) MB."""
    body = _pdf_bomb(int(float(ex.route.get("size_mb", 500)) * 1024 * 1024))
    return Reply(200, {"Content-Type": "application/pdf"}, body)
