"""Schemathesis hooks for scripts/schemathesis.sh: a serializer for application/x-ndjson (the JSON-lines body of
POST /api/import), which schemathesis has none of. The body is a string in the schema: sent as its UTF-8 bytes."""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8")
