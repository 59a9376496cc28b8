"""jobtui: a terminal UI and CLI for Docker-based private clouds."""

__version__ = "0.1.0"
