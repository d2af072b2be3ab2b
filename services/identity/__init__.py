"""identity: persons, organisations, accounts, the jurisdiction tree, personal and
enterprise codes."""
