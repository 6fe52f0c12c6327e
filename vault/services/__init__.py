"""Services: each takes the vault, a session and the acting user, checks policy, changes state, audits."""
