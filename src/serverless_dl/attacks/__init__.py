"""Hostile input for lesson 05 and the tests: misbehaving servers and a pretend internet.

`hostile_servers` serves redirects to internal addresses, floods, slow bodies and bombs on
127.0.0.1; `pretend_internet` resolves names from a table so that a public-looking host can
be local; `attack_lab` runs lesson 05's attacks against the naive and the guarded download.

May import: serverless_dl.base, serverless_dl.function.
"""
