"""The testing kit: verify in a store's own tests which tags fire, with which values, under which consent.

Installed with `pip install "tag-gateway[testing]"`; see the README's "Testing your store's tags".

  gateway.testing.recorder  VendorRecorder (records, answers offline, assert_fired/assert_silent/report)
  gateway.testing.decode    RecordedRequest, Hit, Event, decode(): what a vendor's server would receive
  gateway.testing.tags      TagMap: which tag of a tag_configs/ folder sent an event; undeclared hosts
  gateway.testing.consent   accept_all, reject_all, choose, withdraw, opt_out, visit_as, context_options
  gateway.testing.browser   find_chromium, launch_chromium, CHROMIUM_ARGS
  gateway.testing.trace     trace_tags, trace: the container's own account of why each tag fired or not
  gateway.pytest_plugin     the pytest plugin (outside this package, so pytest starts without Playwright)
  gateway/testing/stubs/    the vendor-library stand-ins (gtag.js, fbevents.js, TikTok events.js,
                            Pinterest core.js, Snap scevent.min.js)
"""

from gateway.testing.browser import CHROMIUM_ARGS, ChromiumNotFound, find_chromium, launch_chromium
from gateway.testing.consent import (
    GPC_INIT_SCRIPT, accept_all, choose, context_options, earlier_choice, opt_out, region_headers, reject_all,
    visit_as, wait_ready, withdraw,
)
from gateway.testing.decode import Event, Hit, RecordedRequest, decode
from gateway.testing.recorder import VendorRecorder, attached_recorder, new_recorded_context
from gateway.testing.tags import TagMap
from gateway.testing.trace import trace, trace_tags

__all__ = [
    "CHROMIUM_ARGS", "ChromiumNotFound", "find_chromium", "launch_chromium",
    "GPC_INIT_SCRIPT", "accept_all", "choose", "context_options", "earlier_choice", "opt_out", "region_headers",
    "reject_all",
    "visit_as",
    "wait_ready", "withdraw",
    "Event", "Hit", "RecordedRequest", "decode",
    "VendorRecorder", "attached_recorder", "new_recorded_context",
    "TagMap",
    "trace", "trace_tags",
]
