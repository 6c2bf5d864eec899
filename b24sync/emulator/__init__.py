"""An offline Bitrix24 portal for tests, demos and users' CI (design section 8).

It imports nothing from the rest of b24sync: requests are decoded with its own PHP-compatible
parsing, so that an encoding bug of the client is caught, not mirrored.
"""
