"""Real Update JSON, as Telegram sends it, for feeding the dispatcher or the webhook."""

from __future__ import annotations

import itertools
import time
from typing import Any

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int, *, language_code: str | None = "ru", first_name: str = "Anna",
         username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        data["language_code"] = language_code
    if username:
        data["username"] = username
    return data


def _message(user_id: int, language_code: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "Anna"},
        "from": user(user_id, language_code=language_code),
        **fields,
    }


def message(user_id: int, text: str, *, language_code: str | None = "ru",
            update_id: int | None = None) -> dict[str, Any]:
    """A text message; a leading /command gets its `bot_command` entity."""
    fields: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id or next(_update_ids),
            "message": _message(user_id, language_code, **fields)}


def contact(user_id: int, phone: str, *, contact_user_id: int | None = None,
            language_code: str | None = "ru") -> dict[str, Any]:
    shared: dict[str, Any] = {"phone_number": phone, "first_name": "Anna"}
    if contact_user_id is not None:
        shared["user_id"] = contact_user_id
    return {"update_id": next(_update_ids),
            "message": _message(user_id, language_code, contact=shared)}


def callback(user_id: int, data: str, *, message_id: int = 1000,
             language_code: str | None = "ru") -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": user(user_id, language_code=language_code),
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "Promo"},
                "text": "…",
            },
        },
    }


def my_chat_member(user_id: int, *, old: str, new: str) -> dict[str, Any]:
    def member(status: str) -> dict[str, Any]:
        extra = {"until_date": 0} if status == "kicked" else {}
        return {"status": status, "user": {"id": 123456, "is_bot": True, "first_name": "Promo"},
                **extra}

    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private"},
            "from": user(user_id),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        },
    }


def poll_answer(user_id: int, poll_id: str, option_ids: list[int], *,
                update_id: int | None = None) -> dict[str, Any]:
    """A vote in a non-anonymous poll (an empty `option_ids`: the vote was retracted)."""
    return {"update_id": update_id or next(_update_ids),
            "poll_answer": {"poll_id": poll_id, "user": user(user_id),
                            "option_ids": option_ids,
                            "option_persistent_ids": [str(n) for n in option_ids]}}
