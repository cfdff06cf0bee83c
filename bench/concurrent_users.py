"""Times 50 simulated users scoring and saving cases at once against PostgreSQL on loopback.

Run from the project folder: ``.venv/bin/python bench/concurrent_users.py`` (``--help`` for the
options). Issue 6's target: p95 < 200 ms per save with 50 concurrent users.

Each user opens their case, changes one answer through ``services.save_answer`` (which validates
it, saves it and recomputes the case's caseload figures and flag history), and records a new
session every few saves through ``services.record_session``: a fixed number of saves, stopped
early at a time limit. Users have a case each unless ``--shared`` makes them share a few cases;
then some saves are refused as stale (the user takes the stored revision, as the page does).

The users run as threads of one process, as the sessions of one Streamlit server do, and then
as threads spread over several processes, as several servers behind one address would be. The
setup and every run happen in forked child processes, so each engine and its connection pool is
made in the process that uses it. A throwaway PostgreSQL server is started in a temporary folder
and stopped at the end, as ``scripts/test`` does, unless ``--database-url`` names a server (a
database is then created on it for the run and dropped after).

The script also reports where a save's time goes, by timing the service's steps and the pool's
check-outs from inside the run, and how much CPU the app's processes and the PostgreSQL server
used per save: on a machine with few cores, that is what bounds the throughput.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring import services  # noqa: E402
from tailoring.demo import demo_cases  # noqa: E402
from tailoring.model.actor import Actor  # noqa: E402
from tailoring.model.case import Case  # noqa: E402
from tailoring.storage import db  # noqa: E402
from tailoring.storage.audit import AuditLog  # noqa: E402
from tailoring.storage.caseload import CaseloadRepository  # noqa: E402
from tailoring.storage.cases import CaseRepository  # noqa: E402
from tailoring.storage.sessions import SessionRepository  # noqa: E402
from tests.store import app_store  # noqa: E402

TARGET_P95_MS = 200.0
# The steps of a save, timed where services calls them: (where, name, label).
STEPS: tuple[tuple[Any, str, str], ...] = (
    (CaseRepository, "owner", "access check"),
    (AuditLog, "record", "audit log"),
    (CaseRepository, "save_answer", "store answer"),
    (SessionRepository, "save_session", "store session"),
    (CaseRepository, "get", "load case"),
    (services.figures, "assess", "assess"),
    (services.sessions, "assess", "assess"),
    (services.figures, "case_metrics", "caseload figures"),
    (CaseloadRepository, "save_figures", "store figures and flags"),
)
# Timed inside the steps above, so not added to them.
POOL_CHECKOUT = "pool check-out"


# A PostgreSQL server for the run ---------------------------------------------------------------


@contextmanager
def throwaway_postgres() -> Iterator[tuple[str, Path]]:
    """Start PostgreSQL in a temporary folder; yield its URL and data folder; stop it after."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        sys.exit("PostgreSQL is not installed: apt-get install -y postgresql (or --database-url)")
    bin_dir = found[-1]
    folder = Path(tempfile.mkdtemp(prefix="tailoring-bench-pg."))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def pg(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, stdout=subprocess.DEVNULL)

    try:
        pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        log = str(folder / "log")
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", log, "-o", options, "-w", "start")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on the server for this run; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"tailoring_bench_{uuid.uuid4().hex[:12]}"

    def execute(statement: str) -> None:
        # Connect only for the statement: the processes forked meanwhile inherit no connection.
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(statement))

    execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_cpu_seconds(data: Path | None) -> float | None:
    """CPU seconds the PostgreSQL server has used so far: the postmaster, the backends it has
    reaped (its children's times) and the backends alive now. None for a server not ours."""
    if data is None:
        return None
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (busy time, all cores)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# The cases and what the users change --------------------------------------------------------


def changes_from(donor: Case) -> list[tuple[str, str, dict[str, Any]]]:
    """The answers of another invented case: (section, item, answer) for a user to save."""
    return [
        (section, item_id, answer.model_dump(mode="json"))
        for section in ("preferences", "social", "alliance")
        for item_id, answer in getattr(donor.answers, section).items()
    ]


