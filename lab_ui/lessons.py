"""Every lesson's default experiment, trained once and shipped with the repository in the result store's
format (data/lessons/): a page opens with its default drawn at once, and ▶ on the default settings shows
it instead of training, which is what makes multi-seed defaults affordable for a class on a small server.

`python -m lab_ui.lessons` regenerates them all (and the home page's stored comparison); a test checks
that each page's default request is in the store, so a changed default cannot go stale unnoticed.
"""

from __future__ import annotations

import sys
import time

from bn_demo.serving.jobs import JobRegistry
from bn_demo.serving.store import LESSONS, ResultStore
from lab_ui import examples, experiments, papers
from lab_ui.live import TORCH_THREADS_PER_JOB, Request
from lab_ui.params import defaults
from lab_ui.sweep_view import BATCH_LESSON, INIT_LESSON, LR_LESSON

STORE_MB = 200  # on disk, for all lessons together


def default_requests() -> dict[str, Request]:
    """Lesson -> the request its page makes at its default settings (page 7: one per experiment)."""
    research = defaults(papers.RESEARCH_PARAMS)
    return {
        "train": experiments.default_job("train"),
        "ics": experiments.default_job("ics"),
        **{lesson.page: lesson.request(lesson.defaults()) for lesson in (LR_LESSON, INIT_LESSON, BATCH_LESSON)},
        "ioffe": papers.ioffe_job(defaults(papers.IOFFE_PARAMS)),
        **{
            f"research:{name}": papers.research_job({**research, "experiment": name})
            for name in papers.EXPERIMENT_TITLES
        },
        "regularisation": experiments.default_job("regularisation"),
    }


def missing(store: ResultStore | None = None) -> list[str]:
    """Lessons whose default result is not in the store."""
    store = store or ResultStore.lessons()
    return [name for name, request in default_requests().items() if request.key not in store]


def regenerate(only_missing: bool = True) -> None:
    """Train the lessons' defaults (two at a time, one torch thread each) into data/lessons/."""
    store = ResultStore(LESSONS, max_bytes=STORE_MB * 2**20)
    registry = JobRegistry(stores=[store], threads_per_job=TORCH_THREADS_PER_JOB, max_queued=100)
    requests = default_requests()
    names = missing(store) if only_missing else list(requests)
    started = time.perf_counter()
    jobs = {name: registry.submit(requests[name].key, requests[name].work, requests[name].total) for name in names}
    for name, job in jobs.items():
        status = job.wait()
        print(f"{name}: {status.state} in {status.elapsed:.0f} s", file=sys.stderr)
    examples.regenerate()
    took, size = time.perf_counter() - started, store.size() / 2**20
    print(f"{len(jobs)} lessons in {took:.0f} s; the lessons' store holds {size:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    regenerate(only_missing="--all" not in sys.argv[1:])
