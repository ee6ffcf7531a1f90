"""A probing personalizer in Python: reports, as JSON in the body, what the sandbox lets it see.

tests/tests/suite/polyglot_sandbox.rs asserts that every ambient authority is denied or virtual:
files, directories, the environment, sockets, name lookup, the wall clock and randomness.
"""

import json
import os
import time

from wit_world import exports
from wit_world.imports.types import Invocation, Message, Needs, PluginInfo, PluginKind, Subject


def attempt(action):
    """Runs `action`; returns `ok: <result>` or `denied: <exception class>`."""
    try:
        return f"ok: {action()}"
    except BaseException as error:  # noqa: BLE001 - the probe reports every kind of refusal
        return f"denied: {type(error).__name__}"


def connect():
    import socket

    with socket.create_connection(("127.0.0.1", 80), timeout=1):
        return "connected"


def resolve():
    import socket

    return socket.getaddrinfo("localhost", 80)


def write_file():
    with open("/tmp/baton-probe", "w") as handle:
        handle.write("x")
    return "written"


class Personalization(exports.Personalization):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="probe-python",
            version="0.1.0",
            kind=PluginKind.PERSONALIZER,
            description="Reports what the sandbox allows.",
            config_schema="{}",
            needs=Needs(attributes=[], events=[], event_window=None, allowed_hosts=[], secrets=[]),
        )

    def validate_config(self, config: str) -> None:
        pass

    def personalize(self, invocation: Invocation, subject: Subject, template: Message) -> Message:
        report = {
            "read_file": attempt(lambda: len(open("/etc/passwd").read())),
            "write_file": attempt(write_file),
            "list_root": attempt(lambda: len(os.listdir("/"))),
            "cwd": attempt(os.getcwd),
            "environ": len(os.environ),
            "home": os.environ.get("HOME"),
            "connect": attempt(connect),
            "resolve": attempt(resolve),
            "now_ms": int(time.time() * 1000),
            "urandom": attempt(lambda: os.urandom(8).hex()),
        }
        template.body = json.dumps(report, sort_keys=True)
        return template
