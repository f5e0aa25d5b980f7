"""Scenarios of features/filtering.feature."""

from pytest_bdd import scenarios

scenarios("filtering.feature")
