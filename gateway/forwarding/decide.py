"""May this server-side event go to its vendor? The container's own rule, applied by the gateway.

One pure function, so every case is tested without HTTP: the visitor's verified choice if there is one,
else the default of the region the trusted headers put them in (gateway/visitor.py), under the
configuration as it is NOW (a category removed or a vendor switched off since counts at once):

- a valid choice allows the tag when its category is allowed and, with per-vendor choice, its vendor
  was not refused;
- without one (none sent, forged, expired, another site's, an older policy), an opt-out region allows
  everything but the sale/sharing categories under Global Privacy Control; an opt-in region allows
  nothing but `necessary`;
- an event refused because the visitor opted out of sale/sharing in an opt-out region goes out in the
  vendor's restricted mode (Meta Limited Data Use) when the owner chose `opt_out_mode: restricted` and the
  vendor has one; otherwise, like every other refusal, it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.consent import NECESSARY, Consent
from gateway.forwarding.settings import RESTRICTED_MODES
from gateway.regions import OPT_OUT

ACCEPT, RESTRICTED, DROP = "accept", "restricted", "drop"


@dataclass(frozen=True)
class Verdict:
    outcome: str       # ACCEPT, RESTRICTED or DROP
    reason: str = ""   # why, for a drop: "consent"


def decide(*, category: str, vendor: str, vendor_key: str, consent: Consent | None, rule: str, gpc: bool,
           sale_categories: tuple[str, ...], opt_out_mode: str) -> Verdict:
    """`rule`: the region's rule now (OPT_IN / OPT_OUT); `gpc`: Global Privacy Control sent with the event."""
    if category == NECESSARY:
        return Verdict(ACCEPT)
    sale = category in sale_categories
    if consent is not None:
        refused = consent.vendors_refused or ()
        if category in consent.categories and vendor_key not in refused:
            return Verdict(ACCEPT)
        # An opt-out (of sale/sharing, in an opt-out region) is the only refusal a restricted mode answers.
        opted_out = sale and OPT_OUT in (consent.rule, rule)
    elif rule == OPT_OUT:
        if not (gpc and sale):
            return Verdict(ACCEPT)
        opted_out = True
    else:
        return Verdict(DROP, "consent")
    if opted_out and opt_out_mode == "restricted" and vendor in RESTRICTED_MODES:
        return Verdict(RESTRICTED)
    return Verdict(DROP, "consent")
