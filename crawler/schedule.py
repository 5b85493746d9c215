"""Scheduling: `oversight watch` crawls sources again and again, each at its own interval.

Intervals ("30m", "6h", "1d") or cron expressions ("0 */6 * * *") come from `--every` and from each
source's `every` in `sources.toml`. Sources that fall due together are crawled in one run. Start
times get random jitter, only ever later, so a source is never crawled more often than it asks and
many installations do not all knock on a watchdog's door at the top of the hour. SIGTERM or SIGINT
lets the current crawl finish, then stops; a second signal stops at once.
"""

from __future__ import annotations

import logging
import random
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter
from dateutil import tz

log = logging.getLogger("oversight.schedule")

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INTERVAL = re.compile(r"(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+", re.IGNORECASE)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
#: Sources due within this many seconds of each other are crawled in the same run.
COALESCE_SECONDS = 60.0
#: Longest single sleep, so a changed wall clock (suspend, NTP step) is noticed within a minute.
MAX_NAP_SECONDS = 60.0
#: Exit codes of a crawl that was itself stopped by SIGINT or SIGTERM (as a shell reports it, or
#: as `subprocess` reports a child killed by the signal): the loop stops too.
INTERRUPTED_CODES = (
    128 + signal.SIGINT,
    128 + signal.SIGTERM,
    -signal.SIGINT,
    -signal.SIGTERM,
)


class ScheduleError(ValueError):
    """An interval or cron expression that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval (`seconds`) or a cron expression (`cron`), as the user wrote it."""

    text: str
    seconds: float | None = None
    cron: str | None = None

    def __str__(self) -> str:
        return self.text


class HasEvery(Protocol):
    id: str
    every: str | None


