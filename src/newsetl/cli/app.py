"""What every ``newsetl`` command shares: the Typer app, options, output, and running a flow.

The command modules (ingest, query, feeds, analyst, ops) import from here and register
their commands on :data:`app`; ``newsetl.cli`` imports them all. No pipeline logic lives
in the CLI (sqlite-utils' cli.py over db.py is the model).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from newsetl import __version__
from newsetl.errors import NewsetlError, TransientError
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import Warehouse

app = typer.Typer(
    name="newsetl",
    help=(
        "News ingestion ETL: files and feeds -> clean articles in DuckDB.\n\n"
        "Example:  newsetl ingest examples/ --db warehouse/news.duckdb"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=(
            "Warehouse: a DuckDB file, or ducklake:sqlite:PATH / ducklake:postgres:CONNINFO "
            "\\[default: $NEWSETL_DB or warehouse/news.duckdb]"
        ),
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(help="Extraction processes \\[default: number of CPU cores].", show_default=False),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log output.")]
# Options of every command that fetches pages (feeds, sitemaps, URL lists).
AllowPrivateHostsOption = Annotated[
    bool,
    typer.Option(
        "--allow-private-hosts",
        help="Let fetched URLs reach private/loopback addresses \\[env NEWSETL_ALLOW_PRIVATE_HOSTS=1].",
    ),
]
IgnoreRobotsOption = Annotated[
    bool, typer.Option("--ignore-robots", help="Do not check robots.txt before fetching pages.")
]
HostDelayOption = Annotated[
    float | None,
    typer.Option(
        help="Seconds between two requests to one host \\[default: 1, env NEWSETL_HOST_DELAY].",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help=(
            "Only shard I of N (0-based, e.g. 0/2 and 1/2): inputs split by a stable hash, so runs "
            "of every shard together take each input once (docs/scale-out.md)."
        ),
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def shard_for(text: str | None) -> tuple[int, int]:
    """``--shard I/N`` as the flows' (shard, shards) parameters; a bad value exits 1."""
    if text is None:
        return 0, 1
    from newsetl.pipeline.shards import Shard

    try:
        part = Shard.parse(text)
    except ValueError as exc:
        raise fail(f"--shard: {exc}") from None
    return part.index, part.count


