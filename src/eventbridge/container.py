"""The composition root: one dependency-injector container for the bridge, the gateway and `run`.

`Application` composes three containers in the style of the library's multiple-containers
example: `Core` (settings, clock, telemetry providers: one set per process), `Bridge` and
`Gateway`. Each process's clients are Resources of its own type, so a runtime closes exactly
its own (`shutdown_resources(resource_type=...)`) and whoever built the container closes the
rest; in `eventbridge run` both processes share Core and keep their own Redis clients.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from eventbridge.settings import EventBridgeSettings
from eventbridge.wiring.bridge import Bridge
from eventbridge.wiring.core import Core
from eventbridge.wiring.gateway import Gateway


class Application(containers.DeclarativeContainer):
    """Both processes from the one settings object; `process` names the one being run."""

    settings = providers.Dependency(instance_of=EventBridgeSettings)
    process = providers.Dependency(instance_of=str, default="bridge")

    core = providers.Container(Core, settings=settings, process=process)
    bridge = providers.Container(Bridge, core=core, settings=settings)
    gateway = providers.Container(Gateway, core=core, settings=settings)
