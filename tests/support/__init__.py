"""Test doubles and helpers shared by the test packages; import them as `tests.support.<module>`."""
