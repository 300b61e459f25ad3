"""Ranking by a year's rules: scores, the leaderboard's table logic, trade-off plots."""
