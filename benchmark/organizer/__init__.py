"""Organizer mode: a challenge repository's teams, each in its own process, locally or on Ray."""
