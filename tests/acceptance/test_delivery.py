"""Scenarios of features/delivery.feature."""

from pytest_bdd import scenarios

scenarios("delivery.feature")
