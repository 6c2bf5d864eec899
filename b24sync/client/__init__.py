"""The Bitrix24 REST client: a Python port of the b24jssdk ``B24Hook`` call family.

It knows nothing of pipelines. Layers inside, bottom up: ``encoding`` (PHP ``http_build_query``,
batch payloads and response maps), ``webhook`` (URLs) and ``redaction`` (secrets out of every text),
``ratelimit`` (the leaky bucket and the operating budget), ``batching`` and ``results`` (the shapes of
calls and answers), ``listing`` (keyset walks), ``transport`` (one HTTP exchange) and ``hook``
(``B24Hook``, which owns the retry rules of protocol §7).
"""

from b24sync.client.encoding import EncodingError, encode_command, encode_query
from b24sync.client.hook import B24Hook, ClientStats, RetryPolicy
from b24sync.client.ratelimit import RateLimit
from b24sync.client.redaction import REDACTED, Redactor
from b24sync.client.results import AjaxResult, BatchReply, CommandError, Result
from b24sync.client.webhook import Webhook, parse_webhook_url

__all__ = [
    "REDACTED",
    "AjaxResult",
    "B24Hook",
    "BatchReply",
    "ClientStats",
    "CommandError",
    "EncodingError",
    "RateLimit",
    "Redactor",
    "Result",
    "RetryPolicy",
    "Webhook",
    "encode_command",
    "encode_query",
    "parse_webhook_url",
]
