"""The catalogue of event kinds: every entry a case's history can hold.

Events are the append-only history of cases (and, with no case, of the bot).
Each kind is named here once with a one-line meaning, so a typo is a type
error rather than an event nobody reads.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """One kind of history entry; the value is what the database stores."""

    # Filing
    CASE_OPENED = "case_opened"  # a new report opened this case
    MESSAGE_FILED = "message_filed"  # a message was filed into the case
    SENT_COPY_FILED = "sent_copy_filed"  # the bot's own mail came back and was filed
    ORIGINAL_AFTER_FORWARD = "original_after_forward"  # original arrived after a member's forward
    DUPLICATE_MESSAGE_ID = "duplicate_message_id"  # a known Message-ID came again, other bytes
    REPLY_TO_BOT_MAIL = "reply_to_bot_mail"  # a reply to case-less bot mail (digest), no case
    QUARANTINED = "quarantined"  # a message was kept aside instead of filed
    CASE_MERGED = "case_merged"  # another case was merged into this one
    MERGED_INTO = "merged_into"  # this case was merged into another
    # Acknowledgements and urgent notices
    ACKNOWLEDGEMENT_QUEUED = "acknowledgement_queued"  # the reporter's acknowledgement is queued
    ACKNOWLEDGEMENT_SUPPRESSED = "acknowledgement_suppressed"  # a rule stopped the acknowledgement
    ON_FILE_ACKNOWLEDGED = "on_file_acknowledged"  # the manual's "kept on file" text was sent
    URGENT_NOTICE_QUEUED = "urgent_notice_queued"  # members were told of possible danger
    # Commands
    COMMANDS_PROCESSED = "commands_processed"  # an authenticated member's commands ran
    COMMAND_REFUSED = "command_refused"  # a command was refused (reason in data)
    COMMAND_HELD = "command_held"  # commands from unauthenticated mail were held
    COMMAND_HELD_NOTICE_SUPPRESSED = "command_held_notice_suppressed"  # held-notice rate limit
    COMMANDS_VISIBLE_WARNING = "commands_visible_warning"  # tags were visible to outsiders
    RESOLVED = "resolved"  # the case was resolved
    REOPENED = "reopened"  # the case was reopened
    RECUSED = "recused"  # a member recused themselves
    NOTE = "note"  # a member's note
    POINT_OF_CONTACT_SET = "point_of_contact_set"  # the point of contact was named
    POINT_OF_CONTACT_CLEARED = "point_of_contact_cleared"  # the point of contact was cleared
    REVIEW_DATE_SET = "review_date_set"  # a review date was set
    REVIEW_DATE_CLEARED = "review_date_cleared"  # the review date was cleared
    UNILATERAL_ACTION = "unilateral_action"  # a member acted alone in an emergency
    REPORTER_USERNAME = "reporter_username"  # a reporter's username, for the leak check
    SAFETY_RISK_SET = "safety_risk_set"  # Safety Risk was recorded
    ONGOING_HARASSMENT_SET = "ongoing_harassment_set"  # Ongoing Harassment was recorded
    CONSEQUENCES_SET = "consequences_set"  # Consequences were recorded
    # Hygiene
    HYGIENE_PROBLEM = "hygiene_problem"  # a thread-hygiene rule found a problem
    HYGIENE_WARNING = "hygiene_warning"  # someone was warned about a hygiene problem
    # Clocks
    REMINDER_SENT = "reminder_sent"  # a reminder went out
    REMINDER_CLEARED = "reminder_cleared"  # the condition a reminder waited on was met
    # Outbound mail
    MAIL_QUEUED = "mail_queued"  # a mail was put in the outbox
    MAIL_SENT = "mail_sent"  # the SMTP server accepted a mail
    MAIL_REFUSED = "mail_refused"  # the SMTP server refused some recipients
    MAIL_FAILED = "mail_failed"  # a mail failed for good
    OUTBOX_RETRY = "outbox_retry"  # an operator re-queued a failed mail
    # Roster
    MEMBER_JOINED = "member_joined"  # a member was added to the roster
    MEMBER_CHANGED = "member_changed"  # a member's role or name changed
    MEMBER_LEFT = "member_left"  # a member left the roster
    # Hostile mail (security)
    OUTBOX_QUARANTINED = "outbox_quarantined"  # a rendered mail failed the header check; not sent
    POSSIBLE_LINK = "possible_link"  # a stranger's mail cited ids of another case; not merged
    OWN_ID_IMPERSONATED = "own_id_impersonated"  # a mail carried one of our ids but not our content
    CONTENT_REPLAYED = "content_replayed"  # signed content seen before under another Message-ID
