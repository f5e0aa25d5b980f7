"""Scenarios of features/dead_letters.feature."""

from pytest_bdd import scenarios

scenarios("dead_letters.feature")
