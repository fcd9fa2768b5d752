"""hcc-fleet controller: the city's central view of every center's devices and alerts."""
