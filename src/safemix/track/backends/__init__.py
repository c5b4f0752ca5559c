"""Tracker backends: one module each, registered with ``@tracker(name, options=..., flag=...)``."""
