"""asg-terminator's operator side: the CLI, the local stack and the fleet simulator (not Lambda code)."""