def parse_every(text: str) -> Schedule:
    """Read "90s", "30m", "6h", "1d", "2w", "1h30m", or a cron expression ("0 */6 * * *", "@daily")."""
    cleaned = text.strip()
    if _INTERVAL.fullmatch(cleaned):
        seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _PART.findall(cleaned))
        if seconds <= 0:
            raise ScheduleError(f"{text!r}: an interval must be longer than zero")
        return Schedule(text=cleaned, seconds=seconds)
    if croniter.is_valid(cleaned):
        return Schedule(text=cleaned, cron=cleaned)
    raise ScheduleError(
        f"{text!r}: expected an interval such as 30m, 6h, 1d or a cron expression such as"
        " '0 */6 * * *'"
    )


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first time strictly after `after` that `schedule` calls for (in `after`'s time zone)."""
    if schedule.seconds is not None:
        # Counted in real time: six hours stay six hours when the clocks change.
        return (after.astimezone(UTC) + timedelta(seconds=schedule.seconds)).astimezone(
            after.tzinfo
        )
    return croniter(schedule.cron, after).get_next(datetime)


def _local_now() -> datetime:
    # Cron expressions mean local wall-clock time, as they do for cron itself, under the local
    # zone's own rules (a fixed offset, as `astimezone()` gives, would move 06:00 to 07:00 the
    # day the clocks go forward).
    return datetime.now(tz.tzlocal())


def run_forever(
    crawl: Callable[[list[str]], int],
    sources: Sequence[HasEvery],
    every: Schedule,
    jitter: float = 0.1,
    stop_event: threading.Event | None = None,
    max_runs: int | None = None,
    clock: Callable[[], datetime] = _local_now,
    sleep: Callable[[float], object] | None = None,
    rng: random.Random | None = None,
    reload: Callable[[], Sequence[HasEvery]] | None = None,
) -> None:
    """Crawl `sources` on their schedules until stopped.

    Each source follows its own `every` when it has one, else `every`. Interval sources are crawled
    at once on start, cron sources at their first fire time. Whenever sources fall due, the loop
    waits a random 0..`jitter` share of the shortest due interval, then calls `crawl(source_ids)`
    once with every source due by then (or within COALESCE_SECONDS). A crawl that raises or exits
    non-zero is logged and the loop goes on: an unattended schedule must outlive one bad run.
    The next time of each source counts from its scheduled time, not from when the crawl ended,
    so jitter and crawl length do not make it drift; slots missed while a crawl ran are skipped,
    not made up in a burst.

    `reload`, called after each crawl, gives the sources as they are now (sources.toml edited
    while the loop runs): a new source is scheduled from then, a removed one dropped, a changed
    `every` followed from its next time. When it raises, the loop logs why and keeps the list it has.

    Stops after `max_runs` crawls, when `stop_event` is set, or on SIGTERM/SIGINT (handled when
    called from the main thread), always between crawls. `clock` and `sleep` are for tests:
    `sleep(seconds)` must let time pass; the default waits on the stop event, so a signal wakes it.
    """
    _ensure_stderr_logging()
    if not sources:
        log.warning("no sources to crawl; nothing to schedule")
        return
    stop = stop_event or threading.Event()
    nap = sleep if sleep is not None else stop.wait
    rng = rng or random.Random()
    plans = {s.id: _schedule_of(s, every) for s in sources}
    order = [s.id for s in sources]
    start = clock()
    anchors = {
        sid: start if plan.seconds is not None else next_run(plan, start)
        for sid, plan in plans.items()
    }
    runs = 0
    with _stop_on_signals(stop) as rearm:
        while not stop.is_set():
            now = clock()
            earliest = min(anchors.values())
            if earliest > now:
                log.info(
                    "next crawl at %s (%s)",
                    earliest.isoformat(timespec="seconds"),
                    ", ".join(sid for sid in order if anchors[sid] == earliest),
                )
                _wait_until(earliest, clock, nap, stop)
                continue
            if jitter > 0 and earliest != start:
                shortest = min(
                    _period(plans[sid], anchors[sid]) for sid in order if anchors[sid] <= now
                )
                _wait_until(now + shortest * rng.uniform(0, jitter), clock, nap, stop)
                if stop.is_set():
                    break
            horizon = clock() + timedelta(seconds=COALESCE_SECONDS)
            due = [sid for sid in order if anchors[sid] <= horizon]
            runs += 1
            code = _crawl_once(crawl, due, runs)
            rearm()
            finished = clock()
            for sid in due:
                anchors[sid] = _following(plans[sid], anchors[sid], finished)
            if reload is not None:
                order = _reloaded(reload, every, plans, anchors, order, finished)
            if code in INTERRUPTED_CODES:
                log.warning("the crawl was interrupted (exit %s); stopping", code)
                stop.set()
            if max_runs is not None and runs >= max_runs:
                break
    log.info("scheduler stopped after %d crawl(s)", runs)


def _reloaded(
    reload: Callable[[], Sequence[HasEvery]],
    every: Schedule,
    plans: dict[str, Schedule],
    anchors: dict[str, datetime],
    order: list[str],
    now: datetime,
) -> list[str]:
    """Bring `plans` and `anchors` in line with the sources as they are now; the new order."""
    try:
        current = {s.id: _schedule_of(s, every) for s in reload()}
    except Exception as exc:
        log.error("sources could not be reloaded, keeping the last good list: %s", exc)
        return order
    if not current:
        log.error("the reloaded sources list is empty, keeping the last good list")
        return order
    for sid in set(plans) - set(current):
        log.warning("source %s is no longer listed: no longer scheduled", sid)
        del plans[sid], anchors[sid]
    for sid, plan in current.items():
        if sid not in plans:
            log.warning("source %s is new: scheduled from now", sid)
            anchors[sid] = now if plan.seconds is not None else next_run(plan, now)
        elif plan != plans[sid]:
            anchors[sid] = next_run(plan, now)
        plans[sid] = plan
    return list(current)


def _schedule_of(source: HasEvery, default: Schedule) -> Schedule:
    if not source.every:
        return default
    try:
        return parse_every(source.every)
    except ScheduleError as exc:
        raise ScheduleError(f"source '{source.id}': field 'every': {exc}") from None


def _period(plan: Schedule, at: datetime) -> timedelta:
    return next_run(plan, at) - at


def _following(plan: Schedule, anchor: datetime, finished: datetime) -> datetime:
    """The next scheduled time after `anchor` that is still in the future once the crawl ended."""
    upcoming = next_run(plan, anchor)
    if upcoming <= finished:
        upcoming = next_run(plan, finished) if plan.cron else _skip_missed(plan, upcoming, finished)
    return upcoming


def _skip_missed(plan: Schedule, upcoming: datetime, finished: datetime) -> datetime:
    step = timedelta(seconds=plan.seconds or 0)
    missed = int((finished - upcoming) / step) + 1
    return upcoming + missed * step


def _crawl_once(crawl: Callable[[list[str]], int], due: list[str], number: int) -> int | None:
    log.info("crawl %d: %s", number, ", ".join(due))
    try:
        code = crawl(due)
    except Exception:
        log.exception("crawl %d of %s raised; the schedule goes on", number, ", ".join(due))
        return None
    if code:
        log.warning("crawl %d of %s exited with %s", number, ", ".join(due), code)
    else:
        log.info("crawl %d finished", number)
    return code


def _wait_until(
    moment: datetime,
    clock: Callable[[], datetime],
    nap: Callable[[float], object],
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        remaining = (moment - clock()).total_seconds()
        if remaining <= 0:
            return
        nap(min(remaining, MAX_NAP_SECONDS))


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[Callable[[], None]]:
    """SIGTERM/SIGINT set `stop` (the loop ends after the current crawl); a second one stops now.

    Yields a function that installs the handlers again, for after a crawl that ran something
    (an in-process Scrapy, say) which put in its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def handle(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("%s again: stopping now", name)
            raise KeyboardInterrupt
        log.warning("%s: finishing the current crawl, then stopping", name)
        stop.set()

    def rearm() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handle)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield rearm
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ensure_stderr_logging() -> None:
    """Log to stderr when nobody configured logging, so an unattended loop is never mute."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
