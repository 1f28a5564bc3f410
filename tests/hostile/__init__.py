"""The hostile-input corpus: broken or malicious inputs and faults, one case each.

Each ``cases_*.py`` module defines ``CASES``, a list of :class:`harness.Case`;
``tests/test_hostile.py`` runs every case in a fresh temporary folder and
``python -m tests.hostile.table`` prints the table of case, command and
expected message (tests/hostile/CASES.md).
"""
