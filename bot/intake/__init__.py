"""Ways raw mail arrives: IMAP, a local Maildir, or an import of mbox/Maildir."""
