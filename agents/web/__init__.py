"""The browser front end: agent console, supervisor wallboard and member-unit workspace."""
