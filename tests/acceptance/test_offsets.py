"""Scenarios of features/offsets.feature."""

from pytest_bdd import scenarios

scenarios("offsets.feature")
