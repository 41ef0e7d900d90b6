"""Composition root of the 12345 hotline backend: settings, database, web app, CLI, wiring."""

__version__ = "0.1.0"
