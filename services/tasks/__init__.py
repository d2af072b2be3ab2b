"""tasks: the supervision hub (督办): dispatch, transfer, feedback, review, rollback, urge,
escalation."""
