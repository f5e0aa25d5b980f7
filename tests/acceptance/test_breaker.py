"""Scenarios of features/breaker.feature."""

from pytest_bdd import scenarios

scenarios("breaker.feature")
