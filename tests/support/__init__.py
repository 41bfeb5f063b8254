"""Test doubles shared by the test packages."""
