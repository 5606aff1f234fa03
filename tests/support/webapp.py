"""Launch data as Telegram signs it for a Mini App (https://core.telegram.org/bots/webapps
#validating-data-received-via-the-mini-app), for tests that open the cabinet."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode


def launch_data(token: str, user_id: int, *, signed_at: datetime,
                language: str = "ru", first_name: str = "Аня") -> str:
    """`initData` for the user, signed with the bot's token as Telegram does."""
    fields = {
        "auth_date": str(int(signed_at.timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": first_name,
                            "language_code": language}, ensure_ascii=False,
                           separators=(",", ":")),
    }
    checked = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, checked.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
