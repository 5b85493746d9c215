"""Scheduling: intervals and cron expressions, the crawl loop, and shutdown on SIGTERM."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.schedule import ScheduleError, next_run, parse_every, run_forever
from crawler.sources import Source

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 28, 7, 13, tzinfo=UTC)
HOUR = timedelta(hours=1)


class FakeTime:
    """A clock that only moves when the scheduler sleeps or a crawl takes time."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.slept = 0.0

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


class Crawls:
    """A crawl function that records when it ran and for which sources."""

    def __init__(self, time_: FakeTime, takes: timedelta = timedelta(minutes=5)) -> None:
        self.time = time_
        self.takes = takes
        self.calls: list[tuple[datetime, list[str]]] = []

    def __call__(self, source_ids: list[str]) -> int:
        self.calls.append((self.time.now, list(source_ids)))
        self.time.now += self.takes
        return 0

    def offsets(self) -> list[tuple[timedelta, list[str]]]:
        return [(at - START, ids) for at, ids in self.calls]


def source(source_id: str, every: str | None = None) -> Source:
    return Source(
        id=source_id,
        name=source_id.upper(),
        kind="watchdog",
        homepage=f"http://{source_id}.example/",
        allowed_domains=[f"{source_id}.example"],
        every=every,
    )


# Parsing


@pytest.mark.parametrize(
    "text, seconds",
    [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("1w", 604800), ("1h30m", 5400)],
)
def test_intervals_are_read_in_seconds(text: str, seconds: int) -> None:
    assert parse_every(text).seconds == seconds


@pytest.mark.parametrize("text", ["0 */6 * * *", "30 2 * * 1-5", "@daily"])
def test_cron_expressions_are_accepted(text: str) -> None:
    schedule = parse_every(text)
    assert schedule.cron == text and schedule.seconds is None


@pytest.mark.parametrize("text", ["6 hours", "0m", "", "every day", "61 * * * *"])
def test_nonsense_is_refused_with_the_text_quoted(text: str) -> None:
    with pytest.raises(ScheduleError, match=repr(text).replace("*", r"\*")):
        parse_every(text)


def test_next_run_adds_an_interval_or_finds_the_next_cron_time() -> None:
    assert next_run(parse_every("6h"), START) == START + 6 * HOUR
    assert next_run(parse_every("0 */6 * * *"), START) == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    at_noon = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert next_run(parse_every("0 */6 * * *"), at_noon) == datetime(
        2026, 11, 28, 18, 0, tzinfo=UTC
    )


# The loop, driven by a fake clock and a real crawl function


