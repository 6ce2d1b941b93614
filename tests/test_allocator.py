"""The malloc settings the audiozoo command applies: on glibc only, and never over the user's own."""

from __future__ import annotations

import platform

import pytest

from audiozoo.allocator import USER_VARIABLES, tune_allocator


@pytest.mark.parametrize("variable", USER_VARIABLES)
def test_the_users_malloc_variables_win(monkeypatch, variable):
    monkeypatch.setenv(variable, "1048576")
    assert tune_allocator() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_settings_apply_on_glibc(monkeypatch):
    for variable in USER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert tune_allocator() is True