def settings_for(db: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with what the command line gave."""
    try:
        return Settings.from_env(db=db, **overrides)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None


def store_for(db: str | None = None, **overrides: Any) -> Warehouse:
    """The warehouse a command works on (``--db``, else ``NEWSETL_DB``, else the default)."""
    return open_warehouse(settings_for(db, **overrides).storage)


def _quiet_prefect(verbose: bool) -> None:
    """Keep Prefect's console output to warnings unless asked (set before Prefect loads)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _head_start(verbose: bool, workers: int | None) -> Any:
    """Find or start the local Prefect server (or a temporary one) and the extraction
    workers' forkserver in the background while this process does its own set-up; returns
    the server handle."""
    _quiet_prefect(verbose)
    server: Any
    prefs = settings_for().server
    if prefs.prefect_server == "temporary":
        from newsetl.cli.prefect_server import TemporaryPrefectServer

        server = TemporaryPrefectServer().start()
    else:  # one local server, started by the first command and reused (cli/local_server.py)
        from newsetl.cli.local_server import LocalPrefectServer

        server = LocalPrefectServer(prefs.prefect_idle_s).start()
    if workers != 0:
        from newsetl.pipeline.workers import prestart

        threading.Thread(target=prestart, name="forkserver-prestart", daemon=True).start()
    return server


def _version(value: bool) -> None:
    if value:
        out.print(f"newsetl {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
    data_path: Annotated[
        str | None,
        typer.Option(
            "--data-path",
            help="A DuckLake's data files: a directory or s3://bucket/prefix "
            "\\[default: $NEWSETL_DATA_PATH].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """News ingestion ETL: files and feeds -> clean articles in DuckDB."""
    if data_path:
        os.environ["NEWSETL_DATA_PATH"] = data_path  # read by every Settings.from_env()


# --- running flows ----------------------------------------------------------------------


def print_summary(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    table = Table(title=f"{summary['flow']} · run {summary['run_id']}", title_justify="left")
    table.add_column("seen", justify="right")
    names = ("loaded", "updated", "unchanged", "duplicate", "rejected", "skipped")
    for name in names:
        table.add_column(name, justify="right")
    table.add_row(str(summary["inputs"]), *(str(counts.get(k, 0)) for k in names))
    out.print(table)
    if summary["top_reasons"]:
        reasons = Table(title="top rejection reasons", title_justify="left")
        reasons.add_column("count", justify="right")
        reasons.add_column("stage")
        reasons.add_column("reason", overflow="fold")
        for r in summary["top_reasons"]:
            reasons.add_row(str(r["count"]), r["stage"], r["reason"])
        out.print(reasons)
    if summary.get("top_skipped"):
        skipped = Table(title="skipped (not articles)", title_justify="left")
        skipped.add_column("count", justify="right")
        skipped.add_column("reason", overflow="fold")
        for r in summary["top_skipped"]:
            skipped.add_row(str(r["count"]), r["reason"])
        out.print(skipped)
    out.print(f"{summary['status']} in {summary['seconds']:.1f} s → {summary['db']}", highlight=False)


def run_flow_command(
    run: Callable[[], dict[str, Any]],
    *,
    db: str | None,
    verbose: bool,
    workers: int | None,
    json_out: bool,
    details: Callable[[dict[str, Any]], None] | None = None,
    flow: str | None = None,
) -> None:
    """What every ingest command does around its flow: start Prefect's server and the
    workers early, fail fast on an unusable warehouse, show progress, print the summary,
    and exit 1 when the run failed or its audit did.

    SIGINT/SIGTERM stop the run within moments (see :mod:`newsetl.cli.signals`): it is
    recorded as failed ('interrupted (SIGTERM)') and the command exits 128 + the signal.
    """
    from newsetl.cli.signals import stop_on_signals
    from newsetl.errors import interruption

    try:
        with stop_on_signals():
            _run_flow(
                run, db=db, verbose=verbose, workers=workers, json_out=json_out, details=details, flow=flow
            )
    except BaseException as exc:
        why = interruption(exc)
        if why is None:
            raise
        signum = getattr(exc, "signum", None) or getattr(exc, "signal", None) or signal.SIGINT
        raise fail(
            f"{why}: stopped; the run, if it had started, is recorded as failed", 128 + signum
        ) from None


def _run_flow(
    run: Callable[[], dict[str, Any]],
    *,
    db: str | None,
    verbose: bool,
    workers: int | None,
    json_out: bool,
    details: Callable[[dict[str, Any]], None] | None,
    flow: str | None,
) -> None:
    with contextlib.ExitStack() as stack:
        with _collector_paused():
            server = _head_start(verbose, workers)
            store = store_for(db)
            try:
                store.ensure_schema()
            except NewsetlError as exc:
                server.stop()
                if isinstance(exc, TransientError) and flow:  # recorded by the next run that gets in
                    from newsetl.pipeline.engine import new_run_id
                    from newsetl.storage.runs import unstarted_note

                    store.note_unstarted(unstarted_note(new_run_id(), flow, {}, exc))
                raise fail(str(exc)) from None
            stack.enter_context(server.api())
            # What every flow module builds on: Prefect's flow and task engines, the run engine.
            import flows._common  # noqa: F401
        stack.enter_context(_progress(disabled=json_out or verbose))
        try:
            summary = run()  # imports the flow's own module
        except NewsetlError as exc:
            raise fail(str(exc)) from None
    if json_out:
        out.print_json(json.dumps(summary))
    else:
        print_summary(summary)
        if details is not None:
            details(summary)
    if not report_audit(summary) or summary["status"] != "completed":
        raise typer.Exit(1)


class _Process:
    owned = False  # see own_process()


def own_process() -> None:
    """This process is one ``newsetl`` command (the console script), not a host that
    imported the CLI (tests, a notebook): what it allocates lives until it exits."""
    _Process.owned = True


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a flow command starts: Prefect, pydantic's
    models and the flows are imported then, which allocates hundreds of thousands of
    long-lived objects and almost no garbage, yet triggers the collector over and over,
    each full pass walking everything allocated so far (measured: ~15 % of the imports'
    time). In the command's own process what was built is then frozen (``gc.freeze``), so
    the collections during the run skip it too; a host process only gets the collector back.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if _Process.owned:
            gc.freeze()
        gc.enable()


def report_audit(summary: dict[str, Any]) -> bool:
    """Print the audit checks that failed after a run; True when all passed."""
    failed = [a for a in summary.get("audit", []) if not a["ok"]]
    for a in failed:
        err.print(f"[bold red]audit failed:[/] {a['check']}: {a['detail']}", highlight=False)
    return not failed


class _progress:
    """A live counter fed by the pipeline's progress hook (total unknown: discovery is lazy)."""

    def __init__(self, disabled: bool) -> None:
        self.disabled = disabled or not err.is_terminal
        self._ctx: Any = None

    def __enter__(self) -> _progress:
        if self.disabled:
            return self
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from newsetl.models import BatchReport
        from newsetl.pipeline import progress

        self.totals = BatchReport()
        self.started = time.monotonic()
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                            console=err, transient=True)  # fmt: skip
        self.task = self.bar.add_task("starting…")
        self.bar.start()

        def hook(report: BatchReport) -> None:
            self.totals.merge(report)
            rate = self.totals.total / max(time.monotonic() - self.started, 1e-6)
            c = self.totals.counts
            self.bar.update(
                self.task,
                description=(
                    f"{self.totals.total} inputs · loaded {c['loaded']} · updated {c['updated']} · "
                    f"unchanged {c['unchanged']} · duplicate {c['duplicate']} · rejected {c['rejected']}"
                    f" · skipped {c.get('skipped', 0)}"
                    f" · {rate:.1f}/s"
                ),
            )

        self._ctx = progress.reporting(hook)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self.bar.stop()


def render_rows(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    fmt: str | None,
    max_rows: int,
    *,
    wide: bool = False,
    keys: tuple[str, ...] = (),
    title: str | None = None,
) -> None:
    """Rows on standard output: a table fitted to the terminal, else tab-separated (see
    :mod:`newsetl.cli.tables`); ``fmt`` picks csv, json, markdown, tsv or table."""
    from newsetl.cli.tables import render

    try:
        render(out, err, columns, rows, fmt, max_rows, wide=wide, keys=keys, title=title)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
