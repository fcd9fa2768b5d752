"""hcc-fleet agent: polls a service center's devices and reports over MQTT."""
