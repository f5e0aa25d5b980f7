"""Apache Kafka's jars from Maven Central, cached between runs, and Kafka's cluster-id rule."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
POM = _HERE / "kafka" / "pom.xml"
LOG4J = _HERE / "kafka" / "log4j2.properties"
KAFKA_VERSION = re.search(r"<kafka.version>([^<]+)<", POM.read_text()).group(1)  # type: ignore[union-attr]
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
