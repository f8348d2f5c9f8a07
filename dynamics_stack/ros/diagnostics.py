"""One diagnostic_msgs/DiagnosticArray with one status: how every node here reports its health on /diagnostics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header


def diagnostics(
    name: str, ok: bool, message: str, values: Mapping[str, Any], stamp: Time, hardware_id: str = ""
) -> DiagnosticArray:
    """A status named ``name``: level OK or WARN, a message, and ``values`` as key/value strings."""
    status = DiagnosticStatus(
        level=DiagnosticStatus.OK if ok else DiagnosticStatus.WARN,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()],
    )
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
