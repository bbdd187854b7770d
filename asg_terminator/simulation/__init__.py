"""Deterministic simulation of the release loop: the real handlers and domain, driven in the order
the state machine's definition gives, against a simulated AWS with faults and rival releases
(see docs/simulation.md and ``python -m asg_terminator.simulation --help``)."""
