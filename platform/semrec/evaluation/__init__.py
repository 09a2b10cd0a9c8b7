"""Offline evaluation of strategies: splits, ranking metrics and the leaderboard."""
