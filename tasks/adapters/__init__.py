"""Honest wrappers around AWS and HTTP: injected clients in, domain objects and errors.py types out."""
