"""The release state machine's definition (release.asl.json), shipped as package data: read it
through asg_terminator.paths (importlib.resources), which finds it in a checkout and in a wheel."""
