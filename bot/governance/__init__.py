"""The manual's protections: exclusion of a reported member, danger triage, decisions.

Pure policy (`naming`, `quorum`, `proposals`) sits beside the small services that
record it and send the mail it calls for (`exclusion`, `danger`).
"""
