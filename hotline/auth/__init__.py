"""Users, password hashing, sessions, bearer tokens and login rate limiting."""
