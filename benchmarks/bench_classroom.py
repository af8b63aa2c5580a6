"""A class on one server: `streamlit run app.py` pinned to core 0 (`taskset`), N students driven from core 1
by a light client of Streamlit's own websocket protocol (what the browser sends: the page and its query
string, button clicks, the fragments' timed reruns; nothing is rendered, so a "chart" is the moment its
message arrives). Scenarios, each on a fresh server with an empty result store:

- defaults: every student opens Train & compare on the defaults and presses ▶ Train (the lesson's stored
  default: nothing trains);
- shared: every student presses ▶ Train on the same new settings (one shared job of 2,000 steps);
- distinct: every student trains a different seed (N jobs; past the queue, "server busy", retried);
- mixed: every student watches one shared run of 3,000 steps, then two thirds start distinct runs, half of
  them sweeps.

Printed per scenario and N: the server's RSS after the first lesson loaded torch and MNIST (baseline),
its peak, and its RSS after the students left (sessions are dropped 15 s after they disconnect:
--server.disconnectedSessionTTL 15); the server's CPU per watcher-second while a job trains, training excluded (the
job threads' own CPU, from /proc); the 50th/95th percentile of the time from ▶ Train to the first chart and to
the finished result; the shared job's own duration against N = 1; errors. Other processes using the cores
make the times noisy.

    python benchmarks/bench_classroom.py [--sizes 1 10 30] [--scenarios NAME ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, CLIENT_CORE = "0", "1"
SESSION_TTL = 15  # seconds a disconnected session is kept (Streamlit's default is 120)
TRAIN_PAGE, SWEEP_PAGE = "Train_and_compare", "Learning_rate_sensitivity"
FINISHED = re.compile(r"Finished in ([\d.]+) s")
CLIENT_TIMEOUT = 1200.0
SHARED_STEPS = 3000  # the run everyone watches in the mixed scenario: long enough to time its speed
SHARED_QUERY = "seed=7&steps=2000"  # the shared scenario's run: not a stored lesson default
ALERT_ERROR, ALERT_WARNING = 1, 2


def pages_done(text: str) -> bool:
    return FINISHED.search(text) is not None


@dataclass
class Student:
    """One browser tab: a websocket session on one page, pressing one button and watching."""

    url: str
    page: str
    query: str
    buttons: dict[str, str] = field(default_factory=dict)  # user key -> widget id
    page_hash: str = ""
    pressed: float | None = None
    first_chart: float | None = None
    finished: float | None = None
    own_seconds: float | None = None
    errors: list[str] = field(default_factory=list)
    busy: bool = False
    busy_count: int = 0
    script_done: asyncio.Event = field(default_factory=asyncio.Event)
    timers: dict[str, asyncio.Task] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    ws: object = None

    async def open(self) -> None:
        origin = self.url.replace("ws://", "http://").split("/_stcore")[0]
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], origin=origin, max_size=None)
        self.reader = asyncio.create_task(self.read())
        await self.rerun()
        await asyncio.wait_for(self.script_done.wait(), 300)

    async def rerun(self, trigger: str | None = None, fragment: str | None = None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_name, state.page_script_hash = self.query, self.page, self.page_hash
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = self.buttons[trigger], True
        if fragment is not None:
            state.fragment_id, state.is_auto_rerun = fragment, True
        else:
            self.script_done.clear()
        await self.ws.send(msg.SerializeToString())

    async def press(self, key: str = "run") -> None:
        if self.pressed is None:
            self.pressed = time.perf_counter()
        self.busy = False
        await self.rerun(trigger=key)

    async def read(self) -> None:
        try:
            async for data in self.ws:
                self.handle(data)
        except websockets.ConnectionClosed:
            pass

    def handle(self, data: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "navigation":
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "new_session" and not msg.metadata.run.fragment_ids:
            self.stop_timers()  # a full run: as the browser does, it registers its fragments' timers anew
        elif kind == "script_finished":
            self.script_done.set()
        elif kind == "auto_rerun":
            self.start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment in msg.stop_auto_rerun.fragment_ids:
                self.stop_timer(fragment)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.element(msg.delta.new_element)

    def element(self, element) -> None:
        kind = element.WhichOneof("type")
        now = time.perf_counter()
        if kind == "button":
            self.buttons[element.button.id.rsplit("-", 1)[-1]] = element.button.id
        elif kind == "plotly_chart" and self.pressed is not None and self.first_chart is None:
            self.first_chart = now
        elif kind == "markdown" and self.pressed is not None and self.finished is None:
            found = FINISHED.search(element.markdown.body)
            if found:
                self.finished, self.own_seconds = now, float(found.group(1))
        elif kind == "exception":
            self.errors.append(element.exception.message[:200])
        elif kind == "alert":
            if element.alert.format == ALERT_ERROR:
                self.errors.append(element.alert.body[:200])
            elif "server is busy" in element.alert.body:
                self.busy, self.busy_count = True, self.busy_count + 1

    def start_timer(self, fragment: str, interval: float) -> None:
        """As the browser does: a fragment's timer is replaced only if its interval changed."""
        if fragment in self.timers and self.intervals.get(fragment) == interval:
            return
        self.stop_timer(fragment)
        self.intervals[fragment] = interval

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                await self.rerun(fragment=fragment)

        self.timers[fragment] = asyncio.create_task(tick())

    def stop_timer(self, fragment: str) -> None:
        task = self.timers.pop(fragment, None)
        if task is not None:
            task.cancel()

    def stop_timers(self) -> None:
        for fragment in list(self.timers):
            self.stop_timer(fragment)

    async def train_until_finished(self, deadline: float) -> None:
        """Press ▶ Train; when told the server is busy, press again 10 s later, as a student would."""
        await self.press()
        while self.finished is None and not self.errors and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
            if self.busy:
                await asyncio.sleep(10)
                await self.press()

    async def close(self) -> None:
        self.stop_timers()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.reader.cancel()


