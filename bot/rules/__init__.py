"""The rule engine: small named checks whose policy is data in `rules/*.toml`.

A rule *kind* is Python (a class with a pydantic policy model and one `check`);
a *rule* is a TOML table naming a kind, a chain, a description and the kind's
parameters.  Adding a rule of an existing kind needs no Python.  Chains group
rules by the decision they feed (e.g. ``acknowledge``: any hit suppresses the
automatic acknowledgement, recording the rule's description as the reason).
"""
