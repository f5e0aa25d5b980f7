"""Scenarios of features/routing.feature."""

from pytest_bdd import scenarios

scenarios("routing.feature")
