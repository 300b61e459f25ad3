"""NTIRE Efficient Super-Resolution (x4) evaluation harness."""

__version__ = "0.5.0"
"""Part of every results record: figures measured by another version of the harness are not merged with these
(0.5: the official keys are timed cold by default, as the organizers time them)."""
