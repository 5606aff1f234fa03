"""Settings from the environment (and a `.env` file), all prefixed `PROMOBOT_`.

The variables keep the flat names the README lists (`PROMOBOT_SEND_RATE`,
`PROMOBOT_COMEBACK_LADDER`, ...); inside, they are grouped by the part of the product
that reads them (`settings.send.rate`, `settings.comeback.ladder`, `settings.policy.caps`:
`groups.py`) and parsed at load into typed values (tiers, ladders, caps, quiet hours,
times of day, zones: `values.py`). A bad value stops start-up with an error that names
the variable (`describe_error`), and a function is given only the group it needs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.config.groups import (
    ApiSettings,
    ComebackSettings,
    DatabaseSettings,
    Group,
    GuardrailSettings,
    JobSettings,
    LoyaltySettings,
    MomentSettings,
    PolicySettings,
    RedisSettings,
    RewardSettings,
    SendSettings,
    ShopSettings,
    StaffSettings,
    TelegramSettings,
    WebappSettings,
)

PREFIX = "PROMOBOT_"


class Settings(BaseSettings):
    """Everything the process reads from outside; defaults run a demo shop on SQLite.

    `Settings()` reads the environment and `.env`; `Settings(_env_file=None, send_rate=5)`
    takes variables by their flat names (tests); `settings.replace(send_rate=5)` is a
    copy with some of them changed."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore", frozen=True)

    telegram: TelegramSettings = TelegramSettings()
    db: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    api: ApiSettings = ApiSettings()
    webapp: WebappSettings = WebappSettings()
    shop: ShopSettings = ShopSettings()
    loyalty: LoyaltySettings = LoyaltySettings()
    guardrail: GuardrailSettings = GuardrailSettings()
    staff: StaffSettings = StaffSettings()
    send: SendSettings = SendSettings()
    policy: PolicySettings = PolicySettings()
    comeback: ComebackSettings = ComebackSettings()
    rewards: RewardSettings = RewardSettings()
    moments: MomentSettings = MomentSettings()
    jobs: JobSettings = JobSettings()

    # Variable (without the prefix, lower case) → the groups that read it.
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]]

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments first, then the variables (environment over `.env`)."""
        return init_settings, _FlatVariables(settings_cls, env_settings, dotenv_settings)

    @model_validator(mode="before")
    @classmethod
    def _group(cls, data: Any) -> Any:
        """Flat names (`send_rate=...`, from the environment or keyword arguments) into
        their groups; a group given whole (`send=SendSettings(...)`) is kept as it is."""
        if not isinstance(data, dict):
            return data
        grouped: dict[str, Any] = {}
        for key, value in data.items():
            if key in cls.model_fields:
                grouped[key] = value
                continue
            for group in cls.VARIABLES.get(key, ()):
                target = grouped.setdefault(group, {})
                if isinstance(target, dict):
                    target[key] = value
        return grouped

    def replace(self, **changes: Any) -> Settings:
        """A copy with some variables changed, by their flat names (`send_rate=5`),
        validated as the environment is; the environment itself is not read again.

        The spend tiers are kept in minor units of the currency they were read in, so a
        copy in another currency is given its `tiers` too."""
        unknown = sorted(set(changes) - set(self.VARIABLES))
        if unknown:
            raise TypeError(f"not settings variables: {', '.join(unknown)}")
        if changes.get("currency", self.shop.currency) != self.shop.currency \
                and "tiers" not in changes:
            raise TypeError("a copy in another currency needs its tiers too (tiers=...)")
        flat: dict[str, Any] = {}
        for name in type(self).model_fields:
            group = getattr(self, name)
            flat.update({field.alias or key: getattr(group, key)
                         for key, field in type(group).model_fields.items()})
        return type(self)(_env_file=None, **{**flat, **changes})


def _variables() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for group, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, Group)
        for name, sub in model.model_fields.items():
            alias = sub.alias or name
            found[alias] = (*found.get(alias, ()), group)
    return found


Settings.VARIABLES = _variables()


class _FlatVariables(PydanticBaseSettingsSource):
    """`PROMOBOT_<NAME>` for every name a group declares, from the environment, else from
    the `.env` file (pydantic-settings' own two sources read them: the file's encoding,
    `_env_file=None` and case-insensitive names behave as they document)."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource,
                 dotenv: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = [source for source in (dotenv, env)
                         if isinstance(source, EnvSettingsSource)]

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value comes from __call__

    def __call__(self) -> dict[str, Any]:
        prefix = PREFIX.lower()
        values: dict[str, Any] = {}
        for source in self._sources:  # the environment last: it wins
            for key, value in source.env_vars.items():
                name = key.lower().removeprefix(prefix)
                if key.lower().startswith(prefix) and name in Settings.VARIABLES \
                        and value is not None:
                    values[name] = value
        return values


def describe_error(error: ValidationError) -> str:
    """One line per bad variable, named as the operator typed it (`PROMOBOT_SEND_RATE`).

    An error's place is (group, variable, ...), or (group, field, ...) for a default that
    a variable given with it makes wrong (the comeback ladder after a late "new but
    silent" step)."""
    lines: list[str] = []
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        line = f"{PREFIX}{_variable(loc).upper()}: {problem['msg'].removeprefix('Value error, ')}"
        if line not in lines:  # `currency` is read by two groups
            lines.append(line)
    return "\n".join(lines)


def _variable(loc: list[str]) -> str:
    if len(loc) < 2 or loc[0] not in Settings.model_fields:
        return loc[0] if loc else "settings"
    group = Settings.model_fields[loc[0]].annotation
    field = getattr(group, "model_fields", {}).get(loc[1])
    return (field.alias or loc[1]) if field is not None else loc[1]