def test_sources_due_together_are_crawled_in_one_call() -> None:
    time_ = FakeTime()
    crawls = Crawls(time_)
    sources = [source("a", "1h"), source("b", "2h"), source("c")]

    run_forever(
        crawls,
        sources,
        parse_every("3h"),
        jitter=0,
        max_runs=7,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert crawls.offsets() == [
        (0 * HOUR, ["a", "b", "c"]),
        (1 * HOUR, ["a"]),
        (2 * HOUR, ["a", "b"]),
        (3 * HOUR, ["a", "c"]),
        (4 * HOUR, ["a", "b"]),
        (5 * HOUR, ["a"]),
        (6 * HOUR, ["a", "b", "c"]),
    ]


def test_jitter_only_ever_delays_a_crawl_and_does_not_accumulate() -> None:
    time_ = FakeTime()
    crawls = Crawls(time_)

    run_forever(
        crawls,
        [source("a")],
        parse_every("1h"),
        jitter=0.5,
        max_runs=12,
        clock=time_.clock,
        sleep=time_.sleep,
        rng=random.Random(7),
    )

    delays = [offset - k * HOUR for k, (offset, _) in enumerate(crawls.offsets())]
    assert delays[0] == timedelta(0)  # the first crawl starts at once
    assert all(timedelta(0) <= d <= 30 * timedelta(minutes=1) for d in delays)
    assert len(set(delays[1:])) > 5  # the delays really vary


def test_slots_missed_during_a_long_crawl_are_skipped_not_made_up() -> None:
    time_ = FakeTime()
    crawls = Crawls(time_, takes=timedelta(hours=2, minutes=30))

    run_forever(
        crawls,
        [source("a")],
        parse_every("1h"),
        jitter=0,
        max_runs=3,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert [offset for offset, _ in crawls.offsets()] == [0 * HOUR, 3 * HOUR, 6 * HOUR]


def test_cron_sources_wait_for_their_first_fire_time() -> None:
    time_ = FakeTime()
    crawls = Crawls(time_)

    run_forever(
        crawls,
        [source("a")],
        parse_every("0 */6 * * *"),
        jitter=0,
        max_runs=2,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert [at for at, _ in crawls.calls] == [
        datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 28, 18, 0, tzinfo=UTC),
    ]


def test_a_crawl_that_raises_does_not_end_the_schedule(caplog) -> None:
    time_ = FakeTime()
    calls: list[list[str]] = []

    def crawl(ids: list[str]) -> int:
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("the archive was locked")
        return 1

    run_forever(
        crawl,
        [source("a")],
        parse_every("1h"),
        jitter=0,
        max_runs=3,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert len(calls) == 3
    assert "the archive was locked" in caplog.text
    assert "exited with 1" in caplog.text


def test_a_stop_request_during_a_crawl_lets_it_finish_then_stops() -> None:
    time_ = FakeTime()
    stop = threading.Event()
    finished: list[int] = []

    def crawl(ids: list[str]) -> int:
        if len(finished) == 1:
            stop.set()  # as the SIGTERM handler would, mid-crawl
        time_.now += timedelta(minutes=5)
        finished.append(len(finished))
        return 0

    run_forever(
        crawl,
        [source("a")],
        parse_every("1h"),
        jitter=0,
        stop_event=stop,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert finished == [0, 1]


@pytest.mark.parametrize("code", [128 + signal.SIGTERM, 128 + signal.SIGINT, -signal.SIGTERM])
def test_a_crawl_that_was_itself_interrupted_stops_the_loop(code: int) -> None:
    time_ = FakeTime()
    calls: list[list[str]] = []

    def crawl(ids: list[str]) -> int:
        calls.append(ids)
        return code

    run_forever(
        crawl,
        [source("a")],
        parse_every("1h"),
        jitter=0,
        max_runs=5,
        clock=time_.clock,
        sleep=time_.sleep,
    )

    assert len(calls) == 1


def test_a_bad_every_in_a_source_is_refused_naming_the_source() -> None:
    with pytest.raises(ScheduleError, match=r"source 'hmicfrs': field 'every': 'fortnightly'"):
        run_forever(
            lambda ids: 0,
            [source("iopc"), source("hmicfrs", "fortnightly")],
            parse_every("6h"),
            max_runs=1,
        )


# A real process receiving SIGTERM

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from crawler.schedule import parse_every, run_forever
    from crawler.sources import Source

    marks = open(sys.argv[1], "a", buffering=1)

    def crawl(ids):
        marks.write("start " + ",".join(ids) + "\\n")
        time.sleep(float(sys.argv[3]))
        marks.write("end\\n")
        return 0

    source = Source(id="a", name="A", kind="news", homepage="http://a.example/",
                    allowed_domains=["a.example"])
    run_forever(crawl, [source], parse_every(sys.argv[2]), jitter=0)
    marks.write("stopped\\n")
    """
)


def start_scheduler(tmp_path: Path, every: str, crawl_seconds: float):
    marks = tmp_path / "marks.txt"
    marks.touch()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(marks), every, str(crawl_seconds)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, marks


def wait_for(marks: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in marks.read_text():
        assert time.monotonic() < deadline, f"never saw {text!r}: {marks.read_text()!r}"
        time.sleep(0.05)


def test_sigterm_during_a_crawl_lets_it_finish_and_then_exits(tmp_path: Path) -> None:
    process, marks = start_scheduler(tmp_path, every="1s", crawl_seconds=1.5)
    wait_for(marks, "start a")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 0
    assert marks.read_text().splitlines() == ["start a", "end", "stopped"]
    assert "SIGTERM: finishing the current crawl, then stopping" in stderr


def test_sigterm_while_waiting_for_the_next_crawl_exits_at_once(tmp_path: Path) -> None:
    process, marks = start_scheduler(tmp_path, every="1h", crawl_seconds=0)
    wait_for(marks, "end")
    time.sleep(0.3)  # into the wait for the next crawl

    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)

    assert process.returncode == 0
    assert time.monotonic() - sent < 5
    assert marks.read_text().splitlines() == ["start a", "end", "stopped"]


@pytest.fixture
def london(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_cron_time_stays_at_local_wall_clock_time_when_the_clocks_change(london) -> None:
    from crawler.schedule import _local_now

    zone = _local_now().tzinfo
    at = datetime(2027, 3, 27, 12, 0, tzinfo=zone)  # British Summer Time starts on the 28th
    fires = []
    for _ in range(3):
        at = next_run(parse_every("0 6 * * *"), at)
        fires.append(at)
    assert [(f.day, f.hour) for f in fires] == [(28, 6), (29, 6), (30, 6)]
    assert [f.astimezone(UTC).hour for f in fires] == [5, 5, 5]
    # An interval is real time: six hours after 23:00 GMT on the 27th is 06:00 BST.
    evening = datetime(2027, 3, 27, 23, 0, tzinfo=zone)
    assert next_run(parse_every("6h"), evening).astimezone(UTC) == datetime(
        2027, 3, 28, 5, 0, tzinfo=UTC
    )


def test_sources_edited_while_the_loop_runs_are_followed_after_each_crawl() -> None:
    time_ = FakeTime()
    crawls = Crawls(time_)
    versions = iter(
        [
            [source("a", "1h"), source("b", "1h")],  # b added after the first crawl
            [source("b", "1h")],  # then a removed
            ValueError("sources.toml: not valid TOML"),  # then a broken edit: b carries on
        ]
    )

    def reload() -> list[Source]:
        found = next(versions, None)
        if isinstance(found, Exception):
            raise found
        return found or [source("b", "1h")]

    run_forever(
        crawls,
        [source("a", "1h")],
        parse_every("1h"),
        jitter=0,
        max_runs=4,
        clock=time_.clock,
        sleep=time_.sleep,
        reload=reload,
    )

    minutes = timedelta(minutes=1)
    assert crawls.offsets() == [
        (0 * minutes, ["a"]),
        (5 * minutes, ["b"]),  # new: crawled at once, as on start
        (65 * minutes, ["b"]),  # a, removed, is not crawled at 60
        (125 * minutes, ["b"]),  # the broken file changed nothing
    ]
