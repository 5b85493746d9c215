"""The README's hostile-web report: cases tried and passed, kills survived, rows lost, peak memory
under the bombs, and Datasette read latency under write load against idle.

Run as a script from the repository root: `.venv/bin/python tests/benchmarks/bench_hostile.py`
(`--kills N` for more or fewer kills; default 10). It reuses the test modules' harnesses:
tests/test_hostile.py (one crawl of tests/sites/hostile/ in a child process, peak RSS by
os.wait4), tests/test_kills.py (SIGKILL at random points, invariants after each) and
tests/test_readers_during_writes.py (a reader process against `oversight serve`'s app).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def hostile_cases(workdir: Path) -> dict:
    from tests.test_hostile import CASES, check_case, run_hostile_crawl

    report: dict = {"failed": []}
    for crawl in run_hostile_crawl(workdir, first_host=121):
        report["tried"] = len(CASES)
        passed = 0
        for case in crawl.cases:
            try:
                check_case(crawl, case)
                passed += 1
            except AssertionError as error:
                report["failed"].append(f"{case['id']}: {str(error).splitlines()[0][:160]}")
        report["passed"] = passed
        report["peak_mb"] = crawl.run.peak_rss_mb
        report["seconds"] = crawl.run.seconds
        report["status"] = crawl.run.result.get("status")
    return report


def kills(workdir: Path, count: int) -> dict:
    from crawler.demo import sources_toml_for
    from crawler.siteserver import Site
    from tests.test_kills import KillLog, build_site, run_kill_loop

    log = KillLog()
    started = time.monotonic()
    phases = (("crawl", count - 2 * (count // 3)), ("extraction", count // 3))
    phases += (("extract-command", count // 3),)
    for number, (phase, times) in enumerate(phases):
        if not times:
            continue
        folder = workdir / f"kills-{phase}"
        root = build_site(folder / "site")
        with Site(root, host=f"127.0.0.{131 + number}") as site:
            sources = folder / "sources.toml"
            sources.write_text(sources_toml_for([site]))
            db = folder / "archive.db"
            if phase == "extract-command":
                import subprocess

                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "crawler.cli",
                        "crawl",
                        "--no-extract",
                        "--sources",
                        str(sources),
                        "--db",
                        str(db),
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    check=True,
                )
            run_kill_loop(site, sources, db, times, 100 + number, log, phase)
    return {
        "kills": log.kills,
        "restarts": log.restarts,
        "lost": log.rows_lost,
        "seconds": time.monotonic() - started,
    }


def reads(workdir: Path) -> dict:
    from tests.test_readers_during_writes import measure_reads_during_writes

    return measure_reads_during_writes(workdir, host=141).summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (benchmarks run inside the project workspace)")
        return 0
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = Path(tmp)
        (work / "h").mkdir()
        (work / "r").mkdir()
        hostile = hostile_cases(work / "h")
        killed = kills(work, args.kills)
        latency = reads(work / "r")
    ratio_p50 = latency["writing_p50_ms"] / latency["idle_p50_ms"]
    ratio_p95 = latency["writing_p95_ms"] / latency["idle_p95_ms"]
    print()
    print("| measure | result |")
    print("| --- | --- |")
    print(f"| hostile cases tried | {hostile['tried']} |")
    print(f"| hostile cases passed | {hostile['passed']} (run status: {hostile['status']}) |")
    print(
        f"| kills survived (SIGKILL + restart) | {killed['kills']} ({killed['restarts']} restarts) |"
    )
    print(f"| rows lost | {killed['lost']} |")
    print(
        f"| peak memory of the crawl under the bombs | {hostile['peak_mb']:.0f} MB (limit 600 MB) |"
    )
    print(
        f"| read latency idle, p50 / p95 | {latency['idle_p50_ms']:.1f} / "
        f"{latency['idle_p95_ms']:.1f} ms ({latency['idle_requests']} requests) |"
    )
    print(
        f"| read latency under write load, p50 / p95 | {latency['writing_p50_ms']:.1f} / "
        f"{latency['writing_p95_ms']:.1f} ms ({latency['writing_requests']} requests; "
        f"{ratio_p50:.2f}x / {ratio_p95:.2f}x idle) |"
    )
    print(f"| `database is locked` / failed reads | {latency['locked']} / {latency['errors']} |")
    if hostile["failed"]:
        print("\ncases not passing:")
        for line in hostile["failed"]:
            print("  -", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
