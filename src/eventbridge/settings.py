"""EventBridgeSettings: one typed object built once at start from env, a YAML file and defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from adapters.gateway.settings import AuthSettings, GatewaySettings
from adapters.kafka.settings import KafkaSettings
from adapters.redis.settings import RedisSettings
from domain.filter import DEFAULT_WHITELIST
from eventbridge.setting_checks import (
    Problem,
    auth_problems,
    gateway_problems,
    kafka_problems,
    not_finite,
    redis_problems,
    send_buffer_problems,
    serving_problems,
    whitelist_problems,
)

CONFIG_ENV = "EVENTBRIDGE_CONFIG"


class FilterSettings(BaseModel):
    """The filter and mapper policy (SPEC §4, §6)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    whitelist: tuple[str, ...] = DEFAULT_WHITELIST
    max_future_skew_s: float = Field(default=300.0, ge=0)
    max_data_bytes: int = Field(default=65_536, ge=256)
    max_record_bytes: int = Field(default=1_048_576, ge=1024)


class BreakerSettings(BaseModel):
    """The circuit breaker (SPEC §5); the seed's `failure_threshold`/`recovery_timeout` work too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(default=10.0, gt=0)
    minimum_calls: int = Field(default=5, ge=1)
    failure_rate_threshold: float = Field(default=0.5, gt=0, le=1)
    cool_down_s: float = Field(default=30.0, gt=0)
    failure_threshold: int | None = Field(default=None, ge=1, description="Seed: failures to open")
    recovery_timeout: float | None = Field(default=None, gt=0, description="Seed: cool-down (s)")
    expected_exception: list[str] = Field(
        default_factory=lambda: ["RedisError", "ConnectionError"],
        description="Seed compatibility only: Redis-availability errors are what counts",
    )
    policy: Literal["pause", "drop"] = "pause"


class BridgeSettings(BaseModel):
    """Batching and committing of the bridge process, and its own HTTP port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch: int = Field(default=1000, ge=1)
    fetch_timeout_s: float = Field(default=0.2, gt=0)
    commit_every_records: int = Field(
        default=2000, ge=1, description="Commit once this many records finished since the last"
    )
    commit_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Commit at least this often; and at once whenever a fetch finds nothing new",
    )
    retry_backoff_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(
        default=30.0,
        gt=0,
        description="Each failed retry of the backlog doubles the wait, up to this",
    )
    max_backlog_records: int = Field(
        default=10_000,
        ge=1,
        description="Records kept for a retry during an outage; at this bound the partitions "
        "pause under every policy (drop too)",
    )
    max_backlog_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Bytes (keys, values, headers) of the records kept for a retry; at this "
        "bound the partitions pause under every policy (drop too)",
    )
    stall_s: float = Field(
        default=60.0,
        gt=0,
        description="Not ready once records have waited this long with nothing finished",
    )
    owner_cache_size: int = Field(default=100_000, ge=1)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=9464, ge=0, le=65535)
    no_assignment_grace_s: float = Field(default=60.0, gt=0)
    stop_timeout_s: float = Field(
        default=25.0,
        gt=0,
        description="After SIGTERM/SIGINT, the longest the bridge (and `run`) drains before it "
        "exits without the rest (3); below the supervisor's grace (Kubernetes: 30 s)",
    )


class MetricsSettings(BaseModel):
    """The seed's metrics block, plus tracing and logging."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collect_interval: float = Field(default=30.0, gt=0)
    prometheus_enabled: bool = True
    service_name: str = Field(default="eventbridge", min_length=1)
    trace_sample_ratio: float = Field(default=0.01, ge=0, le=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    gateway_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve the gateway's /metrics on this port of gateway.host instead of its "
        "public port (unset: the public port serves it, as before; 0: any free port)",
    )

    @property
    def public_metrics(self) -> bool:
        """The gateway's public port serves `/metrics` (Prometheus on, no listener of its own)."""
        return self.prometheus_enabled and self.gateway_port is None


class EventBridgeSettings(BaseSettings):
    """Env `EVENTBRIDGE__<SECTION>__<KEY>` over YAML (`eventbridge:` root) over defaults."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTBRIDGE__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    filter: FilterSettings = FilterSettings()
    circuit_breaker: BreakerSettings = BreakerSettings()
    bridge: BridgeSettings = BridgeSettings()
    gateway: GatewaySettings = GatewaySettings()
    auth: AuthSettings = AuthSettings()
    metrics: MetricsSettings = MetricsSettings()

    @model_validator(mode="after")
    def _can_work(self) -> EventBridgeSettings:
        """Values that pass their own field's check but cannot work together, or at all
        (eventbridge/setting_checks.py): all refused at once, each naming its key."""
        found: list[Problem] = [
            *not_finite(self),
            *kafka_problems(self.kafka),
            *redis_problems(self.redis),
            *whitelist_problems(self.filter.whitelist),
            *auth_problems(self.auth),
            *gateway_problems(self.gateway, self.auth),
            *send_buffer_problems(self.gateway, self.filter.max_data_bytes),
        ]
        if found:
            # Raised as a ValidationError of its own (pydantic-core passes it through), so each
            # problem keeps its key as `loc`, the way a field's own error does.
            raise ValidationError.from_exception_data(
                type(self).__name__, [_line_error(loc, message) for loc, message in found]
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            sources.append(
                YamlConfigSettingsSource(
                    settings_cls, yaml_file=Path(path), yaml_config_section="eventbridge"
                )
            )
        return tuple(sources)


def _line_error(loc: tuple[str, ...], message: str) -> InitErrorDetails:
    # The message goes in as a context value: a regex or a URL in it may hold braces. The
    # input is never the value itself, which may be a secret.
    return InitErrorDetails(
        type=PydanticCustomError("setting", "{problem}", {"problem": message}),
        loc=loc,
        input="(see the message)",
    )


class SettingsError(Exception):
    """A bad setting: the message names each key, as YAML path and as env variable."""


def key_name(loc: tuple[str | int, ...]) -> str:
    """`eventbridge.<section>.<key> (EVENTBRIDGE__<SECTION>__<KEY>)`: where it is set."""
    path = ".".join(str(part) for part in loc)
    env = "EVENTBRIDGE__" + "__".join(str(p).upper() for p in loc)
    return f"eventbridge.{path} ({env})"


def require_serving(settings: EventBridgeSettings, process: str) -> None:
    """Raise SettingsError unless `process` ("gateway" or "run") has what serving the gateway
    needs (a key for its algorithm); the bridge alone needs none."""
    ports = {("gateway", "port"): settings.gateway.port}
    if process == "run":
        ports[("bridge", "http_port")] = settings.bridge.http_port
    if settings.metrics.prometheus_enabled and settings.metrics.gateway_port is not None:
        ports[("metrics", "gateway_port")] = settings.metrics.gateway_port
    found = serving_problems(settings.auth, ports)
    if found:
        lines = [f"  {key_name(loc)}: {message}" for loc, message in found]
        raise SettingsError("invalid settings:\n" + "\n".join(lines))


def load_settings(config: Path | None = None, **overrides: object) -> EventBridgeSettings:
    """Build and validate settings once; raise SettingsError naming every bad key."""
    if config is not None:
        if not config.is_file():
            raise SettingsError(f"config file {config} does not exist")
        os.environ[CONFIG_ENV] = str(config)
    try:
        return EventBridgeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"  {key_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None
