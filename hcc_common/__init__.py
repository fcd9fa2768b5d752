"""Code both sides share: the MQTT wire contract, the fault vocabulary, and config helpers."""
