"""The parts of the thread-hygiene checks that are not rule kinds.

`addresses` compares recipients and reads ``[+ Name]`` / ``[- Name]`` notes,
`citations` finds gaps in a thread's References, `identity` looks for the
reporter's identity in a message, `policies` holds the kinds' policy models and
`findings` what a check reports.  The rule kinds themselves are in
`bot.hygiene.kinds`; the handler that acts on them is `bot.handlers.hygiene`.
"""
