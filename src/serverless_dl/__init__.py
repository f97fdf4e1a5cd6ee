"""Shared helpers for the Serverless Deep Learning course.

Notebooks, command-line scripts and tests import from here so that each piece
of course machinery (the synthetic dataset, the Lambda emulator harness, the
handler export, the course runner) is written once.
"""
