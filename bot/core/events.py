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
    # Governance: exclusion, danger triage, decisions, feedback
    MEMBER_NAMED = "member_named"  # a new report names a member: shut out until confirmed
    MEMBER_MENTIONED = "member_mentioned"  # later mail from outside names a member: chairs told
    EXCLUSION_REQUESTED = "exclusion_requested"  # a member asked to exclude another (needs more)
    EXCLUDED = "excluded"  # a member was excluded from the case (shut out of everything)
    EXCLUSION_LIFTED = "exclusion_lifted"  # #readmit: the report was not about the member
    EXCLUSION_CONFIRM_ASKED = "exclusion_confirm_asked"  # chairs/members asked to #exclude
    BOARD_REFERRAL = "board_referral"  # every chair is shut out: members told to go to the board
    DANGER_DETECTED = "danger_detected"  # danger phrases were found in a mail of the case
    URGENT_NOTICE_MERGED = "urgent_notice_merged"  # over the hourly cap: goes in a summary mail
    URGENT_SUMMARY_SENT = "urgent_summary_sent"  # a merged urgent notice went out in a summary
    ONFILE_SUGGESTED = "onfile_suggested"  # a local representative says action was taken
    PROPOSAL_OPENED = "proposal_opened"  # a member proposed a resolution
    VOTE_CAST = "vote_cast"  # a member agreed, objected or abstained
    TALLY = "tally"  # the votes counted after a vote
    PROPOSAL_AGREED = "proposal_agreed"  # a proposal reached the manual's quorum
    PROPOSAL_TO_BOARD = "proposal_to_board"  # no quorum in decision_days: chairs told
    PROPOSAL_WITHDRAWN = "proposal_withdrawn"  # a newer proposal replaced an open one
    DECISION_HELD = "decision_held"  # #consequence/#resolve held: no agreed proposal/feedback
    FEEDBACK_RECORDED = "feedback_recorded"  # feedback from affected parties was noted
    # Drafts, letters and notes to the reporter (reviewed outbound mail)
    DRAFT_FILED = "draft_filed"  # a member filed a #draft; data: recipients, finding kinds
    DRAFT_REVISED = "draft_revised"  # a draft was sent back for revision (#revise)
    DRAFT_APPROVED = "draft_approved"  # a second member approved a draft (override reason if any)
    DRAFT_APPROVAL_REFUSED = "draft_approval_refused"  # an #approve was refused (reason in data)
    DRAFT_SENT = "draft_sent"  # an approved draft was queued to its recipients
    WITNESS_RECORDED = "witness_recorded"  # a witness's name/address, for the identity checks
    NEUTRAL_LANGUAGE_SET = "neutral_language_set"  # gendered pronouns are flagged in drafts
    LETTER_SCAFFOLD_SENT = "letter_scaffold_sent"  # a #letter skeleton went to its author
    REPORTER_CONTACT_NOTE = "reporter_contact_note"  # the reporter was told who their contact is
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
    # Backups
    RESTORED = "restored"  # the records were restored from a backup (no case)
    MAIL_HELD_AT_RESTORE = "mail_held_at_restore"  # queued at backup time; may have gone out
    # Roster
    MEMBER_JOINED = "member_joined"  # a member was added to the roster
    MEMBER_CHANGED = "member_changed"  # a member's role or name changed
    MEMBER_LEFT = "member_left"  # a member left the roster
    # Records (people, outcomes, export, statistics, retention, onboarding)
    PERSON_RECORDED = "person_recorded"  # a reported person was recorded (code name only)
    REPEAT_PERSON_NOTICE = "repeat_person_notice"  # chairs told a person has earlier records
    RECORD_TYPE_SET = "record_type_set"  # a person's record type (the manual's five) was set
    SUSPENDED = "suspended"  # a person was suspended (dates in data)
    BANNED = "banned"  # a person was banned permanently
    READMISSION_DUE = "readmission_due"  # a short suspension ended: readmission reminder sent
    DOCUMENTS_SET = "documents_set"  # the Documents link was recorded
    SPACE_SET = "space_set"  # where it happened was recorded
    TYPES_SET = "types_set"  # the kinds of behaviour were recorded
    RECORDS_SENT = "records_sent"  # a member was mailed the records export
    RECORDS_IMPORTED = "records_imported"  # the group's spreadsheet rows were imported
    IDENTITY_KEY_ROTATED = "identity_key_rotated"  # identities were re-encrypted with a new key
    PURGED = "purged"  # a case's details were purged under the retention policy
    RETENTION_DUE = "retention_due"  # chairs were reminded that cases passed retention
    ONBOARDING_SENT = "onboarding_sent"  # a new member was sent the code-name list
    CONFLICT_STATEMENT = "conflict_statement"  # a member declared their conflicts (or none)
    # Hostile mail (security)
    OUTBOX_QUARANTINED = "outbox_quarantined"  # a rendered mail failed the header check; not sent
    POSSIBLE_LINK = "possible_link"  # a stranger's mail cited ids of another case; not merged
    OWN_ID_IMPERSONATED = "own_id_impersonated"  # a mail carried one of our ids but not our content
    CONTENT_REPLAYED = "content_replayed"  # signed content seen before under another Message-ID
