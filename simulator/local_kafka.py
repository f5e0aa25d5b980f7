"""A throwaway single-node Apache Kafka (KRaft) from Maven Central's jars, run with `java`."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from simulator.kafka_ready import broker_serves
from simulator.processes import (
    PortInUse,
    free_port,
    port_open,
    release_port,
    start_serving,
    stop,
)

log = logging.getLogger("simulator.kafka")

_HERE = Path(__file__).resolve().parent
POM = _HERE / "kafka" / "pom.xml"
LOG4J = _HERE / "kafka" / "log4j2.properties"
KAFKA_VERSION = re.search(r"<kafka.version>([^<]+)<", POM.read_text()).group(1)  # type: ignore[union-attr]
PORT_ATTEMPTS = 5  # new port pairs tried when a port turns out to be taken
_RESERVED = {bytes(16), bytes(15) + b"\x01"}  # Kafka's ZERO_UUID and ONE_UUID (metadata topic)


def new_cluster_id(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A random cluster id by Kafka's own rule (`Uuid.randomUuid()`): a version-4 UUID as 22
    characters of unpadded URL-safe base64, drawn again while it is reserved or starts with
    '-', since `kafka-storage format -t -abc...` reads such an id as an option and fails.

    Kafka's `kafka-storage random-uuid` gives the same ids but costs a JVM start (~0.6 s)."""
    while True:
        raw = bytearray(random_bytes(16))
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # IETF variant
        text = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        if bytes(raw) not in _RESERVED and not text.startswith("-"):
            return text


def cache_dir() -> Path:
    """Where downloaded jars live between runs (`EVENTBRIDGE_CACHE_DIR`, else `.cache/`)."""
    configured = os.environ.get("EVENTBRIDGE_CACHE_DIR")
    return Path(configured) if configured else _HERE.parent / ".cache"


def ensure_jars() -> Path:
    """Resolve the broker's jars with Maven once; later calls reuse the cached directory.

    Several runs may share the cache (CI, parallel worktrees): each resolves into its own
    staging directory and renames it into place, so no run ever sees half a directory."""
    libs = cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError(
            "Maven (mvn) is required to fetch Apache Kafka; or set KAFKA_BOOTSTRAP_SERVERS"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    try:
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            check=True,
        )
        (staging / ".complete").write_text(KAFKA_VERSION)
        if libs.exists() and not (libs / ".complete").exists():
            shutil.rmtree(libs, ignore_errors=True)  # an interrupted run's half directory
        with contextlib.suppress(OSError):  # another run renamed its copy first: use that
            staging.rename(libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


class LocalKafka:
    """One broker+controller process on two reserved loopback ports."""

    def __init__(
        self, workdir: Path, *, heap: str = "768m", pick_port: Callable[[], int] = free_port
    ) -> None:
        self.workdir = workdir
        self.heap = heap
        self._pick_port = pick_port
        self.port = pick_port()
        self.controller_port = pick_port()
        self.cluster_id = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _properties(self) -> Path:
        data = self.workdir / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "4",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests join and leave consumer groups often: no initial delay, short sessions allowed.
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
        }
        path = self.workdir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def jvm_command(self) -> list[str]:
        """`java` with the heap, logging and class path to run a Kafka tool or the broker."""
        libs = ensure_jars()
        java = shutil.which("java")
        if not java:
            raise RuntimeError(
                "Java 17+ is required to run Apache Kafka; or set KAFKA_BOOTSTRAP_SERVERS"
            )
        return [
            java,
            f"-Xmx{self.heap}",
            "-Xms256m",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
        ]

    def format_storage(self, jvm: list[str], cluster_id: str) -> Path:
        """A fresh, empty data directory formatted for `cluster_id`; returns the properties."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Never reuse data: an earlier (perhaps interrupted) run in this workdir left a log
        # formatted for another cluster id and other ports.
        shutil.rmtree(self.workdir / "data", ignore_errors=True)
        props = self._properties()
        with (self.workdir / "kafka.log").open("ab") as out:
            subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for us must not kill it half-way
            )
        return props

    def start(self, timeout_s: float = 120.0, *, cancel: threading.Event | None = None) -> float:
        """Format storage, start the broker, return seconds until it served (see
        `broker_serves`). A taken port moves the broker to a new pair of ports."""
        jvm = self.jvm_command()
        began = time.monotonic()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start_once(jvm, began + timeout_s, cancel)
            except PortInUse:
                if attempt == PORT_ATTEMPTS:
                    raise
                taken = (self.port, self.controller_port)
                self.port, self.controller_port = self._pick_port(), self._pick_port()
                for port in taken:
                    release_port(port)
                log.warning("Kafka port %s is taken; trying %s", taken, self.bootstrap)
                continue
            break
        return time.monotonic() - began

    def _start_once(self, jvm: list[str], deadline: float, cancel: threading.Event | None) -> None:
        self.cluster_id = new_cluster_id()
        props = self.format_storage(jvm, self.cluster_id)
        # An open port is not a working broker (nor necessarily ours): see broker_serves.
        self._proc = start_serving(
            [*jvm, "kafka.Kafka", str(props)],
            log=self.workdir / "kafka.log",
            ready=lambda _: port_open(self.port) and broker_serves(self.bootstrap, self.cluster_id),
            timeout_s=deadline - time.monotonic(),
            what=f"Kafka broker on port {self.port}",
            cancel=cancel,
            grace_s=20.0,
        )

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace_s=20.0)
            self._proc = None

    def close(self) -> None:
        """Stop for good and give both ports back."""
        self.stop()
        release_port(self.port)
        release_port(self.controller_port)
