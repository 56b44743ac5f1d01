"""Settings for every test: no test may depend on the machine's speed.

Hypothesis' default 200 ms deadline failed tests/unit/test_ledger.py on a loaded machine
(issue 8, finding 11). Both profiles drop deadlines; `ci` (loaded when CI is set, or with
HYPOTHESIS_PROFILE=ci) also draws the same examples on every run and prints the blob that
replays a failure. This file is imported before any test module, so every @settings in
the tests inherits from the loaded profile."""

import os

import pytest
from hypothesis import settings

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True, database=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# How many requests schemathesis made (tests/integration/test_schemathesis.py counts them),
# printed at the end of the run: the README quotes it.
SCHEMATHESIS_CASES = pytest.StashKey[int]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    cases = config.stash.get(SCHEMATHESIS_CASES, 0)
    if cases:
        terminalreporter.write_line(
            f"schemathesis: {cases} generated requests, every reply documented, none a 5xx"
        )
