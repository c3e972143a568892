"""The general rule kinds (automatic mail, headers).

Kinds that belong to one job live with it (thread hygiene: `bot.hygiene.kinds`);
`bot.rules.loader.KIND_MODULES` lists every module that defines kinds.
"""
