"""{{name}}: a KPI calculator that counts the events it is fed.

The WIT resource `accumulator` is implemented by the class `Accumulator` in `kpi.py`:
componentize-py looks it up in a module named after the interface.
"""

from wit_world import exports
from wit_world.imports.types import Needs, PluginInfo, PluginKind


class Kpi(exports.Kpi):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.KPI_CALCULATOR,
            description="Counts events.",
            config_schema="{}",
            needs=Needs(attributes=[], events=["*"], event_window=None, allowed_hosts=[], secrets=[]),
            provides=[],
        )

    def validate_config(self, config: str) -> None:
        pass

    def needs_for_config(self, config: str) -> Needs:
        """What this binding's config reads: the same whatever the config (the host loads only this)."""
        return self.info().needs
