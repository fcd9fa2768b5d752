"""Local test bench: real mosquitto and snmpsim processes on free ports, for the demo and the tests."""
