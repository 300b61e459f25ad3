"""NTIRE Efficient Super-Resolution (x4) evaluation harness."""
