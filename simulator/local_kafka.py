"""A throwaway single-node Apache Kafka (KRaft) from Maven Central's jars, run with `java`."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from simulator.processes import free_port, port_open, spawn, stop, wait_until
from simulator.topics import create_topics

_HERE = Path(__file__).resolve().parent
POM = _HERE / "kafka" / "pom.xml"
LOG4J = _HERE / "kafka" / "log4j2.properties"
KAFKA_VERSION = re.search(r"<kafka.version>([^<]+)<", POM.read_text()).group(1)  # type: ignore[union-attr]


def cache_dir() -> Path:
    """Where downloaded jars live between runs (`EVENTBRIDGE_CACHE_DIR`, else `.cache/`)."""
    configured = os.environ.get("EVENTBRIDGE_CACHE_DIR")
    return Path(configured) if configured else _HERE.parent / ".cache"


def ensure_jars() -> Path:
    """Resolve the broker's jars with Maven once; later calls reuse the cached directory."""
    libs = cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"
    done = libs / ".complete"
    if done.exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError(
            "Maven (mvn) is required to fetch Apache Kafka; or set KAFKA_BOOTSTRAP_SERVERS"
        )
    shutil.rmtree(libs, ignore_errors=True)
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    done.write_text(KAFKA_VERSION)
    return libs


class LocalKafka:
    """One broker+controller process on two free loopback ports."""

    def __init__(self, workdir: Path, *, heap: str = "768m") -> None:
        self.workdir = workdir
        self.heap = heap
        self.port = free_port()
        self.controller_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

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

    def start(self, timeout_s: float = 120.0) -> float:
        """Format storage, start the broker, return seconds until it created a topic."""
        libs = ensure_jars()
        java = shutil.which("java")
        if not java:
            raise RuntimeError(
                "Java 17+ is required to run Apache Kafka; or set KAFKA_BOOTSTRAP_SERVERS"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self._properties()
        classpath = f"{libs}/*"
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        jvm = [
            java,
            f"-Xmx{self.heap}",
            "-Xms256m",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-Djava.awt.headless=true",
            "-cp",
            classpath,
        ]
        log = self.workdir / "kafka.log"
        with log.open("ab") as out:
            subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._proc = spawn([*jvm, "kafka.Kafka", str(props)], log=log)
        waited = wait_until(
            lambda: port_open(self.port),
            timeout_s=timeout_s,
            what="Kafka broker",
            proc=self._proc,
            log=log,
        )
        # An open port is not a working broker: creating a topic proves the controller and
        # the metadata log are up.
        create_topics(self.bootstrap, {"__eventbridge_ready": 1}, timeout_s=timeout_s - waited)
        return waited

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace_s=20.0)
            self._proc = None
