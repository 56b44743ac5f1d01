"""Program reports: the ledger's entries and lots folded into running totals (per day and
per earning-month cohort), and what finance reads from them: the liability roll-forward
and breakage."""
