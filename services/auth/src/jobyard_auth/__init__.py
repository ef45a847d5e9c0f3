"""The auth service: users, sessions and API keys, each ``endpoints → service → repository``.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
registration, roles, deactivation, Google identities    ``users/service.py``
password and Google sign-in, token rotation, logout     ``sessions/service.py`` (Google:
                                                        ``sessions/google.py``)
slowing password guessing (per address, per account)    ``sessions/login_throttle.py``
API keys: created once, hashed, revoked                 ``api_keys/service.py``
password hashing and policy                             ``passwords.py``
signing keys and the JWKS other services trust          ``keystore.py``
the first admin                                         ``bootstrap.py``
what it answers (users, API keys, token pairs)          ``jobyard_libs.accounts`` (read by the
                                                        console too)
=====================================================  ===========================================
"""
