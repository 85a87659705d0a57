"""A host whose user model has a UUID primary key.

AUTH_USER_MODEL cannot change inside a test run, so this app has its own
settings and its tests run in a process of their own (tests/test_uuid_user.py).
"""
