"""Framework pieces shared by every package: HTTP route declarations, API errors, roles,
database helpers, the durable job queue, log context and metrics. Imports nothing of ours."""
