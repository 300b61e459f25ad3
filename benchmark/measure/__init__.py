"""Measuring a model: complexity counters, the timed loop, backends, repeated runs."""
