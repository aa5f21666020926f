"""Vendored data of the PHI detector (see README.md)."""
