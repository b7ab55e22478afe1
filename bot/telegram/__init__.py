"""The Telegram channel (python-telegram-bot 22)."""

import os

# RetryAfter.retry_after as a timedelta (the coming default); the channel reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
