"""An offline Bitrix24 portal for tests, demos and users' CI.

It imports nothing from the rest of b24sync: requests are decoded with its own PHP-compatible
parsing, so that an encoding bug of the client is caught, not mirrored.
"""

from b24sync.emulator.app import Emulator
from b24sync.emulator.request import HttpRequest
from b24sync.emulator.response import HttpResponse
from b24sync.emulator.state import EmulatorError

__all__ = ["Emulator", "EmulatorError", "HttpRequest", "HttpResponse"]
