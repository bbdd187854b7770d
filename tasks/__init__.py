"""asg-terminator's Lambda code: one thin handler per Task state of the release state machine."""
