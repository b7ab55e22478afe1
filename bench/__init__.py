"""Benchmarks of the bot: conversation throughput against a plain python-telegram-bot echo
bot, notice fan-out within Telegram's limits, notice latency, a national-scale database and
how costs grow with history. ``python -m bench`` runs them and writes docs/benchmarks.md;
see ``bench/__main__.py``."""
