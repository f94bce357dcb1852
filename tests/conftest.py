pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.vcs",
    "tests.fixtures.job_services",
    "tests.fixtures.logging_state",
]