def next_session(case: Case) -> dict[str, Any]:
    """A new attended session a week after the case's last one, with its measures repeated."""
    if not case.sessions:
        return {"number": 1, "date": "2026-01-05", "attendance": "attended", "kind": "assessment"}
    last = case.sessions[-1]
    data = last.model_dump(mode="json")
    data.update(
        number=last.number + 1,
        date=str(last.date + timedelta(days=7)),
        attendance="attended",
        kind="treatment",
        note="",
    )
    return data


def create_cases(url: str, cases: list[Case], ids: Any) -> None:
    """Store the cases with their figures (in a child process); put their ids on ``ids``."""
    os.environ["TAILORING_DATABASE_URL"] = url
    services.upgrade_database(url)
    services.start(load_demo=False)
    stored = app_store().caseload.import_cases(cases)
    services.compute_figures(stored)
    ids.put(stored)


# Instruments (installed in each worker process) -----------------------------------------------


class Instruments:
    """Where a worker's time goes: per operation, the time in each step and the SQL it sent."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.steps: dict[str, Counter[str]] = defaultdict(Counter)
        self.statements: Counter[str] = Counter()
        self.checkouts: Counter[str] = Counter()

    @contextmanager
    def operation(self, name: str) -> Iterator[None]:
        self.local.operation = name
        try:
            yield
        finally:
            self.local.operation = None

    def add(self, step: str, seconds: float) -> None:
        operation = getattr(self.local, "operation", None)
        if operation:
            with self.lock:
                self.steps[operation][step] += seconds

    def count(self, counter: Counter[str]) -> None:
        operation = getattr(self.local, "operation", None)
        if operation:
            with self.lock:
                counter[operation] += 1

    def timed(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(step, time.perf_counter() - start)

        return wrapper

    def install(self, pool_options: dict[str, Any]) -> None:
        """Time the service's steps and the pool, and build engines with ``pool_options``."""
        from sqlalchemy import create_engine, event

        for where, name, step in STEPS:
            setattr(where, name, self.timed(step, getattr(where, name)))

        def engine_with_options(url: Any, **options: Any) -> Any:
            engine = create_engine(url, **{**options, **pool_options})
            engine.pool.connect = self.timed(POOL_CHECKOUT, engine.pool.connect)  # type: ignore[method-assign]
            event.listen(engine, "before_cursor_execute", lambda *_: self.count(self.statements))
            event.listen(engine.pool, "checkout", lambda *_: self.count(self.checkouts))
            return engine

        # The bench's own engine options, without changing db.py: build_engine calls this.
        db.create_engine = engine_with_options  # type: ignore[assignment]


# The users --------------------------------------------------------------------------------------


def user(
    case_id: int,
    changes: list[tuple[str, str, dict[str, Any]]],
    args: argparse.Namespace,
    seed: int,
    deadline: float,
    records: list[tuple[str, float, str]],
    instruments: Instruments,
) -> None:
    """One user's loop: open the case, save an answer, and every few saves record a session."""
    rng = random.Random(seed)
    for i in range(args.saves):
        if args.think:  # also before the first save, so that users do not all start at once
            time.sleep(min(rng.expovariate(1 / args.think), max(0, deadline - time.monotonic())))
        if time.monotonic() > deadline:
            return
        start = time.perf_counter()
        with instruments.operation("open"):
            stored = services.open_case(case_id)
        records.append(("open", time.perf_counter() - start, "ok"))

        section, item_id, answer = changes[i % len(changes)]
        revision = stored.revisions.get((section, item_id), 0)  # type: ignore[call-overload]
        start = time.perf_counter()
        with instruments.operation("save"):
            outcome = attempt(
                partial(services.save_answer, case_id, section, item_id, answer, revision)  # type: ignore[arg-type]
            )
        records.append(("save", time.perf_counter() - start, outcome))

        if (i + 1) % args.session_every == 0:
            session = next_session(stored.case)
            revision = stored.session_revisions.get(session["number"], 0)
            start = time.perf_counter()
            with instruments.operation("session"):
                outcome = attempt(partial(services.record_session, case_id, session, revision))
            records.append(("session", time.perf_counter() - start, outcome))


