"""Transports and the composition root: settings, CLI, and (later) the chat channels."""
