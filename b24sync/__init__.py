"""b24sync: declarative data sync for the Bitrix24 REST API."""

from b24sync.errors import B24SyncError

__version__ = "0.1.0"

__all__ = ["B24SyncError", "__version__"]
