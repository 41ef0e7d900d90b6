"""Data files shipped with the workflow package (member units)."""
