"""hcc-fleet agent: polls a service center's devices and reports over MQTT."""

from agent.lean_imports import import_pysnmp_without_mib_compiler

import_pysnmp_without_mib_compiler()
