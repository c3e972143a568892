"""Handlers: what happens to a message once it is filed in a case.

Each module is one handler with a ``handle(ctx)`` function (a
`bot.filing.context.MessageContext` in, events, case changes and outbox rows
out, inside the message's transaction).  Which handlers run, and in what
order, is data: `bot.filing.pipelines`.
"""
