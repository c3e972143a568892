"""Load and validate `rules/*.toml` at start-up (errors name file, rule and key)."""

from __future__ import annotations

import importlib
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from bot.core.config import Config, ConfigError
from bot.core.resources import rules_dir, templates_dir
from bot.rules.base import KINDS, Policy, RuleKind
from bot.rules.chains import Chain, known_chains

# The project's rules/ folder, used when the config names none.


# Rule kinds live with the job they serve, so the engine names them as data
# rather than importing them (the hygiene kinds build on this package).
# POLICY_MODULES hold each kind's policy model (`POLICY_MODELS`): all that is
# needed to validate the rule files.  KIND_MODULES hold the checks; importing one
# registers its kinds in KINDS.
POLICY_MODULES: tuple[str, ...] = ("bot.rules.policies", "bot.hygiene.policies")
KIND_MODULES: tuple[str, ...] = (
    "bot.rules.kinds.autoreply",
    "bot.rules.kinds.headers",
    "bot.rules.kinds.grouprelay",
    "bot.hygiene.kinds",
)


# Policy files in the rules folder that are not rule chains; each is read by its
# own module (decisions.toml: bot.governance.quorum).
NOT_RULE_FILES: frozenset[str] = frozenset({"decisions.toml"})


def _check_policy_file(path: Path) -> None:
    """Validate a policy file that is not a rule chain, so a typo stops start-up."""
    from bot.governance.quorum import parse_rules

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"rules/{path.name}: not valid TOML: {exc}") from None
    parse_rules(data)


def policy_models() -> dict[str, type[Policy]]:
    """Every rule kind's policy model, by kind name."""
    models: dict[str, type[Policy]] = {}
    for name in POLICY_MODULES:
        models.update(importlib.import_module(name).POLICY_MODELS)
    return models


def rule_kinds() -> dict[str, type[RuleKind]]:
    """Every rule kind's class, by kind name (imports the checks)."""
    for name in KIND_MODULES:
        importlib.import_module(name)
    return KINDS


def _check_templates(policy: Policy, templates: Path, where: str) -> None:
    """Every template a policy names (``template``, ``*_template``) must exist."""
    for key, value in policy:
        named = key == "template" or key.endswith("_template")
        if named and isinstance(value, str) and not (templates / f"{value}.txt.j2").is_file():
            raise ConfigError(f"{where}.{key}: no template {value!r} "
                              f"({value}.txt.j2) in the templates folder")


def validate_rules_from(folder: Path, templates: Path | None = None) -> list[Policy]:
    """Every rule defined in `folder`/*.toml as a validated policy, in file then table order.

    With `templates`, every template a rule names must exist there.  Needs only
    the policy models, so `check-config` stays fast.
    """
    models = policy_models()
    if not folder.is_dir():
        raise ConfigError(f"rules: folder {folder.name!r} not found")
    policies: list[Policy] = []
    names: set[str] = set()
    for path in sorted(folder.glob("*.toml")):
        if path.name in NOT_RULE_FILES:
            _check_policy_file(path)
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"rules/{path.name}: not valid TOML: {exc}") from None
        unknown = set(data) - {"rule"}
        if unknown:
            raise ConfigError(f"rules/{path.name}: unknown key {sorted(unknown)[0]!r} "
                              "(rules are [[rule]] tables)")
        for i, table in enumerate(data.get("rule", [])):
            where = f"rules/{path.name}: rule[{i}]"
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: must be a table")
            kind = table.get("kind")
            if kind not in models:
                raise ConfigError(f"{where}.kind: unknown rule kind {kind!r} "
                                  f"(known: {', '.join(sorted(models))})")
            chain = table.get("chain")
            if isinstance(chain, str) and chain not in set(Chain):
                raise ConfigError(f"{where} ({table.get('name', '?')}).chain: unknown chain "
                                  f"{chain!r} (known: {known_chains()})")
            try:
                policy = models[kind].model_validate(table)
            except ValidationError as exc:
                err = exc.errors()[0]
                key = ".".join(str(p) for p in err["loc"])
                msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                raise ConfigError(f"{where} ({table.get('name', '?')}).{key}: {msg}") from None
            if policy.name in names:
                raise ConfigError(f"{where}.name: rule {policy.name!r} defined twice")
            if templates is not None:
                _check_templates(policy, templates, f"{where} ({policy.name})")
            names.add(policy.name)
            policies.append(policy)
    return policies


def load_rules_from(folder: Path, templates: Path | None = None) -> list[RuleKind]:
    """Every rule defined in `folder`/*.toml, validated and ready to check mail."""
    kinds = rule_kinds()
    return [kinds[p.kind](p) for p in validate_rules_from(folder, templates)]


def validate_rules(config: Config) -> list[Policy]:
    """The rules for `config`, validated but not loaded (for `check-config`)."""
    return validate_rules_from(rules_dir(config), templates_dir(config))


@lru_cache(maxsize=8)
def _cached(folder: str, templates: str) -> tuple[RuleKind, ...]:
    return tuple(load_rules_from(Path(folder), Path(templates)))


def load_rules(config: Config) -> list[RuleKind]:
    """The rules for `config` (cached per folder; validated on first load)."""
    return list(_cached(str(rules_dir(config)), str(templates_dir(config))))
