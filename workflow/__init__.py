"""The domain: statuses, transitions, permissions, deadlines, numbering and notices.

This package imports no chat library: every channel calls the same services.
"""
