"""The calls scenario (applicant, manager, reviewers) reused for the mails the calls app sends."""

from tests.web.calls.conftest import reviewed, scenario  # noqa: F401  (fixtures)
