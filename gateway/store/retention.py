"""How long consent records are kept: DEFAULT_RETENTION_DAYS = 1095 (3 years).

Why 3 years: a record is the proof that a visitor consented (GDPR Art. 7(1)), so it
must outlive the choice it proves. A choice lasts at most 13 months here (the
configuration refuses longer lifetimes; 6 months is the default), and a complaint
or claim about processing done under it can come later: the regular limitation
period for civil claims is 3 years in several EU states (e.g. Germany, BGB §195),
and the CCPA regulations ask for records of consumer requests to be kept for at
least 24 months (CPRA regs §7101). Three years after the decision covers the
longest choice plus about two years to answer a regulator or a court; keeping
records longer would keep personal data (IP prefix, user agent) without need
(GDPR Art. 5(1)(e)).

Nothing is deleted by itself: run ``gateway consents purge`` (default: this
retention) from cron, or ``--older-than DAYS`` for another period.
"""

from __future__ import annotations

DEFAULT_RETENTION_DAYS = 3 * 365
