"""The `eventbridge` command: run, bridge, gateway, check, health, dlq."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from eventbridge.settings import EventBridgeSettings, SettingsError, load_settings

# A stop that outlived bridge.stop_timeout_s: the process exits without the rest of its drain.
EXIT_STOP_TIMEOUT = 3

log = logging.getLogger("eventbridge")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventbridge", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="YAML file in the seed's shape (eventbridge: ...)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bridge", help="consume Kafka and deliver to Redis")
    sub.add_parser("gateway", help="serve Redis streams to browsers over SSE")
    sub.add_parser("run", help="bridge and gateway in one process")
    check = sub.add_parser("check", help="print the verdict for each JSON-lines envelope")
    check.add_argument("file", nargs="?", type=Path, help="input file (default: stdin)")
    sub.add_parser("health", help="print the bridge's health JSON")
    dlq = sub.add_parser(
        "dlq",
        help="inspect or replay dead letters",
        description="show: the newest dead letters as JSON lines. replay: send the original "
        "records back to kafka.topic, each source record once (a dry run unless --yes).",
    )
    dlq.add_argument("action", choices=["show", "replay"])
    dlq.add_argument("--reason", help="only letters with this reason code (e.g. no_user)")
    dlq.add_argument(
        "--limit", type=_positive, help="at most this many (show: 20, replay: no limit)"
    )
    dlq.add_argument(
        "--since", type=_aware_time, help="replay: only letters dead-lettered at or after (ISO)"
    )
    dlq.add_argument("--yes", action="store_true", help="replay: really send them")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _aware_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def install_stop_signals(stop: asyncio.Event, *, deadline_s: float | None = None) -> None:
    """SIGTERM and SIGINT set `stop`; the services then drain and close. With `deadline_s`,
    a process still running that long after the first signal (even one that came after a
    stop of its own making: `run` with its gateway gone) exits EXIT_STOP_TIMEOUT from a
    thread, so a loop stuck in a library ends too. Later signals only say it is stopping."""
    loop = asyncio.get_running_loop()
    signalled = False

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signalled
        if signalled:
            log.warning("stop already requested", extra={"signal": sig.name})
            return
        signalled = True
        log.info("stop requested", extra={"signal": sig.name, "stop_timeout_s": deadline_s})
        if deadline_s is not None:
            _daemon_timer(deadline_s, _give_up, deadline_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)


def _stop_deadline_s(command: str, settings: EventBridgeSettings) -> float | None:
    """The bridge's stop is bounded by bridge.stop_timeout_s; `run` drains its gateway at the
    same time, so never below gateway.drain_s (+1 s); the gateway alone ends its streams
    within gateway.drain_s."""
    if command == "bridge":
        return settings.bridge.stop_timeout_s
    if command == "run":
        return max(settings.bridge.stop_timeout_s, settings.gateway.drain_s + 1)
    return None


def _daemon_timer(after_s: float, call: Callable[..., object], *args: object) -> None:
    timer = threading.Timer(after_s, call, args=args)
    timer.daemon = True
    timer.start()


def _give_up(deadline_s: float) -> None:
    # Nothing is lost: what was not committed is read again by the next member and written
    # once more, and writes are idempotent by event id (as after a SIGKILL). The log line may
    # block (a log reader that stopped reading holds the handler's lock): exit regardless.
    _daemon_timer(2.0, os._exit, EXIT_STOP_TIMEOUT)
    log.error(
        "stop took longer than bridge.stop_timeout_s: exiting without the rest of the drain",
        extra={"stop_timeout_s": deadline_s},
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_STOP_TIMEOUT)


async def _serve(command: str, settings: EventBridgeSettings) -> int:
    # Imported here so `check` and `health` never load client libraries.
    from application.gateway.supervisor import TaskFailed  # noqa: PLC0415
    from eventbridge.gateway_runtime import run_all, run_gateway  # noqa: PLC0415
    from eventbridge.runtime import run_bridge  # noqa: PLC0415

    stop = asyncio.Event()
    install_stop_signals(stop, deadline_s=_stop_deadline_s(command, settings))
    try:
        if command == "bridge":
            await run_bridge(settings, stop)
        elif command == "gateway":
            await run_gateway(settings, stop)
        else:
            await run_all(settings, stop)
    except SettingsError as exc:
        # Found only as the process starts (a key the gateway needs, a port already in use, a
        # Redis that evicts keys): the same one message naming the key as any other bad setting,
        # and the same status.
        print(f"eventbridge: {exc}", file=sys.stderr)
        return 2
    except TaskFailed as exc:
        # Liveness: a gateway whose background work cannot stay up exits for its supervisor
        # (systemd, Kubernetes) to restart it; the loop's traceback was logged when it died.
        print(f"eventbridge: {exc}", file=sys.stderr)
        return 1
    return 0


def _loop_factory(command: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The gateway runs on uvloop where it is installed (libuv's loop and transports take a
    fifth off the gateway's CPU per event, docs/benchmarks.md); the bridge and `run` keep
    asyncio's own loop (None), which their figures were measured on."""
    if command != "gateway":
        return None
    try:
        import uvloop  # noqa: PLC0415 (a dependency everywhere but Windows)
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"eventbridge: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        from eventbridge.check import check_lines  # noqa: PLC0415

        stream = args.file.open("rb") if args.file else sys.stdin.buffer
        with stream:
            invalid = check_lines(stream, settings, sys.stdout)
        return 1 if invalid else 0
    if args.command == "health":
        from eventbridge.health import main as health_main  # noqa: PLC0415

        return health_main(settings)
    from eventbridge.logs import configure_logging  # noqa: PLC0415

    configure_logging(
        level=settings.metrics.log_level,
        json=settings.metrics.log_json,
        service=settings.metrics.service_name,
    )
    if args.command in ("bridge", "gateway", "run"):
        with asyncio.Runner(loop_factory=_loop_factory(args.command)) as runner:
            return runner.run(_serve(args.command, settings))
    return _dlq(args, settings)


def _dlq(args: argparse.Namespace, settings: EventBridgeSettings) -> int:
    from adapters.kafka.dead_letter_log import DeadLetterLogError  # noqa: PLC0415
    from eventbridge.dlq import replay_letters, show  # noqa: PLC0415

    try:
        if args.action == "show":
            asyncio.run(show(settings, sys.stdout, limit=args.limit or 20, reason=args.reason))
        else:
            asyncio.run(
                replay_letters(
                    settings,
                    sys.stdout,
                    reason=args.reason,
                    since=args.since,
                    limit=args.limit or sys.maxsize,
                    yes=args.yes,
                )
            )
    except DeadLetterLogError as exc:
        print(f"eventbridge: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
