# Put on PYTHONPATH by bench/gateway_process.py for the "write turned off" servers only. Python imports
# sitecustomize at the start of every process, so the switches also reach worker processes started with
# `spawn` (which would not inherit a patch made in the parent). Each acts only when its variable is set:
# TAG_GATEWAY_CONSENT_LOG=discard (bench/discard_log.py), TAG_GATEWAY_OUTBOX=discard (bench/discard_outbox.py),
# TAG_GATEWAY_DELIVERY=paused (bench/paused_delivery.py).
from bench import discard_log, discard_outbox, paused_delivery

discard_log.install()
discard_outbox.install()
paused_delivery.install()
