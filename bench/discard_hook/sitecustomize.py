# Put on PYTHONPATH by bench/gateway_process.py for the "write turned off" server only. Python imports
# sitecustomize at the start of every process, so the switch also reaches worker processes started with
# `spawn` (which would not inherit a patch made in the parent).
from bench.discard_log import install

install()