class Server:
    """`streamlit run app.py` on core 0 with an empty result store; RSS and CPU read from /proc."""

    def __init__(self, port: int) -> None:
        self.port, self.store = port, tempfile.mkdtemp(prefix="bn_bench_store_")
        cmd = [
            "taskset", "-c", SERVER_CORE, sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.disconnectedSessionTTL", str(SESSION_TTL), "--server.fileWatcherType", "none",
        ]  # fmt: skip
        env = {**os.environ, "BN_DEMO_STORE": self.store}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(600):
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    return
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/_stcore/stream"

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    def cpu(self) -> tuple[float, float]:
        """(all the server's CPU seconds, those of its job threads)."""
        tick = os.sysconf("SC_CLK_TCK")

        def seconds(path: str) -> float:
            with open(path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick

        jobs = 0.0
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            with contextlib.suppress(OSError):
                with open(f"/proc/{self.proc.pid}/task/{tid}/comm") as f:
                    if f.read().startswith("bn-job"):
                        jobs += seconds(f"/proc/{self.proc.pid}/task/{tid}/stat")
        return seconds(f"/proc/{self.proc.pid}/stat"), jobs

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc.kill()


class Sampler:
    """The server's RSS and CPU (all of it, and its job threads'), every 0.25 s, in a thread of its own."""

    def __init__(self, server: Server) -> None:
        self.server, self.samples, self.running = server, [], True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            with contextlib.suppress(OSError, StopIteration):
                self.samples.append((time.perf_counter(), self.server.rss_mb(), *self.server.cpu()))
            time.sleep(0.25)

    def stop(self) -> None:
        self.running = False
        self.thread.join()

    @property
    def peak(self) -> float:
        return max(s[1] for s in self.samples)

    def cpu_per_watcher_second(self, students: list[Student]) -> float:
        """Server CPU, the job threads' excluded, per second of each student watching, over the moments a
        job was training (its threads used CPU)."""
        cpu = watched = 0.0
        for (t0, _, all0, jobs0), (t1, _, all1, jobs1) in itertools.pairwise(self.samples):
            watchers = sum(s.pressed is not None and s.pressed <= t0 and (s.finished or t1) >= t1 for s in students)
            if jobs1 > jobs0 and watchers:
                cpu += (all1 - all0) - (jobs1 - jobs0)
                watched += watchers * (t1 - t0)
        return cpu / watched if watched else float("nan")


def percentiles(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    q = statistics.quantiles(values, n=20, method="inclusive")
    return f"{statistics.median(values):.1f} / {q[18]:.1f}"


async def watch_phase(students: list[Student], timeout: float = CLIENT_TIMEOUT) -> None:
    deadline = time.perf_counter() + timeout
    await asyncio.gather(*(s.train_until_finished(deadline) for s in students))


def plan(scenario: str, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(page, query) of every student in the first phase, and of those who start runs in the second."""
    if scenario == "defaults":
        return [(TRAIN_PAGE, "")] * n, []
    if scenario == "shared":
        return [(TRAIN_PAGE, SHARED_QUERY)] * n, []
    if scenario == "distinct":
        return [(TRAIN_PAGE, f"seed={i + 1}") for i in range(n)], []
    starters = round(2 * n / 3)
    second = [(SWEEP_PAGE, f"seed={i + 1}") if i % 2 else (TRAIN_PAGE, f"seed={i + 101}") for i in range(starters)]
    return [(TRAIN_PAGE, f"seed=7&steps={SHARED_STEPS}")] * n, second


async def run_scenario(scenario: str, n: int, port: int) -> dict:
    server = Server(port)
    try:
        warm = Student(server.url, TRAIN_PAGE, "")
        await warm.open()  # the first lesson: torch and MNIST loaded
        await warm.close()
        await asyncio.sleep(2)
        baseline = server.rss_mb()
        sampler = Sampler(server)
        first, second = plan(scenario, n)
        students = [Student(server.url, page, query) for page, query in first]
        await asyncio.gather(*(s.open() for s in students))
        t0 = time.perf_counter()
        await watch_phase(students)
        later = []
        for student, (page, query) in zip(students, second, strict=False):
            await student.close()
            later.append(Student(server.url, page, query))
        if later:
            await asyncio.gather(*(s.open() for s in later))
            await watch_phase(later)
        t1 = time.perf_counter()
        everyone = students + later
        for s in everyone:
            await s.close()
        sampler.stop()
        await asyncio.sleep(SESSION_TTL + 10)  # sessions expire, jobs have ended
        after = server.rss_mb()
        shared = [s.own_seconds for s in students if s.own_seconds is not None]
        return {
            "scenario": scenario,
            "n": n,
            "baseline_mb": baseline,
            "peak_mb": sampler.peak,
            "after_mb": after,
            "cpu_per_watcher_s": sampler.cpu_per_watcher_second(everyone),
            "training_cpu_s": sampler.samples[-1][3] - sampler.samples[0][3],
            "first_chart": [s.first_chart - s.pressed for s in everyone if s.first_chart and s.pressed],
            "finished": [s.finished - s.pressed for s in everyone if s.finished and s.pressed],
            "unfinished": sum(s.finished is None for s in everyone),
            "shared_job_seconds": statistics.median(shared) if scenario != "distinct" and shared else None,
            "busy_retries": sum(s.busy_count for s in everyone),
            "errors": [e for s in everyone for e in s.errors],
            "wall_s": t1 - t0,
        }
    finally:
        server.stop()


def table(results: list[dict]) -> str:
    solo = {r["scenario"]: r["shared_job_seconds"] for r in results if r["n"] == 1}
    head = (
        "| scenario | N | RSS baseline | peak | after leaving | server CPU per watcher-second | first chart p50 / p95 "
        "| finished p50 / p95 | shared job vs N = 1 | busy, retried | errors |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        shared, cpu = r["shared_job_seconds"], r["cpu_per_watcher_s"]
        cpu_text = "–" if cpu != cpu else f"{cpu:.4f} s"  # NaN: nothing trained
        ratio = f"{shared:.1f} s ({shared / solo[r['scenario']]:.2f}×)" if shared and solo.get(r["scenario"]) else "–"
        lines.append(
            f"| {r['scenario']} | {r['n']} | {r['baseline_mb']:.0f} MB | +{r['peak_mb'] - r['baseline_mb']:.0f} MB "
            f"| {r['after_mb'] - r['baseline_mb']:+.0f} MB | {cpu_text} "
            f"| {percentiles(r['first_chart'])} s | {percentiles(r['finished'])} s | {ratio} "
            f"| {r['busy_retries']} | {len(r['errors']) + r['unfinished']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--scenarios", nargs="+", default=["defaults", "shared", "distinct", "mixed"])
    parser.add_argument("--port", type=int, default=8631)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(CLIENT_CORE)})
    results = []
    for scenario in args.scenarios:
        for n in args.sizes:
            result = asyncio.run(run_scenario(scenario, n, args.port))
            results.append(result)
            print(f"{scenario} N={n}: {json.dumps({k: v for k, v in result.items() if not isinstance(v, list)})}")
            for error in result["errors"][:3]:
                print(f"   error: {error}")
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