def attempt(action: Callable[[], Any]) -> str:
    """'ok', 'stale' for a save refused because someone saved first, else the error's name."""
    try:
        action()
    except (services.StaleAnswer, services.StaleSession):
        return "stale"
    except Exception as error:  # the bench counts every failure and goes on
        return type(error).__name__
    return "ok"


User = tuple[int, str, list[tuple[str, str, dict[str, Any]]], int]


def worker(
    url: str,
    users: list[User],
    args: argparse.Namespace,
    pool_options: dict[str, Any],
    start_together: Any,
    results: Any,
) -> None:
    """One app server in team mode: its users as threads (each signed in as the therapist of
    their case), started when every process is ready."""
    os.environ["TAILORING_DATABASE_URL"] = url
    services.set_mode("team")
    instruments = Instruments()
    instruments.install(pool_options)
    services.caseload_stamp()  # the engine, and the migrations' check, before the clock starts
    records: list[tuple[str, float, str]] = []
    began: list[float] = []

    def released() -> None:
        start_together.wait(timeout=300)
        began.append(time.time())

    ready = threading.Barrier(len(users), action=released)

    def signed_in_user(
        case_id: int, therapist: str, changes: list[tuple[str, str, dict[str, Any]]], seed: int
    ) -> None:
        with services.acting_as(Actor(therapist, therapist, frozenset({"therapist"}))):
            services.open_case(case_id)  # as on a first page, and its view is logged
            ready.wait(timeout=300)
            deadline = time.monotonic() + args.max_seconds
            user(case_id, changes, args, seed, deadline, records, instruments)

    cpu = time.process_time()
    threads = [threading.Thread(target=signed_in_user, args=user_args) for user_args in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(
        {
            "records": records,
            "began": began[0],
            "ended": time.time(),
            "cpu": time.process_time() - cpu,
            "steps": {op: dict(steps) for op, steps in instruments.steps.items()},
            "statements": dict(instruments.statements),
            "checkouts": dict(instruments.checkouts),
        }
    )


# One run ----------------------------------------------------------------------------------------


def run(
    url: str,
    data: Path | None,
    processes: int,
    args: argparse.Namespace,
    pool_options: dict[str, Any],
    label: str,
) -> dict[str, Any]:
    """Create the cases, run the users in ``processes`` processes, and gather the figures."""
    fork = multiprocessing.get_context("fork")
    cases_needed = args.shared or args.users
    invented = demo_cases(services.content(), cases_needed + args.users, seed=args.seed)
    cases = [
        case.model_copy(update={"reference": f"{label}-{n:03d}"})
        for n, case in enumerate(invented[:cases_needed])
    ]
    ids = fork.Queue()
    setup = fork.Process(target=create_cases, args=(url, cases, ids))
    setup.start()
    case_ids = receive(ids, setup)
    setup.join()

    donors = [changes_from(donor) for donor in invented[cases_needed:]]
    every_user: list[User] = [
        (case_ids[n % cases_needed], cases[n % cases_needed].therapist, donors[n] or donors[0], n)
        for n in range(args.users)
    ]
    start_together = fork.Barrier(processes + 1)
    results = fork.Queue()
    workers = [
        fork.Process(
            target=worker,
            args=(url, every_user[p::processes], args, pool_options, start_together, results),
        )
        for p in range(processes)
    ]
    load_before = os.getloadavg()[0]
    for process in workers:
        process.start()
    start_together.wait(timeout=300)
    server_before = server_cpu_seconds(data)
    machine_before = machine_cpu_seconds()
    gathered = []
    for _ in workers:
        try:
            gathered.append(results.get(timeout=args.max_seconds + 120))
        except queue.Empty:
            break
    for process in workers:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    if len(gathered) < processes:
        sys.exit(f"only {len(gathered)} of {processes} processes reported back")
    machine = machine_cpu_seconds() - machine_before
    time.sleep(0.5)  # the server reaps the backends of closed connections
    server_after = server_cpu_seconds(data)
    server = None if server_before is None or server_after is None else server_after - server_before
    return summarise(gathered, processes, args, load_before, server, machine)


def receive(results: Any, process: Any) -> Any:
    """What ``process`` puts on ``results``; exits if the process ends without putting it."""
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            if not process.is_alive():
                sys.exit(f"{process.name} ended with code {process.exitcode} and no result")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3 if values else float("nan")


def summarise(
    gathered: list[dict[str, Any]],
    processes: int,
    args: argparse.Namespace,
    load: float,
    server_cpu: float | None,
    machine_cpu: float,
) -> dict[str, Any]:
    records = [record for result in gathered for record in result["records"]]
    wall = max(r["ended"] for r in gathered) - min(r["began"] for r in gathered)
    by_kind: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter[tuple[str, str]] = Counter()
    for kind, seconds, outcome in records:
        outcomes[kind, outcome] += 1
        if outcome == "ok":
            by_kind[kind].append(seconds)
    saves = by_kind["save"]
    took: Counter[str] = Counter()
    for kind, seconds, _ in records:
        took[kind] += seconds
    attempted = sum(n for (kind, _), n in outcomes.items() if kind == "save")
    steps: dict[str, Counter[str]] = defaultdict(Counter)
    statements: Counter[str] = Counter()
    checkouts: Counter[str] = Counter()
    for result in gathered:
        for operation, times in result["steps"].items():
            steps[operation].update(times)
        statements.update(result["statements"])
        checkouts.update(result["checkouts"])
    return {
        "processes": processes,
        "threads": args.users // processes,
        "load": load,
        "wall": wall,
        "saves": len(saves),
        "attempted": attempted,
        "throughput": len(saves) / wall,
        "save": (percentile(saves, 50), percentile(saves, 95), percentile(saves, 99)),
        "save_max": max(saves, default=float("nan")) * 1e3,
        "open": (percentile(by_kind["open"], 50), percentile(by_kind["open"], 95)),
        "session": (percentile(by_kind["session"], 50), percentile(by_kind["session"], 95)),
        "sessions": len(by_kind["session"]),
        "outcomes": outcomes,
        "app_cpu": sum(r["cpu"] for r in gathered),
        "server_cpu": server_cpu,
        # What other processes used meanwhile, in cores: the run's share of the machine.
        "others": max(0, machine_cpu - sum(r["cpu"] for r in gathered) - (server_cpu or 0)) / wall,
        "steps": steps,
        "took": took,
        "statements": statements,
        "checkouts": checkouts,
        "mean_save": statistics.fmean(saves) * 1e3 if saves else float("nan"),
    }


# Reporting ---------------------------------------------------------------------------------------


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.users} users, {args.saves} saves each (a session every {args.session_every}), "
        f"think time {args.think:g} s, {args.shared or args.users} cases; "
        f"target p95 < {TARGET_P95_MS:g} ms per save"
    )
    header = (
        "processes × threads",
        "load",
        "others",
        "saves",
        "saves/s",
        "save p50",
        "p95",
        "p99",
        "max",
        "open p50",
        "session p50",
        "stale (answers + sessions)",
        "errors",
        "result",
    )
    print(" | ".join(header))
    for r in results:
        p50, p95, p99 = r["save"]
        stale = [r["outcomes"][kind, "stale"] for kind in ("save", "session")]
        errors = {
            f"{kind} {outcome}": n
            for (kind, outcome), n in r["outcomes"].items()
            if outcome not in ("ok", "stale")
        }
        print(
            " | ".join(
                (
                    f"{r['processes']} × {r['threads']}",
                    f"{r['load']:.1f}",
                    f"{r['others']:.1f} cores",
                    f"{r['saves']}/{r['attempted']}",
                    f"{r['throughput']:.1f}",
                    f"{p50:.0f} ms",
                    f"{p95:.0f} ms",
                    f"{p99:.0f} ms",
                    f"{r['save_max']:.0f} ms",
                    f"{r['open'][0]:.0f} ms",
                    f"{r['session'][0]:.0f} ms",
                    f"{stale[0]} + {stale[1]}",
                    str(sum(errors.values())) + (f" {errors}" if errors else ""),
                    "PASS" if p95 < TARGET_P95_MS else "MISS",
                )
            )
        )
    for r in results:
        saves = max(r["saves"], 1)
        server = r["server_cpu"]
        print(
            f"\n{r['processes']} × {r['threads']}: wall {r['wall']:.1f} s; CPU per save: app "
            f"{r['app_cpu'] / saves * 1e3:.1f} ms, PostgreSQL "
            + (f"{server / saves * 1e3:.1f} ms" if server is not None else "n/a")
            + f" (opens and sessions included); mean save {r['mean_save']:.1f} ms, of which:"
        )
        count = Counter({kind: n for (kind, outcome), n in r["outcomes"].items()})
        for operation in ("save", "open", "session"):
            done = count[operation]
            if not done:
                continue
            steps = r["steps"][operation]
            took = r["took"][operation]
            other = took - sum(t for step, t in steps.items() if step != POOL_CHECKOUT)
            parts = ", ".join(
                f"{step} {seconds / done * 1e3:.1f}"
                for step, seconds in sorted(steps.items(), key=lambda s: -s[1])
                if step != POOL_CHECKOUT
            )
            parts += f", the rest {other / done * 1e3:.1f}"
            parts += "; waiting for and pinging connections, inside those: "
            parts += f"{steps[POOL_CHECKOUT] / done * 1e3:.1f}"
            print(
                f"  {operation}: {r['statements'][operation] / done:.1f} statements and "
                f"{r['checkouts'][operation] / done:.1f} pool check-outs each; ms each: {parts}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--saves", type=int, default=20, help="answers each user saves")
    parser.add_argument("--session-every", type=int, default=5, help="saves between sessions")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop a user after this")
    parser.add_argument(
        "--think", type=float, default=0, help="mean seconds a user waits between saves (0: none)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2, 50],
        help="app processes to spread the users over, one run each (default: 1 2 50)",
    )
    parser.add_argument(
        "--shared", type=int, default=0, help="users share this many cases (default: one each)"
    )
    parser.add_argument("--pool-size", type=int, help="connections each engine keeps (5)")
    parser.add_argument("--max-overflow", type=int, help="connections opened beyond those (10)")
    parser.add_argument(
        "--no-pre-ping", action="store_true", help="skip the ping on every pool check-out"
    )
    parser.add_argument("--database-url", help="a PostgreSQL server to use instead of our own")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    if any(args.users % p for p in args.processes):
        parser.error("--users must divide evenly over each number of --processes")

    pool_options: dict[str, Any] = {}
    if args.pool_size is not None:
        pool_options["pool_size"] = args.pool_size
    if args.max_overflow is not None:
        pool_options["max_overflow"] = args.max_overflow
    if args.no_pre_ping:
        pool_options["pool_pre_ping"] = False
    # Stop the server on a plain kill too, not only on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    services.content()  # loaded once here, shared by every forked process
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")

    with throwaway_postgres() if not args.database_url else nullcontext_server(args) as server:
        server_url, data = server
        results = []
        for processes in args.processes:
            with fresh_database(server_url) as url:
                results.append(run(url, data, processes, args, pool_options, f"U{processes}"))
    report(results, args)


@contextmanager
def nullcontext_server(args: argparse.Namespace) -> Iterator[tuple[str, Path | None]]:
    yield args.database_url, None


if __name__ == "__main__":
    main()
