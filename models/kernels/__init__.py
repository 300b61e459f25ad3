"""Compiled operators of the fast network variants, with what builds and caches them."""
